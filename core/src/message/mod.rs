//! The syntax and encoding layer (RFC 3261 §7, §19, §20, §25).
//!
//! - [`Parser`] splits a request or response into its start line, headers (into slots the
//!   caller provides) and body, framed by Content-Length (§18.3).
//! - [`Uri`] parses SIP, SIPS, tel and other absolute URIs and compares them (§19.1.4).
//! - [`headers`] holds typed views (Via, name-addr, CSeq, ...) parsed on demand from a
//!   header's raw value, so a proxy pays only for what it reads.
//! - [`Writer`] and the builders emit messages into a caller buffer (§8.1.1, §8.2.6).
//! - [`validate`] maps malformed requests to the status code to answer.

pub mod builder;
mod error;
mod header;
pub mod headers;
pub(crate) mod ip;
pub mod lex;
mod params;
mod parser;
pub mod uri;
pub mod validate;
mod view;
mod writer;

pub use error::ParseError;
pub use header::{Header, HeaderName};
pub use params::{Param, ParamIter, Params};
pub use parser::{Framing, Head, Message, Parser, StartLine, Status, Version, DEFAULT_MAX_SIZE};
pub use uri::{Host, Scheme, Uri, UriError};
pub use writer::{WriteError, Writer};
