//! Table tests: each case is a URI, the client's transports, a little zone, and the
//! queries and targets RFC 3263 §4 gives.

extern crate std;

use std::vec::Vec;

use super::*;
use crate::dns::{NaptrRecord, SrvRecord};

const ALL: Transports = Transports::UDP
    .with(Transport::Tcp)
    .with(Transport::Tls)
    .with(Transport::Sctp);

fn naptr(
    order: u16,
    pref: u16,
    services: &'static str,
    repl: &'static str,
) -> NaptrRecord<'static> {
    NaptrRecord {
        order,
        preference: pref,
        flags: "s",
        services,
        regexp: "",
        replacement: repl,
    }
}

fn srv(priority: u16, weight: u16, port: u16, target: &'static str) -> SrvRecord<'static> {
    SrvRecord {
        priority,
        weight,
        port,
        target,
    }
}

/// A zone: what each (kind, name) answers; anything else has no records.
#[derive(Default)]
struct Zone {
    naptr: Vec<(&'static str, Vec<NaptrRecord<'static>>)>,
    srv: Vec<(&'static str, Vec<SrvRecord<'static>>)>,
    addr: Vec<(&'static str, Vec<IpAddr>)>,
    failing: Vec<&'static str>,
}

impl Zone {
    fn naptr(mut self, name: &'static str, r: &[NaptrRecord<'static>]) -> Self {
        self.naptr.push((name, r.to_vec()));
        self
    }
    fn srv(mut self, name: &'static str, r: &[SrvRecord<'static>]) -> Self {
        self.srv.push((name, r.to_vec()));
        self
    }
    fn addr(mut self, name: &'static str, ips: &[&str]) -> Self {
        self.addr
            .push((name, ips.iter().map(|s| s.parse().unwrap()).collect()));
        self
    }
    fn failing(mut self, name: &'static str) -> Self {
        self.failing.push(name);
        self
    }

    /// Runs `r` against the zone: the queries asked (`KIND name`) and the targets.
    fn run<const N: usize>(&self, r: &mut Resolution<N>, seed: u64) -> Vec<std::string::String> {
        let mut rng = Rng::new(seed);
        let mut asked = Vec::new();
        for _ in 0..100 {
            let Some(q) = r.query() else { break };
            asked.push(std::format!("{} {}", q.kind.as_str(), q.name()));
            let v4: Vec<IpAddr>;
            let answer = if self.failing.contains(&q.name()) {
                Answer::Failed
            } else {
                match q.kind {
                    QueryKind::Naptr => self
                        .naptr
                        .iter()
                        .find(|(n, _)| *n == q.name())
                        .map_or(Answer::NoRecords, |(_, r)| Answer::Naptr(r)),
                    QueryKind::Srv => self
                        .srv
                        .iter()
                        .find(|(n, _)| *n == q.name())
                        .map_or(Answer::NoRecords, |(_, r)| Answer::Srv(r)),
                    QueryKind::A | QueryKind::Aaaa => {
                        let want_v4 = q.kind == QueryKind::A;
                        v4 = self
                            .addr
                            .iter()
                            .filter(|(n, _)| *n == q.name())
                            .flat_map(|(_, ips)| ips.iter().copied())
                            .filter(|ip| ip.is_ipv4() == want_v4)
                            .collect();
                        if v4.is_empty() {
                            Answer::NoRecords
                        } else {
                            Answer::Addresses(&v4)
                        }
                    }
                }
            };
            r.answer(q.id, answer, &mut rng).unwrap();
        }
        assert!(r.is_done());
        asked
    }
}

fn t(addr: &str, transport: Transport) -> Target {
    Target {
        addr: addr.parse().unwrap(),
        transport,
    }
}

fn resolve(
    uri: &str,
    supported: Transports,
    families: Families,
    zone: &Zone,
) -> (Vec<std::string::String>, Vec<Target>) {
    let u = Uri::parse(uri.as_bytes()).unwrap();
    let mut r: Resolution =
        Resolution::new(&TargetUri::from_uri(&u).unwrap(), supported, families, 100).unwrap();
    let asked = zone.run(&mut r, 1);
    let mut targets = Vec::new();
    while let Some(t) = r.next_target() {
        targets.push(t);
    }
    assert_eq!(r.remaining(), 0);
    (asked, targets)
}

