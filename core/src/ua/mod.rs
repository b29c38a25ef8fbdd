//! The user agent (§8, §10, §12–15).

pub mod register;
