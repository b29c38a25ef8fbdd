//! RFC 3263 DNS on tokio: the hickory-resolver lookups of sipwire-mio's
//! [`dns`](sipwire_mio::dns) module (shared with the server's resolver thread), re-exported.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use sipwire_core::dns::{Families, Transports};
//! use sipwire_core::rand::Rng;
//! use sipwire_tokio::dns::Dns;
//!
//! let dns = Dns::system()?;
//! let targets = dns
//!     .resolve("sip:bob@example.com", Transports::UDP, Families::V4, &mut Rng::new(1))
//!     .await?;
//! # Ok(()) }
//! ```

pub use sipwire_mio::dns::*;