fn example_zone() -> Zone {
    Zone::default()
        .naptr(
            "example.test",
            &[
                naptr(20, 10, "SIP+D2U", "_sip._udp.example.test"),
                naptr(10, 10, "SIP+D2T", "_sip._tcp.example.test"),
                naptr(10, 20, "SIPS+D2T", "_sips._tcp.example.test"),
            ],
        )
        .srv(
            "_sip._udp.example.test",
            &[
                srv(20, 0, 5070, "b.example.test"),
                srv(10, 0, 5060, "a.example.test"),
            ],
        )
        .srv(
            "_sip._tcp.example.test",
            &[srv(0, 0, 5080, "a.example.test")],
        )
        .srv(
            "_sips._tcp.example.test",
            &[srv(0, 0, 5061, "a.example.test")],
        )
        .addr("a.example.test", &["192.0.2.1", "2001:db8::1"])
        .addr("b.example.test", &["192.0.2.2"])
        .addr("plain.test", &["192.0.2.9"])
}

#[test]
#[cfg(feature = "ipv6")] // IPv6 literals
fn numeric_hosts_need_no_dns() {
    let zone = Zone::default();
    for (uri, supported, want) in [
        ("sip:192.0.2.5", ALL, t("192.0.2.5:5060", Transport::Udp)),
        (
            "sip:192.0.2.5:5070",
            ALL,
            t("192.0.2.5:5070", Transport::Udp),
        ),
        ("sips:192.0.2.5", ALL, t("192.0.2.5:5061", Transport::Tls)),
        (
            "sip:192.0.2.5;transport=tcp",
            ALL,
            t("192.0.2.5:5060", Transport::Tcp),
        ),
        (
            "sip:192.0.2.5;transport=tls",
            ALL,
            t("192.0.2.5:5061", Transport::Tls),
        ),
        (
            "sip:[2001:db8::5]",
            ALL,
            t("[2001:db8::5]:5060", Transport::Udp),
        ),
        // UDP preferred, but a TCP-only client uses TCP.
        (
            "sip:192.0.2.5",
            Transports::TCP,
            t("192.0.2.5:5060", Transport::Tcp),
        ),
        // maddr wins over the host (RFC 3263 §4.1).
        (
            "sip:bob@example.test;maddr=192.0.2.6",
            ALL,
            t("192.0.2.6:5060", Transport::Udp),
        ),
    ] {
        let (asked, targets) = resolve(uri, supported, Families::Both, &zone);
        assert!(asked.is_empty(), "{uri}: {asked:?}");
        assert_eq!(targets, [want], "{uri}");
    }
}

/// A URI, the client's transports and families, the queries asked, the targets found.
type Case<'a> = (&'a str, Transports, Families, &'a [&'a str], &'a [Target]);

