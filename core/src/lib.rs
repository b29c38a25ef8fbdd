//! # sipwire-core
//!
//! The sans-IO, `no_std`, allocation-bounded protocol core of sipwire, a SIP (RFC 3261) stack.
//!
//! The core never does I/O, never reads a clock and never allocates (unless the `alloc`
//! feature is on). It consumes bytes and produces bytes and events; adapters do the real I/O.
//!
//! Today the crate holds the syntax and encoding layer (RFC 3261 §7, §19, §20, §25):
//! [`message`] parses requests and responses zero-copy into caller-provided header slots,
//! gives typed, lazily parsed views of the headers, writes messages into caller buffers, and
//! maps malformed input to the status code RFC 3261 and RFC 4475 call for.
//!
//! ```
//! use sipwire_core::message::{Header, Parser, Status};
//!
//! let bytes = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
//! Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\n\
//! From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
//! Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n";
//! let mut slots = [Header::EMPTY; 16];
//! let Status::Complete(msg) = Parser::datagram().parse(bytes, &mut slots)? else {
//!     unreachable!("a whole datagram is never partial")
//! };
//! assert_eq!(msg.method(), Some("OPTIONS"));
//! assert_eq!(msg.top_via()?.unwrap().branch(), Some("z9hG4bK776asdhds"));
//! # Ok::<(), sipwire_core::message::ParseError>(())
//! ```
#![no_std]
// One `unsafe` block in the whole core, `message::lex::ascii` (a `str` view of bytes checked to
// be ASCII); everything else is safe code, which this lint holds.
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod bytes;
pub mod dialog;
pub mod dns;
pub mod endpoint;
pub mod message;
pub mod proxy;
pub mod rand;
pub mod redirect;
pub mod registrar;
pub mod sdp;
pub mod storage;
pub mod time;
pub mod transaction;
pub mod transport;
pub mod ua;
