//! SDP (RFC 4566) parsing and writing, and the offer/answer model (RFC 3264), without heap.
//!
//! - [`SessionDescription::parse`] validates a description once and gives zero-copy views:
//!   the `o=`, `s=`, `c=`, `t=` lines, and [`Media`] descriptions read lazily from the text,
//!   with typed attributes ([`RtpMap`], [`Fmtp`], [`Direction`], `ptime`).
//! - [`SdpWriter`] writes a description into a caller buffer, checking each field with the
//!   parser's grammar so that parsing the output gives back what was written.
//! - [`Codec`] describes what the UA supports and how offered formats match it.
//! - [`offer`], [`answer`], [`check_answer`] and [`negotiated`] are RFC 3264 for a UA.
//!
//! # Limits
//!
//! There are no capacities to configure: nothing is stored per media description, format
//! or attribute. The parser makes one pass to validate; the accessors re-read the validated
//! text when asked, so a description may have any number of media descriptions, formats
//! and attributes. The bounds are those of the grammar: ports and port counts fit `u16`,
//! `o=` versions and `t=` times `u64`, payload types 0–127, clock rates `u32`, channels
//! 1–255. [`answer`] uses at most 32 local streams, and [`offer`] numbers at most 32 dynamic
//! codecs per stream (96–127). The only memory is the caller's input and output buffers.
//!
//! ```
//! use sipwire_core::sdp::{self, Direction, LocalMedia, LocalStream, SessionDescription};
//! let alice = LocalMedia { username: "-", session_id: 1, address: "192.0.2.1",
//!     streams: &[LocalStream { media: "audio", port: 4000, direction: Direction::SendRecv,
//!                              ptime: None }] };
//! let bob = LocalMedia { address: "192.0.2.2", session_id: 2, ..alice };
//! let (mut a, mut b) = ([0u8; 512], [0u8; 512]);
//! let offer = SessionDescription::parse(sdp::offer(&alice, &sdp::DEFAULT_CODECS, 1, &mut a)?)?;
//! let answer = sdp::answer(&offer, &[sdp::Codec::PCMA], &bob, 1, &mut b)?;
//! let answer = SessionDescription::parse(answer)?;
//! sdp::check_answer(&offer, &answer)?;
//! let n = sdp::negotiated(&offer, &answer, &sdp::DEFAULT_CODECS).unwrap();
//! assert_eq!((n.codec.name, n.payload_type), ("PCMA", 8));
//! assert_eq!((n.answerer.address, n.answerer.port), ("192.0.2.2", 4000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attr;
pub mod codec;
mod emit;
mod error;
mod line;
mod model;
mod offer_answer;
mod parse;

pub use attr::{Attribute, Direction, Fmtp, RtpMap};
pub use codec::{Codec, DEFAULT_CODECS};
pub use emit::{Format, MediaHeader, SdpWriter, SessionHeader};
pub use error::{EmitError, SdpError, SdpErrorKind};
pub use model::{Connection, Media, MediaIter, Origin, SessionDescription, Timing};
pub use offer_answer::{answer, check_answer, negotiated, offer};
pub use offer_answer::{LocalMedia, LocalStream, Negotiated, OfferAnswerError, RtpEndpoint};

#[cfg(test)]
mod tests;
