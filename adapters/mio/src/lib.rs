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
//! the sockets, events to the element itself, DNS queries to the resolver thread); one poll
//! timeout is armed from the element's next deadline.
//!
//! UDP goes in batches, since the kernel's work per system call is most of a proxy's cost:
//! up to [`ServerConfig::udp_batch`] datagrams are read at once (`recvmmsg` on Linux), and
//! the datagrams the element sends while it handles them are written together after the
//! batch, one `sendmmsg` per socket, in the order sent.

//! # More than one core
//!
//! With [`ServerConfig::workers`] above one, each worker is a thread with its own poll, its
//! own sans-IO element (endpoint, transaction table, proxy contexts) and its own UDP socket
//! on each listen address (`SO_REUSEPORT`, so the kernel spreads datagrams over them);
//! nothing of the SIP state is shared but the location service (behind an `RwLock`:
//! REGISTERs write it, INVITEs read it). A call belongs to the worker its Call-ID hashes
//! to: a worker that reads a message of another's call passes it over a channel and wakes
//! that worker (one wake-up per batch). Every message of a call carries its Call-ID, so
//! transactions, CANCEL, ACK and in-dialog requests all meet their state, whichever socket
//! the kernel chose — also when every message comes from one peer socket, which
//! `SO_REUSEPORT` alone would pin to one worker. Worker 0 holds every TCP connection;
//! other workers hand it what they send over TCP.
//!
//! The cost is a copy and a channel message for the share of messages that land on the
//! wrong worker (half of them with two workers); the gain is that the protocol work — the
//! parsing, matching and building that dominate — runs on every core without locks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod config;
pub mod dns;
pub mod element;
mod location;
mod resolver;
mod server;
mod shard;
mod tcp;
mod udp;

pub use clock::Clock;
pub use config::{ConfigError, Mode, ServerConfig};
pub use location::{MemoryLocation, ServerLocator, SharedLocation};
pub use server::{Server, Stopper, Worker};
