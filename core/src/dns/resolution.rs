//! RFC 3263 §4 for one SIP URI, as a state machine: it asks for one record set at a time
//! ([`Resolution::query`]), takes the answer ([`Resolution::answer`]), and ends with the
//! ordered [`Target`]s that §4.3 failover walks ([`Resolution::next_target`]).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::order::{order_naptr, order_srv, MAX_RECORDS};
use super::query::{DnsQuery, QueryKind};
use super::records::Answer;
use super::{DnsError, Families, Name, Transports, MAX_HOST};
use crate::message::{Host, Scheme, Uri};
use crate::rand::Rng;
use crate::transport::Transport;

/// How many targets a [`Resolution`] keeps by default.
pub const TARGETS: usize = 8;

/// How many NAPTR services (or, without NAPTR, transports) a [`Resolution`] looks up SRV
/// records for (one per SIP service RFC 3263 §4.1 defines).
pub const MAX_SERVICES: usize = 4;

/// One place to send a request: an address, its port, and the transport (RFC 3263 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The server's address and port.
    pub addr: SocketAddr,
    /// The transport to reach it with.
    pub transport: Transport,
}

impl Target {
    const EMPTY: Target = Target {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        transport: Transport::Udp,
    };
}

/// What RFC 3263 §4 reads from a SIP URI: the TARGET (the `maddr` parameter if present,
/// else the host), the port, the `transport` parameter, and whether the scheme is `sips`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetUri<'a> {
    /// The host to resolve (or an address: no DNS at all).
    pub host: Host<'a>,
    /// The port, if the URI gives one.
    pub port: Option<u16>,
    /// The `transport` parameter, if any (for `sips`, `tcp` means TLS).
    pub transport: Option<Transport>,
    /// A `sips` URI: only TLS will do (RFC 3263 §4.1).
    pub secure: bool,
}

impl<'a> TargetUri<'a> {
    /// The TARGET, port, transport and security of a `sip` or `sips` URI (RFC 3263 §4.1:
    /// `maddr` wins over the host). An unknown `transport` value is
    /// [`DnsError::NoTransport`].
    pub fn from_uri(uri: &Uri<'a>) -> Result<TargetUri<'a>, DnsError> {
        let secure = match uri.scheme() {
            Scheme::Sip => false,
            Scheme::Sips => true,
            _ => return Err(DnsError::BadTarget),
        };
        let host = match uri.maddr() {
            // The crate's own literal parser, not `core::net`'s (flash on a small device).
            Some(m) => match crate::message::ip::parse_ip(m.as_bytes()) {
                Some(IpAddr::V4(a)) => Host::Ipv4(a),
                Some(IpAddr::V6(a)) => Host::Ipv6(a),
                None => Host::Name(m),
            },
            None => uri.host().ok_or(DnsError::BadTarget)?,
        };
        let transport = match uri.transport() {
            Some(t) => Some(Transport::from_token(t).ok_or(DnsError::NoTransport)?),
            None => None,
        };
        Ok(TargetUri {
            host,
            port: uri.port(),
            transport,
            secure,
        })
    }
}

/// A name to look up SRV records for, and the transport its servers speak.
#[derive(Clone, Copy, Debug)]
struct Service {
    transport: Transport,
    name: Name,
}

/// A host to look up addresses for, from an SRV record (or the URI), with its port and
/// transport.
#[derive(Clone, Copy, Debug)]
struct Server {
    name: Name,
    port: u16,
    transport: Transport,
}

/// Where the resolution stands: the query it waits for, or done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Naptr,
    Srv { service: usize },
    Address { server: usize, kind: QueryKind },
    Done,
}

/// RFC 3263 §4 for one SIP URI, in fixed storage, keeping up to `N` targets.
///
/// 1. A numeric address is the target (port default 5060, 5061 for TLS).
/// 2. A port in the URI: A/AAAA of the host only (§4.2).
/// 3. A transport but no port: SRV for that transport (§4.1, §4.2).
/// 4. Neither: NAPTR (§4.1), keeping the SIP services the client supports (only SIPS for
///    `sips`), by order and preference, then SRV for each; no usable NAPTR: SRV for each
///    supported transport (§4.1's last part).
/// 5. SRV records, by RFC 2782's order, name the hosts; no SRV records at all: the host
///    itself at the transport's default port (§4.2).
/// 6. A then AAAA (per [`Families`]) of each host give the targets, in that order.
///
/// A failed lookup is skipped like an empty one (a failed NAPTR lookup leads to the SRV
/// lookups). Queries are asked one at a time; each has an id, starting at the `first_id`
/// given to [`new`](Self::new) and counting up (at most `1 + MAX_SERVICES + 2·N` of them).
#[derive(Clone, Debug)]
pub struct Resolution<const N: usize = TARGETS> {
    domain: Name,
    secure: bool,
    supported: Transports,
    families: Families,
    /// The transport (and its default port) when no SRV record is found (§4.1, §4.2).
    fallback: Transport,
    phase: Phase,
    query_id: u32,
    services: [Service; MAX_SERVICES],
    services_len: usize,
    srv_found: bool,
    servers: [Server; N],
    servers_len: usize,
    targets: [Target; N],
    targets_len: usize,
    next: usize,
}

