//! Locating SIP servers (RFC 3263) as sans-IO: the core decides which DNS records to ask
//! for and in what order to try what they name; the application (or the simulator, or the
//! tokio adapter with a real resolver) does the lookups and hands the answers back.
//!
//! - [`Resolution`] runs RFC 3263 §4 for one SIP URI: NAPTR, then SRV, then A/AAAA, and
//!   ends with an ordered list of [`Target`]s (address, port, transport) that failover
//!   walks with [`Resolution::next_target`] (§4.3).
//! - [`DnsQuery`] is one lookup it asks for; [`Answer`] is what the application found
//!   ([`NaptrRecord`]s, [`SrvRecord`]s, addresses, none, or a failure).
//!
//! Nothing here allocates, reads a clock or panics on what DNS returns: too many records,
//! over-long names, zero weights and port 0 are skipped, never trusted.
//!
//! ```
//! use core::net::{IpAddr, Ipv4Addr};
//! use sipwire_core::dns::{Answer, Families, QueryKind, Resolution, SrvRecord, Target,
//!     TargetUri, Transports};
//! use sipwire_core::message::Uri;
//! use sipwire_core::rand::Rng;
//! use sipwire_core::transport::Transport;
//!
//! let uri = Uri::parse(b"sip:bob@example.test;transport=udp").unwrap();
//! let target = TargetUri::from_uri(&uri).unwrap();
//! let mut r: Resolution = Resolution::new(&target, Transports::UDP, Families::V4, 1).unwrap();
//! let mut rng = Rng::new(7);
//! // A transport is given: SRV for it (§4.1), then the A record of its target.
//! let q = r.query().unwrap();
//! assert_eq!((q.kind, q.name()), (QueryKind::Srv, "_sip._udp.example.test"));
//! let srv = [SrvRecord { priority: 10, weight: 0, port: 5070, target: "sip1.example.test" }];
//! r.answer(q.id, Answer::Srv(&srv), &mut rng).unwrap();
//! let q = r.query().unwrap();
//! assert_eq!((q.kind, q.name()), (QueryKind::A, "sip1.example.test"));
//! let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
//! r.answer(q.id, Answer::Addresses(&[ip]), &mut rng).unwrap();
//! assert!(r.is_done());
//! assert_eq!(
//!     r.next_target(),
//!     Some(Target { addr: (ip, 5070).into(), transport: Transport::Udp })
//! );
//! assert_eq!(r.next_target(), None);
//! ```

mod order;
mod query;
mod records;
mod resolution;

pub use order::{order_naptr, order_srv, MAX_RECORDS};
pub use query::{DnsQuery, QueryKind};
pub use records::{Answer, NaptrRecord, SrvRecord};
pub use resolution::{Resolution, Target, TargetUri, MAX_SERVICES, TARGETS};

use crate::transport::Transport;

/// The longest host name a SIP URI may carry into DNS.
pub const MAX_HOST: usize = 64;

/// The longest DNS name the core keeps: a [`MAX_HOST`] host behind the longest SRV prefix
/// (`_sips._sctp.`), or an SRV or NAPTR target that long. Longer names in answers are
/// skipped.
pub const MAX_NAME: usize = MAX_HOST + 12;

/// A domain name in fixed storage (at most [`MAX_NAME`] bytes of printable ASCII).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; MAX_NAME],
    len: u8,
}

impl Name {
    /// The empty name.
    pub const EMPTY: Name = Name {
        bytes: [0; MAX_NAME],
        len: 0,
    };

