//! sipwire on tokio: an async SIP user agent over the sans-IO core.
//!
//! - [`UserAgent`]: register with a registrar (kept refreshed), place calls, receive them,
//!   hold and resume with re-INVITEs, hang up, send OPTIONS; each call reports ringing,
//!   early media, the answer with the negotiated codec, and its end.
//! - [`server::Server`]: the proxy / registrar `sipwire serve` runs, on tokio.
//!
//! The core does the protocol (RFC 3261 transactions, dialogs, offer/answer per RFC 3264);
//! this crate does the sockets (UDP and TCP), the clock, the DNS lookups ([`dns`], RFC 3263
//! with hickory-resolver) and the waiting.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
pub mod dns;
pub mod media;
pub mod server;
mod tcp;
mod ua;

pub use media::{Media, MediaConfig};
pub use server::Server;
pub use sipwire_core::sdp::{Codec, Direction};
pub use sipwire_core::transport::Transport;
pub use sipwire_core::ua::register::RegistrationEvent;
pub use sipwire_core::ua::{CallId, EndReason};
pub use sipwire_mio::{Mode, ServerConfig};
pub use ua::{
    Call, CallEvent, Config, Error, IncomingCall, IncomingCalls, Offer, Registration, Status,
    UserAgent,
};
