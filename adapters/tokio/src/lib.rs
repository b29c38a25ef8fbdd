//! sipwire on tokio: an async SIP user agent over the sans-IO core.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dns;
