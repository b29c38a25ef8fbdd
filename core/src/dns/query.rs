//! What the core asks of DNS: a [`DnsQuery`], one record type for one name (RFC 3263 §4).

use super::Name;

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

#[cfg(test)]
mod tests {
    use super::*;

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