/// The transports in the order a client prefers them when the URI says nothing: UDP for
/// `sip`, TLS (over TCP) for `sips` (RFC 3263 §4.1).
const PREFERENCE: [Transport; 4] = [
    Transport::Udp,
    Transport::Tcp,
    Transport::Tls,
    Transport::Sctp,
];

/// The SRV name prefix for a transport (RFC 3263 §4.1: `_sips` for TLS, `_sip` otherwise);
/// none for the WebSocket transports, which have no SRV names.
fn srv_prefix(t: Transport) -> Option<&'static str> {
    match t {
        Transport::Udp => Some("_sip._udp."),
        Transport::Tcp => Some("_sip._tcp."),
        Transport::Tls => Some("_sips._tcp."),
        Transport::Sctp => Some("_sip._sctp."),
        Transport::Ws | Transport::Wss => None,
    }
}

impl<const N: usize> Default for Resolution<N> {
    fn default() -> Self {
        Self::IDLE
    }
}

impl<const N: usize> Resolution<N> {
    /// A resolution that resolves nothing (a free slot in a table of them): no query, no
    /// targets, until [`start`](Self::start).
    pub const IDLE: Self = Resolution {
        domain: Name::EMPTY,
        secure: false,
        supported: Transports::NONE,
        families: Families::V4,
        fallback: Transport::Udp,
        phase: Phase::Idle,
        query_id: 0,
        services: [Service {
            transport: Transport::Udp,
            name: Name::EMPTY,
        }; MAX_SERVICES],
        services_len: 0,
        srv_found: false,
        servers: [Server {
            name: Name::EMPTY,
            port: 0,
            transport: Transport::Udp,
        }; N],
        servers_len: 0,
        targets: [Target::EMPTY; N],
        targets_len: 0,
        next: 0,
    };

    /// Starts resolving `target` for a client that can use the `supported` transports and
    /// the address `families`; the first query gets id `first_id`. A numeric host is done
    /// at once.
    pub fn new(
        target: &TargetUri<'_>,
        supported: Transports,
        families: Families,
        first_id: u32,
    ) -> Result<Self, DnsError> {
        let mut r = Self::IDLE;
        r.start(target, supported, families, first_id)?;
        Ok(r)
    }

    /// [`new`](Self::new) in place (no resolution-sized temporary: for a slot in a table
    /// on a small stack). On an error the resolution is [idle](Self::is_idle).
    pub fn start(
        &mut self,
        target: &TargetUri<'_>,
        supported: Transports,
        families: Families,
        first_id: u32,
    ) -> Result<(), DnsError> {
        self.clear();
        let r = self.start_inner(target, supported, families, first_id);
        if r.is_err() {
            self.clear();
        }
        r
    }

    /// Back to [idle](Self::IDLE): the slot is free.
    pub fn clear(&mut self) {
        self.phase = Phase::Idle;
        self.domain = Name::EMPTY;
        self.services_len = 0;
        self.servers_len = 0;
        self.targets_len = 0;
        self.next = 0;
        self.srv_found = false;
    }

