//! The records an application hands back: borrowed views over its own storage (a resolver's
//! answer, a test table), read once and never kept.

use core::net::IpAddr;

use crate::transport::Transport;

/// A NAPTR record (RFC 3403 §4.1) as RFC 3263 §4.1 reads it: which service a domain
/// offers and the SRV name (`replacement`) where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NaptrRecord<'a> {
    /// Lower first.
    pub order: u16,
    /// Lower first among records of the same order.
    pub preference: u16,
    /// `s` for the records SIP uses: the next lookup is SRV (RFC 3263 §4.1).
    pub flags: &'a str,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, `SIP+D2S` ... (RFC 3263 §4.1).
    pub services: &'a str,
    /// Empty for SIP's records (the replacement says it all).
    pub regexp: &'a str,
    /// The SRV name to look up next (`_sip._udp.example.com`).
    pub replacement: &'a str,
}

impl NaptrRecord<'_> {
    /// The transport and whether it is a SIPS service, for the services RFC 3263 §4.1
    /// defines (compared ignoring case); `None` for any other.
    pub fn service(&self) -> Option<(Transport, bool)> {
        // RFC 3263 §4.1: "SIP+D2U", "SIP+D2T", "SIP+D2S", "SIPS+D2T" (and RFC 4168
        // SCTP); SIPS over SCTP is "SIPS+D2S".
        [
            ("SIP+D2U", Transport::Udp, false),
            ("SIP+D2T", Transport::Tcp, false),
            ("SIP+D2S", Transport::Sctp, false),
            ("SIPS+D2T", Transport::Tls, true),
        ]
        .into_iter()
        .find(|(s, _, _)| s.eq_ignore_ascii_case(self.services))
        .map(|(_, t, secure)| (t, secure))
    }
}

/// An SRV record (RFC 2782): one server of a service, its port and its place in the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SrvRecord<'a> {
    /// Lower first; records of the same priority share the load by weight.
    pub priority: u16,
    /// The relative share within a priority; 0 means "only if no other" (RFC 2782).
    pub weight: u16,
    /// The server's port.
    pub port: u16,
    /// The server's host name; `.` means the service is decidedly not available here.
    pub target: &'a str,
}

impl SrvRecord<'_> {
    /// Whether the record says the service is not available (target `.`, RFC 2782).
    pub fn is_unavailable(&self) -> bool {
        self.target == "."
    }
}

/// What the application found for a [`DnsQuery`](super::DnsQuery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer<'a> {
    /// NAPTR records (for a NAPTR query).
    Naptr(&'a [NaptrRecord<'a>]),
    /// SRV records (for an SRV query).
    Srv(&'a [SrvRecord<'a>]),
    /// Addresses (for an A or AAAA query).
    Addresses(&'a [IpAddr]),
    /// The name exists with no records of that type, or does not exist (NXDOMAIN).
    NoRecords,
    /// The lookup failed (timeout, server failure): the resolution goes on without it.
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services() {
        let r = |services| NaptrRecord {
            order: 0,
            preference: 0,
            flags: "s",
            services,
            regexp: "",
            replacement: "_sip._udp.example.test",
        };
        for (s, want) in [
            ("SIP+D2U", Some((Transport::Udp, false))),
            ("sip+d2t", Some((Transport::Tcp, false))),
            ("SIP+D2S", Some((Transport::Sctp, false))),
            ("SIPS+D2T", Some((Transport::Tls, true))),
            ("SIPS+D2U", None),
            ("E2U+sip", None),
            ("", None),
        ] {
            assert_eq!(r(s).service(), want, "{s}");
        }
        let dot = SrvRecord {
            priority: 0,
            weight: 0,
            port: 5060,
            target: ".",
        };
        assert!(dot.is_unavailable());
    }
}