#[test]
fn rfc3263_paths() {
    use Transport::*;
    let zone = example_zone()
        .srv(
            "_sip._udp.srvonly.test",
            &[srv(1, 0, 5090, "a.example.test")],
        )
        .srv(
            "_sip._tcp.srvonly.test",
            &[srv(1, 0, 5091, "b.example.test")],
        )
        .srv("_sip._udp.dead.test", &[srv(0, 0, 0, ".")])
        .naptr(
            "foreign.test",
            &[naptr(1, 1, "SIP+D2S", "_sip._sctp.foreign.test")],
        )
        .addr("foreign.test", &["192.0.2.40"])
        .failing("broken.test")
        .addr("broken.test", &["192.0.2.50"]);
    let cases: &[Case<'_>] = &[
        // NAPTR by order then preference (TCP 10/10, TLS 10/20, UDP 20/10); SRV by priority.
        (
            "sip:bob@example.test",
            ALL,
            Families::V4,
            &[
                "NAPTR example.test",
                "SRV _sip._tcp.example.test",
                "SRV _sips._tcp.example.test",
                "SRV _sip._udp.example.test",
                "A a.example.test",
                "A a.example.test",
                "A a.example.test",
                "A b.example.test",
            ],
            &[
                t("192.0.2.1:5080", Tcp),
                t("192.0.2.1:5061", Tls),
                t("192.0.2.1:5060", Udp),
                t("192.0.2.2:5070", Udp),
            ],
        ),
        // A UDP-only client keeps only the UDP service: priority 10 (a) before 20 (b).
        (
            "sip:bob@example.test",
            Transports::UDP,
            Families::Both,
            &[
                "NAPTR example.test",
                "SRV _sip._udp.example.test",
                "A a.example.test",
                "AAAA a.example.test",
                "A b.example.test",
                "AAAA b.example.test",
            ],
            &[
                t("192.0.2.1:5060", Udp),
                t("[2001:db8::1]:5060", Udp),
                t("192.0.2.2:5070", Udp),
            ],
        ),
        // sips: only SIPS+D2T (RFC 3263 §4.1), TLS.
        (
            "sips:bob@example.test",
            ALL,
            Families::V6,
            &[
                "NAPTR example.test",
                "SRV _sips._tcp.example.test",
                "AAAA a.example.test",
            ],
            &[t("[2001:db8::1]:5061", Tls)],
        ),
        // A transport, no port: SRV for it only (no NAPTR).
        (
            "sip:bob@example.test;transport=tcp",
            ALL,
            Families::V4,
            &["SRV _sip._tcp.example.test", "A a.example.test"],
            &[t("192.0.2.1:5080", Tcp)],
        ),
        // sips with transport=tcp: TLS, _sips._tcp.
        (
            "sips:bob@example.test;transport=tcp",
            ALL,
            Families::V4,
            &["SRV _sips._tcp.example.test", "A a.example.test"],
            &[t("192.0.2.1:5061", Tls)],
        ),
        // A port: A/AAAA only (§4.2), UDP for sip.
        (
            "sip:bob@plain.test:5099",
            ALL,
            Families::V4,
            &["A plain.test"],
            &[t("192.0.2.9:5099", Udp)],
        ),
        // No NAPTR: SRV for each supported transport (§4.1), in the client's order.
        (
            "sip:bob@srvonly.test",
            Transports::UDP.with(Tcp),
            Families::V4,
            &[
                "NAPTR srvonly.test",
                "SRV _sip._udp.srvonly.test",
                "SRV _sip._tcp.srvonly.test",
                "A a.example.test",
                "A b.example.test",
            ],
            &[t("192.0.2.1:5090", Udp), t("192.0.2.2:5091", Tcp)],
        ),
        // No NAPTR, no SRV: A of the host, default port, UDP (§4.2).
        (
            "sip:bob@plain.test",
            Transports::UDP.with(Tcp),
            Families::V4,
            &[
                "NAPTR plain.test",
                "SRV _sip._udp.plain.test",
                "SRV _sip._tcp.plain.test",
                "A plain.test",
            ],
            &[t("192.0.2.9:5060", Udp)],
        ),
        // sips with nothing but an A record: TLS on 5061.
        (
            "sips:bob@plain.test",
            ALL,
            Families::V4,
            &[
                "NAPTR plain.test",
                "SRV _sips._tcp.plain.test",
                "A plain.test",
            ],
            &[t("192.0.2.9:5061", Tls)],
        ),
        // SRV says "." (not available): no A fallback, no targets.
        (
            "sip:bob@dead.test;transport=udp",
            ALL,
            Families::V4,
            &["SRV _sip._udp.dead.test"],
            &[],
        ),
        // NAPTR offers only SCTP, which the client lacks: as if no NAPTR.
        (
            "sip:bob@foreign.test",
            Transports::UDP,
            Families::V4,
            &[
                "NAPTR foreign.test",
                "SRV _sip._udp.foreign.test",
                "A foreign.test",
            ],
            &[t("192.0.2.40:5060", Udp)],
        ),
        // Failed lookups are skipped like empty ones.
        (
            "sip:bob@broken.test",
            Transports::UDP,
            Families::V4,
            &[
                "NAPTR broken.test",
                "SRV _sip._udp.broken.test",
                "A broken.test",
            ],
            &[],
        ),
        // A name with nothing at all.
        (
            "sip:bob@nothing.test",
            Transports::UDP,
            Families::Both,
            &[
                "NAPTR nothing.test",
                "SRV _sip._udp.nothing.test",
                "A nothing.test",
                "AAAA nothing.test",
            ],
            &[],
        ),
    ];
    for (uri, supported, families, queries, targets) in cases {
        let (asked, got) = resolve(uri, *supported, *families, &zone);
        assert_eq!(asked, *queries, "{uri}");
        assert_eq!(got, *targets, "{uri}");
    }
}