    /// Whether the resolution is idle: never started, or [cleared](Self::clear).
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    fn start_inner(
        &mut self,
        target: &TargetUri<'_>,
        supported: Transports,
        families: Families,
        first_id: u32,
    ) -> Result<(), DnsError> {
        // §4.1: the transport the URI names (for sips, TCP means TLS), or the default.
        let given = match (target.transport, target.secure) {
            (None, _) => None,
            (Some(Transport::Tcp | Transport::Tls), true) => Some(Transport::Tls),
            (Some(Transport::Wss), true) => Some(Transport::Wss),
            (Some(_), true) => return Err(DnsError::NoTransport),
            (Some(t), false) => Some(t),
        };
        if given.is_some_and(|t| !supported.contains(t)) {
            return Err(DnsError::NoTransport);
        }
        let fallback = match given {
            Some(t) => t,
            None => PREFERENCE
                .into_iter()
                .filter(|&t| !target.secure || t == Transport::Tls)
                .find(|&t| supported.contains(t))
                .ok_or(DnsError::NoTransport)?,
        };
        self.secure = target.secure;
        self.supported = supported;
        self.families = families;
        self.fallback = fallback;
        self.query_id = first_id;
        self.phase = Phase::Done;
        let name = match target.host {
            // §4.1, §4.2: a numeric address needs no DNS.
            Host::Ipv4(a) => {
                let port = target.port.unwrap_or(fallback.default_port());
                self.push_target(IpAddr::V4(a), port, fallback);
                return Ok(());
            }
            Host::Ipv6(a) => {
                let port = target.port.unwrap_or(fallback.default_port());
                self.push_target(IpAddr::V6(a), port, fallback);
                return Ok(());
            }
            Host::Name(n) => n,
        };
        if name.len() > MAX_HOST {
            return Err(DnsError::NameTooLong);
        }
        self.domain = Name::new(&[name]).ok_or(DnsError::NameTooLong)?;
        match (target.port, given) {
            // §4.2: a port in the URI means A/AAAA of the host, nothing else.
            (Some(port), _) => {
                self.push_server(self.domain, port, fallback);
                self.start_addresses();
            }
            // §4.1: a transport but no port: SRV for that transport.
            (None, Some(t)) => match srv_prefix(t) {
                Some(prefix) => {
                    self.push_service(t, prefix);
                    self.phase = Phase::Srv { service: 0 };
                }
                None => {
                    self.push_server(self.domain, t.default_port(), t);
                    self.start_addresses();
                }
            },
            // §4.1: neither: NAPTR first.
            (None, None) => self.phase = Phase::Naptr,
        }
        Ok(())
    }

    /// The query the resolution waits for, if any (the same until it is answered).
    pub fn query(&self) -> Option<DnsQuery> {
        let (kind, name) = match self.phase {
            Phase::Naptr => (QueryKind::Naptr, self.domain),
            Phase::Srv { service } => (QueryKind::Srv, self.services.get(service)?.name),
            Phase::Address { server, kind } => (kind, self.servers.get(server)?.name),
            Phase::Done | Phase::Idle => return None,
        };
        Some(DnsQuery {
            id: self.query_id,
            kind,
            name,
        })
    }

    /// Whether `id` names the query the resolution waits for.
    pub fn awaits(&self, id: u32) -> bool {
        !matches!(self.phase, Phase::Done | Phase::Idle) && id == self.query_id
    }

    /// The answer to query `id`. Records of another type than asked count as a failed
    /// lookup; `rng` orders SRV records of equal priority (RFC 2782). An answer to any
    /// other query is refused ([`DnsError::UnexpectedAnswer`]) and changes nothing.
    pub fn answer(&mut self, id: u32, answer: Answer<'_>, rng: &mut Rng) -> Result<(), DnsError> {
        if !self.awaits(id) {
            return Err(DnsError::UnexpectedAnswer);
        }
        self.query_id = self.query_id.wrapping_add(1);
        match (self.phase, answer) {
            (Phase::Naptr, answer) => {
                if let Answer::Naptr(records) = answer {
                    self.take_naptr(records);
                }
                if self.services_len == 0 {
                    // §4.1: no (usable) NAPTR records: SRV for each supported transport.
                    for t in PREFERENCE {
                        let usable = if self.secure {
                            t == Transport::Tls
                        } else {
                            true
                        };
                        if usable && self.supported.contains(t) {
                            if let Some(prefix) = srv_prefix(t) {
                                self.push_service(t, prefix);
                            }
                        }
                    }
                }
                self.next_service(0);
            }
            (Phase::Srv { service }, answer) => {
                if let Answer::Srv(records) = answer {
                    // Even records that all say "." count as found: the service is
                    // decidedly not there (RFC 2782), so no A/AAAA fallback.
                    self.srv_found |= !records.is_empty();
                    let transport = self.services[service].transport;
                    let mut order = [0u8; MAX_RECORDS];
                    let n = order_srv(records, rng, &mut order);
                    for &i in &order[..n] {
                        let r = &records[usize::from(i)];
                        // `order_srv` only returns records whose target makes a name.
                        if let Some(name) = Name::new(&[r.target]) {
                            self.push_server(name, r.port, transport);
                        }
                    }
                }
                self.next_service(service + 1);
            }
            (Phase::Address { server, kind }, answer) => {
                if let Answer::Addresses(ips) = answer {
                    let s = self.servers[server];
                    for &ip in ips {
                        let family_ok = match ip {
                            IpAddr::V4(_) => self.families != Families::V6,
                            IpAddr::V6(_) => self.families != Families::V4,
                        };
                        if family_ok {
                            self.push_target(ip, s.port, s.transport);
                        }
                    }
                }
                self.next_address(server, kind);
            }
            (Phase::Done | Phase::Idle, _) => {}
        }
        Ok(())
    }

