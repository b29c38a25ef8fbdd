//! RFC 3263 DNS: the core's [`DnsQuery`]s (NAPTR, SRV, A, AAAA) answered with
//! hickory-resolver (async, on a tokio runtime: the server's resolver thread runs a small
//! one, sipwire-tokio re-exports this module as `sipwire_tokio::dns`), and a whole
//! [`Resolution`] run to its ordered [`Target`]s for callers outside the user agent.
//!
//! The core decides what to ask and in what order to try the answers (RFC 3263 §4, RFC 2782);
//! this module only does the lookups:
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use sipwire_core::dns::{Families, Transports};
//! use sipwire_core::rand::Rng;
//! use sipwire_mio::dns::Dns;
//!
//! let dns = Dns::system()?;
//! let mut rng = Rng::new(1);
//! let targets = dns
//!     .resolve("sip:bob@example.com", Transports::UDP, Families::V4, &mut rng)
//!     .await?;
//! for t in targets {
//!     println!("{} over {}", t.addr, t.transport);
//! }
//! # Ok(()) }
//! ```
//!
//! In the user agent and the proxy, each `Resolve` query
//! ([`UaEvent::Resolve`](sipwire_core::ua::UaEvent::Resolve),
//! [`ProxyEvent::Resolve`](sipwire_core::proxy::ProxyEvent::Resolve)) is answered with
//! [`Dns::lookup`] and [`RecordSet::with_answer`]:
//!
//! ```ignore
//! let records = dns.lookup(&query).await;
//! records.with_answer(|answer| ua.dns_answer(now, query.id, answer));
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use sipwire_core::dns::{
    Answer, DnsError, DnsQuery, Families, NaptrRecord, QueryKind, Resolution, SrvRecord, Target,
    TargetUri, Transports, TARGETS,
};
use sipwire_core::message::Uri;
use sipwire_core::rand::Rng;

/// A NAPTR record owned (the core's [`NaptrRecord`] borrows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NaptrRecordBuf {
    /// Lower first.
    pub order: u16,
    /// Lower first within an order.
    pub preference: u16,
    /// `s` for SIP's records.
    pub flags: String,
    /// `SIP+D2U`, `SIPS+D2T` ...
    pub services: String,
    /// Empty for SIP's records.
    pub regexp: String,
    /// The SRV name to look up next.
    pub replacement: String,
}

impl NaptrRecordBuf {
    /// The borrowed view the core reads.
    pub fn as_record(&self) -> NaptrRecord<'_> {
        NaptrRecord {
            order: self.order,
            preference: self.preference,
            flags: &self.flags,
            services: &self.services,
            regexp: &self.regexp,
            replacement: &self.replacement,
        }
    }
}

/// An SRV record owned (the core's [`SrvRecord`] borrows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecordBuf {
    /// Lower first.
    pub priority: u16,
    /// Share within a priority.
    pub weight: u16,
    /// The server's port.
    pub port: u16,
    /// The server's host name (`.`: not available).
    pub target: String,
}

impl SrvRecordBuf {
    /// The borrowed view the core reads.
    pub fn as_record(&self) -> SrvRecord<'_> {
        SrvRecord {
            priority: self.priority,
            weight: self.weight,
            port: self.port,
            target: &self.target,
        }
    }
}

/// What one lookup found, owned: hand it to the core with [`with_answer`](Self::with_answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordSet {
    /// NAPTR records.
    Naptr(Vec<NaptrRecordBuf>),
    /// SRV records.
    Srv(Vec<SrvRecordBuf>),
    /// A or AAAA addresses.
    Addresses(Vec<IpAddr>),
    /// No records of that type, or no such name (NXDOMAIN).
    NoRecords,
    /// The lookup failed (timeout, server failure, a name hickory refuses).
    Failed,
}

impl RecordSet {
    /// Calls `f` with the core's borrowed [`Answer`] for these records (an empty set is
    /// [`Answer::NoRecords`]).
    pub fn with_answer<R>(&self, f: impl FnOnce(Answer<'_>) -> R) -> R {
        match self {
            RecordSet::Naptr(v) if !v.is_empty() => {
                let records: Vec<NaptrRecord<'_>> = v.iter().map(|r| r.as_record()).collect();
                f(Answer::Naptr(&records))
            }
            RecordSet::Srv(v) if !v.is_empty() => {
                let records: Vec<SrvRecord<'_>> = v.iter().map(|r| r.as_record()).collect();
                f(Answer::Srv(&records))
            }
            RecordSet::Addresses(v) if !v.is_empty() => f(Answer::Addresses(v)),
            RecordSet::Failed => f(Answer::Failed),
            _ => f(Answer::NoRecords),
        }
    }
}

/// How long a lookup waits for a configured name server ([`Dns::from_servers`]).
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(2);

/// A DNS client for RFC 3263: the system's resolver configuration, or given name servers.
#[derive(Clone, Debug)]
pub struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    /// A client with the system's configuration (`/etc/resolv.conf` on Unix).
    pub fn system() -> Result<Dns, ResolveError> {
        Ok(Dns {
            resolver: TokioResolver::builder_tokio()?.build(),
        })
    }

