//! What the core asks of DNS: a [`DnsQuery`] (one record type for one name, RFC 3263 §4)
//! or, on the proxy's simple path, a [`ResolveQuery`] (a host's address).

use super::{Name, MAX_HOST};
use crate::transport::Transport;

/// The record type a [`DnsQuery`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// NAPTR (RFC 3403): which transports a domain offers, and their SRV names
    /// (RFC 3263 §4.1).
    Naptr,
    /// SRV (RFC 2782): the servers of one service and transport (RFC 3263 §4.2).
    Srv,
    /// A: IPv4 addresses.
    A,
    /// AAAA (RFC 3596): IPv6 addresses.
    Aaaa,
}

impl QueryKind {
    /// The record type's mnemonic, as in a zone file.
    pub const fn as_str(self) -> &'static str {
        match self {
            QueryKind::Naptr => "NAPTR",
            QueryKind::Srv => "SRV",
            QueryKind::A => "A",
            QueryKind::Aaaa => "AAAA",
        }
    }
}

/// One DNS lookup the core waits for: records of `kind` for `name`. The application answers
/// it with an [`Answer`](super::Answer) carrying the same `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsQuery {
    /// Names the query in the answer.
    pub id: u32,
    /// The record type.
    pub kind: QueryKind,
    /// The domain name to look up.
    pub name: Name,
}

impl DnsQuery {
    /// The domain name to look up, as text.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }
}

/// A name to resolve to an address (A/AAAA): the proxy's simple path, which does not run
/// the NAPTR and SRV steps of RFC 3263 §4 (a [`Resolution`](super::Resolution) does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolveQuery {
    /// Names the query in the answer.
    pub id: u32,
    host: [u8; MAX_HOST],
    len: u8,
    /// The port from the URI, if any.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_query_bounds() {
        let q = ResolveQuery::new(3, "biloxi.example.com", Some(5070), Transport::Udp).unwrap();
        assert_eq!(q.host(), "biloxi.example.com");
        assert_eq!(q.port, Some(5070));
        let long = [b'a'; MAX_HOST + 1];
        let long = core::str::from_utf8(&long).unwrap();
        assert!(ResolveQuery::new(1, long, None, Transport::Udp).is_none());
        assert!(ResolveQuery::new(1, &long[..MAX_HOST], None, Transport::Udp).is_some());
    }

    #[test]
    fn kinds() {
        for (k, s) in [
            (QueryKind::Naptr, "NAPTR"),
            (QueryKind::Srv, "SRV"),
            (QueryKind::A, "A"),
            (QueryKind::Aaaa, "AAAA"),
        ] {
            assert_eq!(k.as_str(), s);
        }
    }
}