    /// Whether no more queries are needed: the targets are all known.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Every target found so far, in the order to try them.
    pub fn targets(&self) -> &[Target] {
        &self.targets[..self.targets_len]
    }

    /// The next target to try (RFC 3263 §4.3: after a timeout or a 503, the next one); `None`
    /// when they have all been tried.
    pub fn next_target(&mut self) -> Option<Target> {
        let t = self.targets().get(self.next).copied()?;
        self.next += 1;
        Some(t)
    }

    /// The targets not tried yet.
    pub fn remaining(&self) -> usize {
        self.targets_len - self.next
    }

    /// Keeps the usable NAPTR services, best first (RFC 3263 §4.1).
    fn take_naptr(&mut self, records: &[super::NaptrRecord<'_>]) {
        let mut order = [0u8; MAX_RECORDS];
        let n = order_naptr(records, self.secure, self.supported, &mut order);
        for &i in &order[..n] {
            let r = &records[usize::from(i)];
            let (Some((transport, _)), Some(name)) = (r.service(), Name::new(&[r.replacement]))
            else {
                continue;
            };
            if self.services_len == 0 {
                // §4.2: "the transport protocol determined previously" if SRV finds nothing.
                self.fallback = transport;
            }
            if let Some(s) = self.services.get_mut(self.services_len) {
                *s = Service { transport, name };
                self.services_len += 1;
            }
        }
    }

    fn push_service(&mut self, transport: Transport, prefix: &str) {
        let Some(name) = Name::new(&[prefix, self.domain.as_str()]) else {
            return;
        };
        if let Some(s) = self.services.get_mut(self.services_len) {
            *s = Service { transport, name };
            self.services_len += 1;
        }
    }

    fn push_server(&mut self, name: Name, port: u16, transport: Transport) {
        if let Some(s) = self.servers.get_mut(self.servers_len) {
            *s = Server {
                name,
                port,
                transport,
            };
            self.servers_len += 1;
        }
    }

    fn push_target(&mut self, ip: IpAddr, port: u16, transport: Transport) {
        let t = Target {
            addr: SocketAddr::new(ip, port),
            transport,
        };
        if self.targets().contains(&t) {
            return;
        }
        if let Some(slot) = self.targets.get_mut(self.targets_len) {
            *slot = t;
            self.targets_len += 1;
        }
    }

    /// SRV for service `i`, or, after the last, the address lookups (§4.2: with the host
    /// itself at the default port when no SRV records were found).
    fn next_service(&mut self, i: usize) {
        if i < self.services_len {
            self.phase = Phase::Srv { service: i };
            return;
        }
        if !self.srv_found {
            self.push_server(self.domain, self.fallback.default_port(), self.fallback);
        }
        self.start_addresses();
    }

    fn first_kind(&self) -> QueryKind {
        match self.families {
            Families::V6 => QueryKind::Aaaa,
            Families::V4 | Families::Both => QueryKind::A,
        }
    }

    fn start_addresses(&mut self) {
        self.phase = if self.servers_len == 0 || self.targets_len == N {
            Phase::Done
        } else {
            Phase::Address {
                server: 0,
                kind: self.first_kind(),
            }
        };
    }

    fn next_address(&mut self, server: usize, kind: QueryKind) {
        self.phase = if self.targets_len == N {
            // Room for no more: the rest would never be tried.
            Phase::Done
        } else if kind == QueryKind::A && self.families == Families::Both {
            Phase::Address {
                server,
                kind: QueryKind::Aaaa,
            }
        } else if server + 1 < self.servers_len {
            Phase::Address {
                server: server + 1,
                kind: self.first_kind(),
            }
        } else {
            Phase::Done
        };
    }
}

#[cfg(test)]
mod tests;