#[test]
fn refusals() {
    let u = |s: &'static str| Uri::parse(s.as_bytes()).unwrap();
    let long = std::format!("sip:bob@{}.test", "a".repeat(MAX_HOST));
    let cases: &[(&str, Transports, DnsError)] = &[
        (
            "sips:bob@example.test",
            Transports::UDP.with(Transport::Tcp),
            DnsError::NoTransport,
        ),
        (
            "sips:bob@example.test;transport=udp",
            ALL,
            DnsError::NoTransport,
        ),
        (
            "sip:bob@example.test;transport=tcp",
            Transports::UDP,
            DnsError::NoTransport,
        ),
        (
            "sip:bob@example.test;transport=carrier-pigeon",
            ALL,
            DnsError::NoTransport,
        ),
        ("tel:+15551234", ALL, DnsError::BadTarget),
        (&long, ALL, DnsError::NameTooLong),
    ];
    for (uri, supported, want) in cases {
        let uri = Uri::parse(uri.as_bytes()).unwrap();
        let got = TargetUri::from_uri(&uri)
            .and_then(|t| Resolution::<8>::new(&t, *supported, Families::V4, 1).map(|_| ()));
        assert_eq!(got, Err(*want), "{uri:?}");
    }
    // Answers to other ids, or after the end, change nothing.
    let uri = u("sip:bob@example.test");
    let mut r: Resolution =
        Resolution::new(&TargetUri::from_uri(&uri).unwrap(), ALL, Families::V4, 7).unwrap();
    let mut rng = Rng::new(1);
    assert_eq!(
        r.answer(8, Answer::NoRecords, &mut rng),
        Err(DnsError::UnexpectedAnswer)
    );
    assert_eq!(r.query().unwrap().id, 7);
    assert!(r.awaits(7) && !r.awaits(8));
    r.answer(7, Answer::NoRecords, &mut rng).unwrap();
    assert_eq!(r.query().unwrap().id, 8);
    assert_eq!(
        r.answer(7, Answer::NoRecords, &mut rng),
        Err(DnsError::UnexpectedAnswer)
    );
}

#[test]
fn hostile_answers_are_bounded() {
    // Records of the wrong type, too many records, absurd names and ports: no panic, and
    // never more than N targets.
    let uri = Uri::parse(b"sip:bob@example.test;transport=udp").unwrap();
    let mut r: Resolution<2> =
        Resolution::new(&TargetUri::from_uri(&uri).unwrap(), ALL, Families::Both, 1).unwrap();
    let mut rng = Rng::new(5);
    let q = r.query().unwrap();
    let long: &'static str = std::string::String::leak("x".repeat(300));
    let mut records = std::vec![
        srv(0, 0, 5060, long),
        srv(0, 0, 0, "port0.test"),
        srv(0, 0, 5060, "")
    ];
    records.extend((0..100).map(|i| srv(i, u16::MAX, 5060, "many.test")));
    r.answer(q.id, Answer::Srv(&records), &mut rng).unwrap();
    // Only two servers kept (N = 2): many.test twice.
    let q = r.query().unwrap();
    assert_eq!((q.kind, q.name()), (QueryKind::A, "many.test"));
    // An SRV answer to an A query: a failed lookup.
    r.answer(q.id, Answer::Srv(&records), &mut rng).unwrap();
    let q = r.query().unwrap();
    assert_eq!(q.kind, QueryKind::Aaaa);
    let ips: Vec<IpAddr> = (0..50u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
        .collect();
    r.answer(q.id, Answer::Addresses(&ips), &mut rng).unwrap();
    // Full: done, with two targets.
    assert!(r.is_done());
    assert_eq!(r.targets().len(), 2);

    // N = 0: nothing kept, done at once, never a panic.
    let ip = Uri::parse(b"sip:192.0.2.1").unwrap();
    let r0: Resolution<0> =
        Resolution::new(&TargetUri::from_uri(&ip).unwrap(), ALL, Families::V4, 1).unwrap();
    assert!(r0.is_done() && r0.targets().is_empty());
}

#[test]
fn duplicate_targets_are_tried_once() {
    let zone = Zone::default()
        .srv(
            "_sip._udp.dup.test",
            &[srv(1, 0, 5060, "a.dup.test"), srv(2, 0, 5060, "b.dup.test")],
        )
        .addr("a.dup.test", &["192.0.2.1"])
        .addr("b.dup.test", &["192.0.2.1", "192.0.2.2"]);
    let (_, got) = resolve("sip:dup.test;transport=udp", ALL, Families::V4, &zone);
    assert_eq!(
        got,
        [
            t("192.0.2.1:5060", Transport::Udp),
            t("192.0.2.2:5060", Transport::Udp)
        ]
    );
}

#[test]
fn idle_start_clear() {
    let mut r: Resolution = Resolution::default();
    assert!(r.is_idle() && !r.is_done() && r.query().is_none() && !r.awaits(0));
    let uri = Uri::parse(b"sip:bob@example.test").unwrap();
    let t = TargetUri::from_uri(&uri).unwrap();
    r.start(&t, ALL, Families::V4, 40).unwrap();
    assert!(!r.is_idle() && r.awaits(40));
    // A failed start leaves it idle.
    assert_eq!(
        r.start(&t, Transports::NONE, Families::V4, 41),
        Err(DnsError::NoTransport)
    );
    assert!(r.is_idle() && r.query().is_none());
    r.start(&t, ALL, Families::V4, 50).unwrap();
    r.clear();
    assert!(r.is_idle() && r.targets().is_empty());
}
