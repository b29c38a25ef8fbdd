//! DNS as sans-IO requests (RFC 3263): the core asks for a host's address and waits; the
//! application (or the simulator) resolves it and hands the answer back.

use crate::transport::Transport;

/// The longest host name a query carries.
pub const MAX_HOST: usize = 64;

/// A name to resolve (RFC 3263 §4): the core emits it and waits for the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolveQuery {
    /// Names the query in the answer.
    pub id: u32,
    host: [u8; MAX_HOST],
    len: u8,
    /// The port from the URI, if any (no port: SRV lookup first, RFC 3263 §4.2).
    pub port: Option<u16>,
    /// The transport the request will use.
    pub transport: Transport,
}

impl ResolveQuery {
    /// A query; `None` if the name is longer than [`MAX_HOST`].
    pub fn new(
        id: u32,
        host: &str,
        port: Option<u16>,
        transport: Transport,
    ) -> Option<ResolveQuery> {
        let mut q = ResolveQuery {
            id,
            host: [0; MAX_HOST],
            len: u8::try_from(host.len()).ok()?,
            port,
            transport,
        };
        q.host
            .get_mut(..host.len())?
            .copy_from_slice(host.as_bytes());
        Some(q)
    }

    /// The host name.
    pub fn host(&self) -> &str {
        core::str::from_utf8(&self.host[..usize::from(self.len)]).unwrap_or("")
    }
}