    /// A client asking only `servers` over UDP, each lookup giving up after `timeout`
    /// (one attempt): for tests against a local server, or a fixed resolver.
    pub fn with_name_servers(servers: &[SocketAddr], timeout: Duration) -> Dns {
        let mut config = ResolverConfig::new();
        for &s in servers {
            config.add_name_server(NameServerConfig::new(s, Protocol::Udp));
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        // Names from SIP URIs are absolute: no search list.
        opts.ndots = 0;
        // Hosts files are not DNS: RFC 3263 asks the DNS.
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        let resolver =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                .with_options(opts)
                .build();
        Dns { resolver }
    }

    /// A client asking `servers` ([`with_name_servers`](Self::with_name_servers), each
    /// lookup giving up after [`SERVER_TIMEOUT`]), or with the system's configuration when
    /// the list is empty ([`system`](Self::system)).
    pub fn from_servers(servers: &[SocketAddr]) -> Result<Dns, ResolveError> {
        if servers.is_empty() {
            Dns::system()
        } else {
            Ok(Dns::with_name_servers(servers, SERVER_TIMEOUT))
        }
    }

    /// A client over a resolver the caller configured.
    pub fn from_resolver(resolver: TokioResolver) -> Dns {
        Dns { resolver }
    }

    /// Looks up what `query` asks for. NXDOMAIN or no records of the type is
    /// [`RecordSet::NoRecords`]; any other error (timeout, SERVFAIL, a malformed name) is
    /// [`RecordSet::Failed`]. Records of other types in the answer (a CNAME on the way) are
    /// left out.
    pub async fn lookup(&self, query: &DnsQuery) -> RecordSet {
        let kind = match query.kind {
            QueryKind::Naptr => RecordType::NAPTR,
            QueryKind::Srv => RecordType::SRV,
            QueryKind::A => RecordType::A,
            QueryKind::Aaaa => RecordType::AAAA,
        };
        // The names of RFC 3263 are absolute: look them up as such, never with a search
        // domain appended.
        let name = query.name();
        let fqdn = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        let lookup = match self.resolver.lookup(fqdn.as_str(), kind).await {
            Ok(l) => l,
            Err(e) if e.is_no_records_found() => return RecordSet::NoRecords,
            Err(e) => {
                tracing::debug!(name = %fqdn, kind = query.kind.as_str(), error = %e, "DNS lookup failed");
                return RecordSet::Failed;
            }
        };
        let records = lookup.iter();
        match query.kind {
            QueryKind::Naptr => RecordSet::Naptr(
                records
                    .filter_map(|r| match r {
                        RData::NAPTR(n) => Some(NaptrRecordBuf {
                            order: n.order(),
                            preference: n.preference(),
                            flags: String::from_utf8_lossy(n.flags()).into_owned(),
                            services: String::from_utf8_lossy(n.services()).into_owned(),
                            regexp: String::from_utf8_lossy(n.regexp()).into_owned(),
                            replacement: n.replacement().to_ascii(),
                        }),
                        _ => None,
                    })
                    .collect(),
            ),
            QueryKind::Srv => RecordSet::Srv(
                records
                    .filter_map(|r| match r {
                        RData::SRV(s) => Some(SrvRecordBuf {
                            priority: s.priority(),
                            weight: s.weight(),
                            port: s.port(),
                            target: s.target().to_ascii(),
                        }),
                        _ => None,
                    })
                    .collect(),
            ),
            QueryKind::A | QueryKind::Aaaa => RecordSet::Addresses(
                records
                    .filter_map(|r| match r {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    /// Runs a whole [`Resolution`] (RFC 3263 §4) for a started `resolution`: asks each query
    /// in turn and feeds the answer back until it is done.
    pub async fn run<const N: usize>(&self, resolution: &mut Resolution<N>, rng: &mut Rng) {
        // A resolution asks at most 1 + MAX_SERVICES + 2·N queries; the bound is a guard.
        for _ in 0..(8 + 2 * N) {
            let Some(query) = resolution.query() else {
                return;
            };
            let records = self.lookup(&query).await;
            // The id is the one asked, so the answer is taken.
            let _ = records.with_answer(|a| resolution.answer(query.id, a, rng));
        }
    }

    /// The targets for a SIP URI, in the order to try them (RFC 3263 §4; up to
    /// [`TARGETS`]), for a client with these transports and address families. An empty
    /// list: the name has no usable server.
    pub async fn resolve(
        &self,
        uri: &str,
        supported: Transports,
        families: Families,
        rng: &mut Rng,
    ) -> Result<Vec<Target>, DnsError> {
        let uri = Uri::parse(uri.as_bytes()).map_err(|_| DnsError::BadTarget)?;
        let target = TargetUri::from_uri(&uri)?;
        let mut resolution: Box<Resolution<TARGETS>> = Box::default();
        resolution.start(&target, supported, families, 1)?;
        self.run(&mut resolution, rng).await;
        Ok(resolution.targets().to_vec())
    }
}
