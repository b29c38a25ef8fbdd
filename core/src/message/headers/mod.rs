//! Typed views of header values (RFC 3261 §20, grammar in §25.1).
//!
//! Each view parses one value (one element of a comma-separated list) on demand from the raw
//! bytes the [`Parser`](super::Parser) stored, borrowing from them. Nothing is parsed until a
//! caller asks, so a proxy that reads the top Via and Max-Forwards pays for nothing else.

mod auth;
mod call_id;
mod content_type;
mod cseq;
mod name_addr;
mod scalar;
mod tokens;
mod via;

pub use auth::{AuthParams, Credentials};
pub use call_id::call_id;
pub use content_type::{MediaRange, MediaType};
pub use cseq::CSeq;
pub use name_addr::{Contact, NameAddr};
pub use scalar::{content_length, delta_seconds, max_forwards, RetryAfter};
pub use tokens::Tokens;
pub use via::Via;