    /// `parts` one after another; `None` if the result is empty, longer than [`MAX_NAME`],
    /// or holds anything but printable ASCII (a name DNS returned that we cannot use).
    pub fn new(parts: &[&str]) -> Option<Name> {
        let mut n = Name::EMPTY;
        let mut len = 0usize;
        for p in parts {
            let end = len.checked_add(p.len())?;
            n.bytes.get_mut(len..end)?.copy_from_slice(p.as_bytes());
            len = end;
        }
        let name = n.bytes.get(..len)?;
        if len == 0 || !name.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        // `len <= MAX_NAME < 256`, checked by the `get_mut` above.
        n.len = len as u8;
        Some(n)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or(&[]);
        // Only printable ASCII is ever stored (see `new`).
        core::str::from_utf8(b).unwrap_or("")
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The transports a client supports (RFC 3263 §4.1 keeps only the NAPTR services and SRV
/// transports the client can use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Transports(u8);

impl Transports {
    /// None.
    pub const NONE: Transports = Transports(0);
    /// UDP only.
    pub const UDP: Transports = Transports(1 << Transport::Udp as u8);
    /// TCP only.
    pub const TCP: Transports = Transports(1 << Transport::Tcp as u8);
    /// TLS only.
    pub const TLS: Transports = Transports(1 << Transport::Tls as u8);
    /// SCTP only.
    pub const SCTP: Transports = Transports(1 << Transport::Sctp as u8);

    /// Just `t`.
    pub const fn only(t: Transport) -> Transports {
        Transports(1 << t as u8)
    }

    /// This set and `t`.
    pub const fn with(self, t: Transport) -> Transports {
        Transports(self.0 | 1 << t as u8)
    }

    /// Whether `t` is in the set.
    pub const fn contains(self, t: Transport) -> bool {
        self.0 & (1 << t as u8) != 0
    }
}

/// Which address records to look up for a host: A, AAAA or both (A first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Families {
    /// IPv4 only (A).
    V4,
    /// IPv6 only (AAAA).
    V6,
    /// Both: A, then AAAA.
    Both,
}

impl Families {
    /// The family a socket bound to `local` can reach: its own (an unspecified IPv6
    /// address, a dual-stack socket, reaches both).
    pub fn for_local(local: core::net::IpAddr) -> Families {
        match local {
            core::net::IpAddr::V4(_) => Families::V4,
            core::net::IpAddr::V6(a) if a.is_unspecified() => Families::Both,
            core::net::IpAddr::V6(_) => Families::V6,
        }
    }
}

/// Why a [`Resolution`] could not start or refused an answer.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The URI has no host, or is not a `sip`/`sips` URI.
    BadTarget,
    /// The host name is longer than [`MAX_HOST`] or not printable ASCII.
    NameTooLong,
    /// None of the client's transports can reach this URI (a `sips` URI needs TLS, a
    /// `transport` parameter names one the client lacks).
    NoTransport,
    /// An answer to a query the resolution is not waiting for (stale or unknown id).
    UnexpectedAnswer,
}

impl core::fmt::Display for DnsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DnsError::BadTarget => "not a sip or sips URI with a host",
            DnsError::NameTooLong => "host name too long or not ASCII",
            DnsError::NoTransport => "no supported transport reaches the URI",
            DnsError::UnexpectedAnswer => "answer to a query not asked",
        })
    }
}

impl core::error::Error for DnsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            Name::new(&["_sip._udp.", "example.test"]).unwrap().as_str(),
            "_sip._udp.example.test"
        );
        let max = [b'a'; MAX_NAME + 1];
        let max = core::str::from_utf8(&max).unwrap();
        for (parts, ok) in [
            (&[""][..], false),
            (&["a b"][..], false),
            (&["caf\u{e9}"][..], false),
            (&[&max[..MAX_NAME]][..], true),
            (&[max][..], false),
            (&[&max[..MAX_NAME - 1], "ab"][..], false),
        ] {
            assert_eq!(Name::new(parts).is_some(), ok, "{parts:?}");
        }
    }

    #[test]
    fn transport_sets_and_families() {
        let s = Transports::UDP.with(Transport::Tls);
        assert!(s.contains(Transport::Udp) && s.contains(Transport::Tls));
        assert!(!s.contains(Transport::Tcp));
        assert_eq!(Transports::only(Transport::Tcp), Transports::TCP);
        assert!(!Transports::NONE.contains(Transport::Udp));
        assert_eq!(Families::for_local([10, 0, 0, 1].into()), Families::V4);
        assert_eq!(
            Families::for_local(core::net::Ipv6Addr::UNSPECIFIED.into()),
            Families::Both
        );
        assert_eq!(
            Families::for_local(core::net::Ipv6Addr::LOCALHOST.into()),
            Families::V6
        );
    }
}
