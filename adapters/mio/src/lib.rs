//! sipwire over [mio]: the sans-IO core driven by a readiness event loop on real UDP and
//! TCP sockets — the proxy, registrar and redirect server that `sipwire serve` runs.
//!
//! ```no_run
//! use sipwire_mio::{Server, ServerConfig};
//!
//! // UDP and TCP on 127.0.0.1:5060, domain `localhost`, stateful proxy and registrar.
//! let server = Server::bind(&ServerConfig::default())?;
//! let stopper = server.stopper(); // stopper.stop() from another thread ends run()
//! server.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The loop: every readable socket is read until it would block; each datagram or each
//! message framed from a TCP stream is one [`Input::Received`](sipwire_core::endpoint::Input)
//! for the element; after every input the element's output is drained (transmissions to
//! the sockets, events to the element itself, names to the resolver thread); one poll
//! timeout is armed from the element's next deadline.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod config;
pub mod element;
mod location;
mod resolver;
mod server;
mod tcp;

pub use clock::Clock;
pub use config::{ConfigError, Mode, ServerConfig};
pub use location::{MemoryLocation, ServerLocator, SharedLocation};
pub use server::{Server, Stopper, Worker};
