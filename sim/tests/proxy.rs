//! The proxy core (RFC 3261 §16) in the simulator: the atlanta.example.com /
//! biloxi.example.com call of §24 / RFC 3665 §3.8, with and without Record-Route, loops,
//! Max-Forwards, forking, strict routers.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use sipwire_core::dns::{Answer, QueryKind, SrvRecord};
use sipwire_core::endpoint::Config;
use sipwire_core::message::builder::ResponseParts;
use sipwire_core::message::headers::Contact;
use sipwire_core::message::validate::Policy;
use sipwire_core::message::{Header, Parser, Uri};
use sipwire_core::proxy::{Forking, Locator, Proxy, ProxyConfig, ProxyEvent, Target, MAX_BRANCHES};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transport::Transport as SipTransport;
use sipwire_core::ua::{CallId, CallState, EndReason, UaConfig, UaEvent, UserAgent};
use sipwire_sim::{
    start_line_label, Application, LinkConfig, NodeId, ProxyApplication, ProxyNode, ScriptedPeer,
    Sim, TraceKind, Transport, UaNode,
};

const ALICE: &str = "192.0.2.10:5060";
const BOB: &str = "192.0.2.20:5060";
const BOB2: &str = "192.0.2.21:5060";
const ATLANTA: &str = "192.0.2.1:5060";
const BILOXI: &str = "192.0.2.2:5060";

const OFFER: &[u8] = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";
const ANSWER: &[u8] = b"v=0\r\no=bob 2 2 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n";
const HOLD: &[u8] = b"v=0\r\no=alice 1 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=sendonly\r\n";
const HELD: &[u8] = b"v=0\r\no=bob 2 3 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=recvonly\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The location service and DNS table of a test proxy.
#[derive(Default)]
struct TestLocator {
    bindings: BTreeMap<String, Vec<(String, u16)>>,
    dns: BTreeMap<String, SocketAddr>,
    /// SRV records (RFC 2782) by name: (priority, port, target).
    srv: BTreeMap<String, Vec<(u16, u16, String)>>,
    /// Answer names only through `ProxyEvent::Resolve` (sans-IO DNS), not synchronously.
    sans_io_dns: bool,
}

impl Locator for TestLocator {
    fn targets(
        &mut self,
        _now: Instant,
        uri: &Uri<'_>,
        out: &mut [Option<Target>; MAX_BRANCHES],
    ) -> usize {
        let key = format!(
            "sip:{}@{}",
            uri.user().unwrap_or(""),
            uri.host().map(|h| h.to_string()).unwrap_or_default()
        );
        let mut n = 0;
        for (contact, q) in self.bindings.get(&key).into_iter().flatten() {
            if n < MAX_BRANCHES {
                out[n] = Target::new(contact, *q);
                n += 1;
            }
        }
        n
    }

    fn resolve(&mut self, host: &str, _port: Option<u16>, _t: SipTransport) -> Option<SocketAddr> {
        if self.sans_io_dns {
            return None;
        }
        self.dns.get(&host.to_ascii_lowercase()).copied()
    }
}

/// A registrar beside the proxy: stores each Contact for the To AOR and answers 200.
struct Registrar;

impl ProxyApplication<TestLocator> for Registrar {
    fn on_event(
        &mut self,
        now: Instant,
        proxy: &mut Proxy<'static, 'static, TestLocator>,
        e: ProxyEvent,
    ) {
        if let ProxyEvent::Resolve(q) = e {
            // The simulator's DNS: A records and SRV records from the tables, nothing else.
            let name = q.name().to_ascii_lowercase();
            let loc = proxy.locator_mut();
            let ips: Vec<IpAddr> = match q.kind {
                QueryKind::A => loc.dns.get(&name).map(|a| a.ip()).into_iter().collect(),
                _ => Vec::new(),
            };
            let srv_owned = match q.kind {
                QueryKind::Srv => loc.srv.get(&name).cloned().unwrap_or_default(),
                _ => Vec::new(),
            };
            let srv: Vec<SrvRecord<'_>> = srv_owned
                .iter()
                .map(|(priority, port, target)| SrvRecord {
                    priority: *priority,
                    weight: 0,
                    port: *port,
                    target,
                })
                .collect();
            let answer = if !ips.is_empty() {
                Answer::Addresses(&ips)
            } else if !srv.is_empty() {
                Answer::Srv(&srv)
            } else {
                Answer::NoRecords
            };
            proxy.dns_answer(now, q.id, answer);
            return;
        }
        let ProxyEvent::Register { tx } = e else {
            return;
        };
        let bytes = proxy.request_bytes(tx).unwrap().to_vec();
        let mut h = [Header::EMPTY; 32];
        let m = Parser::datagram()
            .parse(&bytes, &mut h)
            .unwrap()
            .complete()
            .unwrap();
        let to = m.to().unwrap();
        let aor = format!(
            "sip:{}@{}",
            to.uri.user().unwrap_or(""),
            to.uri.host().unwrap()
        );
        let mut contacts = Vec::new();
        for c in m.contacts().flatten() {
            if let Contact::Addr(a) = c {
                contacts.push((a.uri.raw().to_string(), a.q().unwrap_or(1000)));
            }
        }
        let entry = proxy.locator_mut().bindings.entry(aor).or_default();
        for c in contacts {
            if !entry.contains(&c) {
                entry.push(c);
            }
        }
        let contact = format!("<{}>;expires=3600", entry[0].0);
        let extra: [(&str, &[u8]); 1] = [("Contact", contact.as_bytes())];
        proxy
            .respond(
                now,
                tx,
                &ResponseParts {
                    to_tag: Some("reg"),
                    extra: &extra,
                    ..ResponseParts::new(200, "OK")
                },
            )
            .unwrap();
    }
}

/// A phone: answers (or rings only, or rejects), accepts re-INVITEs.
struct Phone {
    answer: Option<u16>,
    calls: Vec<CallId>,
}

impl Application for Phone {
    fn on_event(&mut self, now: Instant, ua: &mut UserAgent<'static, 'static>, e: UaEvent) {
        match e {
            UaEvent::IncomingCall { call } => {
                self.calls.push(call);
                ua.ring(now, call).unwrap();
                match self.answer {
                    Some(200) => ua.answer(now, call, ANSWER).unwrap(),
                    Some(code) => ua.reject(now, call, code).unwrap(),
                    None => {}
                }
            }
            UaEvent::Reinvite { call } => ua.accept_reinvite(now, call, HELD).unwrap(),
            // The simulator's DNS for phones: A records from a fixed table, nothing else
            // (so RFC 3263 falls back from NAPTR and SRV to A at the default port).
            UaEvent::Resolve(q) => {
                let ip = match (q.kind, q.name()) {
                    (QueryKind::A, "biloxi.example.com") => Some(addr(BILOXI).ip()),
                    (QueryKind::A, "atlanta.example.com") => Some(addr(ATLANTA).ip()),
                    _ => None,
                };
                let ips: Vec<_> = ip.into_iter().collect();
                let answer = if ips.is_empty() {
                    Answer::NoRecords
                } else {
                    Answer::Addresses(&ips)
                };
                ua.dns_answer(now, q.id, answer);
            }
            _ => {}
        }
    }
}

fn ua(
    user: &'static str,
    domain: &'static str,
    local: &str,
    proxy: Option<&str>,
    answer: Option<u16>,
) -> UaNode<Phone> {
    let cfg = UaConfig {
        local: addr(local),
        transport: SipTransport::Udp,
        user,
        domain,
        display_name: None,
        outbound_proxy: proxy.map(addr),
        policy: Policy {
            methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
            ..Policy::UAS
        },
    };
    let ep = Config {
        seed: local.len() as u64 * 7 + user.len() as u64,
        max_message: 2048,
        ..Config::default()
    };
    UaNode::new(
        cfg,
        ep,
        16,
        2,
        Phone {
            answer,
            calls: vec![],
        },
    )
}

fn proxy(
    local: &str,
    domain: &'static [&'static str],
    rr: bool,
    forking: Forking,
    dns: &[(&str, &str)],
) -> ProxyNode<TestLocator, Registrar> {
    let cfg = ProxyConfig {
        local: addr(local),
        transport: SipTransport::Udp,
        domains: domain,
        record_route: rr,
        forking,
        supported: &[],
        timer_c: Duration::from_secs(180),
    };
    let mut loc = TestLocator::default();
    for (h, a) in dns {
        loc.dns.insert(h.to_string(), addr(a));
    }
    let ep = Config {
        seed: local.len() as u64 + 99,
        max_message: 2048,
        ..Config::default()
    };
    ProxyNode::new(cfg, ep, 64, 16, loc, Registrar)
}

/// A stateless proxy (§16.11): its endpoint makes no transactions.
fn stateless_proxy(
    local: &str,
    domain: &'static [&'static str],
    dns: &[(&str, &str)],
) -> ProxyNode<TestLocator, Registrar> {
    let cfg = ProxyConfig {
        local: addr(local),
        transport: SipTransport::Udp,
        domains: domain,
        record_route: false,
        forking: Forking::Parallel,
        supported: &[],
        timer_c: Duration::from_secs(180),
    };
    let mut loc = TestLocator::default();
    for (h, a) in dns {
        loc.dns.insert(h.to_string(), addr(a));
    }
    let ep = Config {
        seed: 7,
        max_message: 2048,
        stateless: true,
        ..Config::default()
    };
    ProxyNode::new(cfg, ep, 4, 1, loc, Registrar)
}

struct World {
    sim: Sim,
    alice: NodeId,
    atlanta: NodeId,
    biloxi: NodeId,
    bob: NodeId,
}

fn world(seed: u64, loss: f64, rr: bool) -> World {
    let mut sim = Sim::new(seed);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(ATLANTA),
            None,
        )),
    );
    let atlanta = sim.add_node(
        "atlanta",
        Box::new(proxy(
            ATLANTA,
            &["atlanta.example.com"],
            rr,
            Forking::Parallel,
            &[("biloxi.example.com", BILOXI)],
        )),
    );
    let biloxi = sim.add_node(
        "biloxi",
        Box::new(proxy(
            BILOXI,
            &["biloxi.example.com"],
            rr,
            Forking::Parallel,
            &[("atlanta.example.com", ATLANTA)],
        )),
    );
    let bob = sim.add_node(
        "bob",
        Box::new(ua("bob", "biloxi.example.com", BOB, None, Some(200))),
    );
    let link = LinkConfig {
        loss,
        ..LinkConfig::with_latency(Duration::from_millis(10))
    };
    sim.default_link(link);
    sim.set_max_steps(500_000);
    World {
        sim,
        alice,
        atlanta,
        biloxi,
        bob,
    }
}

impl World {
    fn ua(&mut self, id: NodeId) -> &mut UaNode<Phone> {
        self.sim.node_mut::<UaNode<Phone>>(id)
    }

    fn run_for(&mut self, secs: u64) {
        let until = self.sim.now() + Duration::from_secs(secs);
        self.sim.run_until(until).unwrap();
    }

    fn register_bob(&mut self) {
        let now = self.sim.now();
        self.ua(self.bob)
            .command(now, |ua, _| ua.register(now, addr(BILOXI), 3600).unwrap());
        self.run_for(2);
    }

    fn call(&mut self) -> CallId {
        let now = self.sim.now();
        self.ua(self.alice).command(now, |ua, _| {
            ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
                .unwrap()
        })
    }
}

fn flow_since(sim: &Sim, from: usize) -> Vec<String> {
    sim.trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Delivered { duplicate: false }))
        .skip(from)
        .map(|e| {
            format!(
                "{}->{} {}",
                sim.name(e.from),
                e.to.map(|t| sim.name(t)).unwrap_or("?"),
                start_line_label(&sim.packet(e.packet).bytes)
            )
        })
        .collect()
}

/// Compares a run's ladder diagram with the fixture `sim/tests/ladders/NAME.txt`
/// (`UPDATE_LADDERS=1` rewrites it). The ladder is deterministic: same seed, same text.
fn check_ladder(name: &str, ladder: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ladders")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_LADDERS").is_some() || !path.exists() {
        std::fs::write(&path, ladder).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        ladder, want,
        "ladder {name} changed; rerun with UPDATE_LADDERS=1 if intended"
    );
}

fn delivered(sim: &Sim) -> usize {
    sim.trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Delivered { duplicate: false }))
        .count()
}

fn bytes_of(sim: &Sim, label_from: &str, label: &str) -> String {
    sim.trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Delivered { duplicate: false }))
        .filter(|e| sim.name(e.from) == label_from)
        .map(|e| sim.packet(e.packet))
        .find(|p| start_line_label(&p.bytes) == label)
        .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
        .unwrap_or_default()
}

/// The seed's call through two proxies.
fn seed_call(seed: u64, loss: f64, rr: bool) -> World {
    let mut w = world(seed, loss, rr);
    w.register_bob();
    let start = delivered(&w.sim);
    let call = w.call();
    // Under loss the 2xx may need Bob's retransmissions (T1 doubling to T2) over 3 hops.
    for _ in 0..20 {
        w.run_for(2);
        if w.ua(w.alice).ua().state(call) == Some(CallState::Confirmed) {
            break;
        }
    }
    assert_eq!(
        w.ua(w.alice).ua().state(call),
        Some(CallState::Confirmed),
        "seed {seed}"
    );
    assert_eq!(w.ua(w.alice).ua().remote_sdp(call), Some(ANSWER));
    let now = w.sim.now();
    w.ua(w.alice)
        .command(now, |ua, _| ua.reinvite(now, call, HOLD).unwrap());
    // Under loss Bob may still wait for the ACK of the 2xx and answer 491; Alice retries
    // after the §14.1 delay until it goes through.
    for _ in 0..12 {
        w.run_for(5);
        if w.ua(w.alice)
            .events()
            .contains(&UaEvent::ReinviteDone { call, code: 200 })
        {
            break;
        }
    }
    assert!(
        w.ua(w.alice)
            .events()
            .contains(&UaEvent::ReinviteDone { call, code: 200 }),
        "seed {seed}: {:?}\n{:#?}",
        w.ua(w.alice).events(),
        flow_since(&w.sim, start)
    );
    let bc = w.ua(w.bob).app().calls[0];
    let now = w.sim.now();
    w.ua(w.bob)
        .command(now, |ua, _| ua.hangup(now, bc).unwrap());
    w.run_for(40);
    let ended = |evs: Vec<UaEvent>| {
        evs.into_iter()
            .filter_map(|e| {
                if let UaEvent::Ended { reason, .. } = e {
                    Some(reason)
                } else {
                    None
                }
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ended(w.ua(w.alice).events()),
        [EndReason::RemoteBye],
        "seed {seed}"
    );
    assert_eq!(
        ended(w.ua(w.bob).events()),
        [EndReason::LocalBye],
        "seed {seed}"
    );
    let _ = start;
    w
}

#[test]
fn seed_call_through_atlanta_and_biloxi() {
    let mut w = world(1, 0.0, false);
    w.register_bob();
    assert_eq!(
        flow_since(&w.sim, 0),
        ["bob->biloxi REGISTER", "biloxi->bob 200 OK"]
    );
    let start = delivered(&w.sim);
    let call = w.call();
    w.run_for(10);
    assert_eq!(
        flow_since(&w.sim, start),
        [
            "alice->atlanta INVITE",
            "atlanta->alice 100 Trying",
            "atlanta->biloxi INVITE",
            "biloxi->atlanta 100 Trying",
            "biloxi->bob INVITE",
            "bob->biloxi 180 Ringing",
            "bob->biloxi 200 OK",
            "biloxi->atlanta 180 Ringing",
            "biloxi->atlanta 200 OK",
            "atlanta->alice 180 Ringing",
            "atlanta->alice 200 OK",
            "alice->bob ACK",
        ]
    );
    // Each proxy added its Via on the way and removed it on the way back.
    let at_bob = bytes_of(&w.sim, "biloxi", "INVITE");
    assert_eq!(at_bob.matches("\r\nVia: ").count(), 3, "{at_bob}");
    assert!(at_bob.starts_with("INVITE sip:bob@192.0.2.20:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK"), "{at_bob}");
    assert!(at_bob.contains("\r\nMax-Forwards: 68\r\n"), "{at_bob}");
    let at_alice = bytes_of(&w.sim, "atlanta", "200 OK");
    assert_eq!(at_alice.matches("Via: ").count(), 1, "{at_alice}");
    // The re-INVITE and BYE go end to end (no Record-Route).
    let now = w.sim.now();
    let start = delivered(&w.sim);
    w.ua(w.alice)
        .command(now, |ua, _| ua.reinvite(now, call, HOLD).unwrap());
    w.run_for(10);
    let bc = w.ua(w.bob).app().calls[0];
    let now = w.sim.now();
    w.ua(w.bob)
        .command(now, |ua, _| ua.hangup(now, bc).unwrap());
    w.run_for(40);
    assert_eq!(
        flow_since(&w.sim, start),
        [
            "alice->bob INVITE",
            "bob->alice 200 OK",
            "alice->bob ACK",
            "bob->alice BYE",
            "alice->bob 200 OK"
        ]
    );
    for p in [w.atlanta, w.biloxi] {
        let n = w.sim.node::<ProxyNode<TestLocator, Registrar>>(p);
        assert_eq!(n.proxy().contexts_in_use(), 0);
        assert_eq!(n.proxy().endpoint().transactions(), 0);
    }
    check_ladder("seed_call", &w.sim.ladder());
}

#[test]
fn seed_call_with_record_route_on_both_proxies() {
    let mut w = world(2, 0.0, true);
    w.register_bob();
    let start = delivered(&w.sim);
    let call = w.call();
    w.run_for(10);
    assert_eq!(w.ua(w.alice).ua().state(call), Some(CallState::Confirmed));
    let routes: Vec<String> = w
        .ua(w.alice)
        .ua()
        .dialog(call)
        .unwrap()
        .route_set()
        .map(str::to_string)
        .collect();
    assert_eq!(routes, ["sip:192.0.2.1:5060;lr", "sip:192.0.2.2:5060;lr"]);
    let f = flow_since(&w.sim, start);
    assert_eq!(
        &f[f.len() - 3..],
        [
            "alice->atlanta ACK",
            "atlanta->biloxi ACK",
            "biloxi->bob ACK"
        ],
        "{f:?}"
    );
    let now = w.sim.now();
    let start = delivered(&w.sim);
    w.ua(w.alice)
        .command(now, |ua, _| ua.reinvite(now, call, HOLD).unwrap());
    w.run_for(10);
    let bc = w.ua(w.bob).app().calls[0];
    let now = w.sim.now();
    w.ua(w.bob)
        .command(now, |ua, _| ua.hangup(now, bc).unwrap());
    w.run_for(40);
    let f = flow_since(&w.sim, start);
    assert_eq!(
        f,
        [
            "alice->atlanta INVITE",
            "atlanta->alice 100 Trying",
            "atlanta->biloxi INVITE",
            "biloxi->atlanta 100 Trying",
            "biloxi->bob INVITE",
            "bob->biloxi 200 OK",
            "biloxi->atlanta 200 OK",
            "atlanta->alice 200 OK",
            "alice->atlanta ACK",
            "atlanta->biloxi ACK",
            "biloxi->bob ACK",
            "bob->biloxi BYE",
            "biloxi->atlanta BYE",
            "atlanta->alice BYE",
            "alice->atlanta 200 OK",
            "atlanta->biloxi 200 OK",
            "biloxi->bob 200 OK",
        ]
    );
    check_ladder("seed_call_record_route", &w.sim.ladder());
}

#[test]
fn seed_call_under_20_percent_loss() {
    for seed in 10..16 {
        seed_call(seed, 0.20, false);
        seed_call(seed + 100, 0.20, true);
    }
}

#[test]
fn loop_is_482_and_max_forwards_zero_is_483() {
    // atlanta resolves biloxi.example.com to itself: the request comes back with atlanta's
    // own Via and the same loop hash.
    let mut sim = Sim::new(5);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(ATLANTA),
            None,
        )),
    );
    sim.add_node(
        "atlanta",
        Box::new(proxy(
            ATLANTA,
            &["atlanta.example.com"],
            false,
            Forking::Parallel,
            &[("biloxi.example.com", ATLANTA)],
        )),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(Instant::from_millis(5_000)).unwrap();
    let a = sim.node::<UaNode<Phone>>(alice);
    assert!(
        a.events().contains(&UaEvent::Ended {
            call,
            reason: EndReason::Rejected(482)
        }),
        "{:?}",
        a.events()
    );

    let mut sim = Sim::new(6);
    let mut peer = ScriptedPeer::new(addr("192.0.2.30:5060"));
    peer.send_at(
        Instant::ZERO,
        Transport::Udp,
        addr(ATLANTA),
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKmf0\r\n\
Max-Forwards: 0\r\nTo: <sip:bob@biloxi.example.com>\r\nFrom: <sip:c@chicago.example.com>;tag=1\r\n\
Call-ID: mf0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    let p = sim.add_node("carol", Box::new(peer));
    sim.add_node(
        "atlanta",
        Box::new(proxy(
            ATLANTA,
            &["atlanta.example.com"],
            false,
            Forking::Parallel,
            &[],
        )),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.run_until(Instant::from_millis(1_000)).unwrap();
    let got =
        String::from_utf8_lossy(&sim.node::<ScriptedPeer>(p).received()[0].1.bytes).into_owned();
    assert!(got.starts_with("SIP/2.0 483 "), "{got}");
}

fn forking_world(
    seed: u64,
    forking: Forking,
    bob1: Option<u16>,
    bob2: Option<u16>,
    contacts: &[(&str, u16)],
) -> (Sim, NodeId, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(BILOXI),
            None,
        )),
    );
    let biloxi = sim.add_node(
        "biloxi",
        Box::new(proxy(BILOXI, &["biloxi.example.com"], false, forking, &[])),
    );
    let b1 = sim.add_node(
        "bob1",
        Box::new(ua("bob", "biloxi.example.com", BOB, None, bob1)),
    );
    let b2 = sim.add_node(
        "bob2",
        Box::new(ua("bob", "biloxi.example.com", BOB2, None, bob2)),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    // Two registered contacts, as the location service would hold them.
    sim.node_mut::<ProxyNode<TestLocator, Registrar>>(biloxi)
        .proxy_mut()
        .locator_mut()
        .bindings
        .insert(
            "sip:bob@biloxi.example.com".into(),
            contacts.iter().map(|(c, q)| (c.to_string(), *q)).collect(),
        );
    (sim, alice, b1, b2)
}

#[test]
fn parallel_forking_first_200_wins_other_branch_cancelled() {
    let contacts = [
        ("sip:bob@192.0.2.20:5060", 1000),
        ("sip:bob@192.0.2.21:5060", 500),
    ];
    let (mut sim, alice, b1, b2) = forking_world(7, Forking::Parallel, Some(200), None, &contacts);
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(Instant::from_millis(10_000)).unwrap();
    assert_eq!(
        sim.node::<UaNode<Phone>>(alice).ua().state(call),
        Some(CallState::Confirmed)
    );
    let f = flow_since(&sim, 0);
    assert!(f.contains(&"biloxi->bob2 CANCEL".to_string()), "{f:?}");
    assert!(
        f.contains(&"bob2->biloxi 487 Request Terminated".to_string()),
        "{f:?}"
    );
    let e2 = sim.node::<UaNode<Phone>>(b2).events();
    assert!(
        e2.iter().any(|e| matches!(
            e,
            UaEvent::Ended {
                reason: EndReason::Cancelled,
                ..
            }
        )),
        "{e2:?}"
    );
    assert!(sim
        .node::<UaNode<Phone>>(b1)
        .events()
        .iter()
        .any(|e| matches!(e, UaEvent::Confirmed { .. })));
    // Alice saw only the winner's 200 and no 487.
    assert!(
        !f.contains(&"biloxi->alice 487 Request Terminated".to_string()),
        "{f:?}"
    );
    check_ladder("parallel_forking", &sim.ladder());
}

#[test]
fn sequential_forking_tries_the_next_target_after_486() {
    let contacts = [
        ("sip:bob@192.0.2.21:5060", 500),
        ("sip:bob@192.0.2.20:5060", 1000),
    ];
    let (mut sim, alice, _b1, b2) =
        forking_world(8, Forking::Sequential, Some(486), Some(200), &contacts);
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(Instant::from_millis(10_000)).unwrap();
    assert_eq!(
        sim.node::<UaNode<Phone>>(alice).ua().state(call),
        Some(CallState::Confirmed)
    );
    let f = flow_since(&sim, 0);
    let first_b1 = f.iter().position(|x| x == "biloxi->bob1 INVITE").unwrap();
    let busy = f
        .iter()
        .position(|x| x == "bob1->biloxi 486 Busy Here")
        .unwrap();
    let first_b2 = f.iter().position(|x| x == "biloxi->bob2 INVITE").unwrap();
    assert!(
        first_b1 < busy && busy < first_b2,
        "q order, next only after the 486: {f:?}"
    );
    check_ladder("sequential_forking", &sim.ladder());
    assert!(sim
        .node::<UaNode<Phone>>(b2)
        .events()
        .iter()
        .any(|e| matches!(e, UaEvent::Confirmed { .. })));
}

#[test]
fn strict_router_before_us() {
    // The previous hop was a strict router: it put our URI in the Request-URI and the real
    // target last in Route (§16.4). atlanta must restore it and forward to biloxi.
    let mut sim = Sim::new(9);
    let mut peer = ScriptedPeer::new(addr("192.0.2.30:5060"));
    peer.send_at(
        Instant::ZERO,
        Transport::Udp,
        addr(ATLANTA),
        "OPTIONS sip:192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKstrict\r\n\
Max-Forwards: 70\r\nRoute: <sip:bob@biloxi.example.com>\r\nTo: <sip:bob@biloxi.example.com>\r\n\
From: <sip:c@chicago.example.com>;tag=1\r\nCall-ID: strict1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    sim.add_node("carol", Box::new(peer));
    sim.add_node(
        "atlanta",
        Box::new(proxy(
            ATLANTA,
            &["atlanta.example.com"],
            false,
            Forking::Parallel,
            &[("biloxi.example.com", BILOXI)],
        )),
    );
    let b = sim.add_node("biloxi", Box::new(ScriptedPeer::new(addr(BILOXI))));
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.run_until(Instant::from_millis(100)).unwrap();
    let got =
        String::from_utf8_lossy(&sim.node::<ScriptedPeer>(b).received()[0].1.bytes).into_owned();
    assert!(
        got.starts_with("OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"),
        "{got}"
    );
    assert!(
        !got.contains("\r\nRoute:"),
        "the consumed Route is gone: {got}"
    );
}

#[test]
fn seed_call_with_a_stateless_atlanta() {
    let mut sim = Sim::new(21);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(ATLANTA),
            None,
        )),
    );
    let atlanta = sim.add_node(
        "atlanta",
        Box::new(stateless_proxy(
            ATLANTA,
            &["atlanta.example.com"],
            &[("biloxi.example.com", BILOXI)],
        )),
    );
    let biloxi = sim.add_node(
        "biloxi",
        Box::new(proxy(
            BILOXI,
            &["biloxi.example.com"],
            false,
            Forking::Parallel,
            &[],
        )),
    );
    let bob = sim.add_node(
        "bob",
        Box::new(ua("bob", "biloxi.example.com", BOB, None, Some(200))),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let now = sim.now();
    sim.node_mut::<UaNode<Phone>>(bob)
        .command(now, |ua, _| ua.register(now, addr(BILOXI), 3600).unwrap());
    sim.run_until(Instant::from_millis(2_000)).unwrap();
    let start = delivered(&sim);
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(now + Duration::from_secs(10)).unwrap();
    assert_eq!(
        sim.node::<UaNode<Phone>>(alice).ua().state(call),
        Some(CallState::Confirmed)
    );
    // No 100 Trying from the stateless atlanta; responses pass through it by Via.
    assert_eq!(
        flow_since(&sim, start),
        [
            "alice->atlanta INVITE",
            "atlanta->biloxi INVITE",
            "biloxi->atlanta 100 Trying",
            "biloxi->bob INVITE",
            "atlanta->alice 100 Trying",
            "bob->biloxi 180 Ringing",
            "bob->biloxi 200 OK",
            "biloxi->atlanta 180 Ringing",
            "biloxi->atlanta 200 OK",
            "atlanta->alice 180 Ringing",
            "atlanta->alice 200 OK",
            "alice->bob ACK",
        ]
    );
    let n = sim.node::<ProxyNode<TestLocator, Registrar>>(atlanta);
    assert_eq!(
        n.proxy().endpoint().transactions(),
        0,
        "a stateless proxy keeps no transaction"
    );
    let _ = biloxi;
    check_ladder("stateless_atlanta", &sim.ladder());
}

/// biloxi.example.com as a redirect server (§8.3) with the real registrar and location
/// service: Bob registers, Alice's INVITE through atlanta gets 302 with Bob's contact,
/// atlanta passes it back, and Alice follows it (§8.1.3.4) straight to Bob's address.
struct RedirectBiloxi {
    registrar: sipwire_core::registrar::Registrar<'static>,
    redirect: sipwire_core::redirect::RedirectServer<'static>,
    store: sipwire_core::registrar::BindingStore<'static>,
}

impl sipwire_sim::TransactionUser for RedirectBiloxi {
    fn on_event(
        &mut self,
        now: Instant,
        ep: &mut sipwire_core::endpoint::Endpoint<'static>,
        e: sipwire_sim::OwnedEvent,
    ) {
        let sipwire_sim::OwnedEvent::Request { tx, bytes, .. } = e else {
            return;
        };
        let mut h = [Header::EMPTY; 64];
        let Ok(sipwire_core::message::Status::Complete(msg)) =
            Parser::datagram().parse(&bytes, &mut h)
        else {
            return;
        };
        let mut out = [0u8; 2048];
        let r = if msg.method() == Some("REGISTER") {
            self.registrar.process(now, &msg, &mut self.store, &mut out)
        } else {
            self.redirect.process(now, &msg, &self.store, &mut out)
        };
        if let Ok(r) = r {
            ep.respond(now, tx, &r.parts(Some("biloxi1"))).unwrap();
        }
    }
}

#[test]
fn biloxi_as_a_redirect_server() {
    use sipwire_core::redirect::{RedirectConfig, RedirectServer};
    use sipwire_core::registrar::{BindingSlot, BindingStore, Registrar, RegistrarConfig};
    let mut sim = Sim::new(31);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(ATLANTA),
            None,
        )),
    );
    sim.add_node(
        "atlanta",
        Box::new(proxy(
            ATLANTA,
            &["atlanta.example.com"],
            false,
            Forking::Parallel,
            &[("biloxi.example.com", BILOXI)],
        )),
    );
    let server = RedirectBiloxi {
        registrar: Registrar::new(RegistrarConfig {
            domains: &["biloxi.example.com"],
            ..RegistrarConfig::default()
        }),
        redirect: RedirectServer::new(RedirectConfig {
            domains: &["biloxi.example.com"],
            ..RedirectConfig::default()
        }),
        store: BindingStore::new(vec![BindingSlot::EMPTY; 8]),
    };
    let ep = Config {
        seed: 32,
        max_message: 2048,
        ..Config::default()
    };
    sim.add_node(
        "biloxi",
        Box::new(sipwire_sim::EndpointNode::new(addr(BILOXI), ep, 16, server)),
    );
    let bob = sim.add_node(
        "bob",
        Box::new(ua("bob", "biloxi.example.com", BOB, None, Some(200))),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let now = sim.now();
    sim.node_mut::<UaNode<Phone>>(bob)
        .command(now, |ua, _| ua.register(now, addr(BILOXI), 3600).unwrap());
    sim.run_until(Instant::from_millis(1_000)).unwrap();
    let start = delivered(&sim);
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(now + Duration::from_secs(10)).unwrap();
    assert_eq!(
        sim.node::<UaNode<Phone>>(alice).ua().state(call),
        Some(CallState::Confirmed)
    );
    assert_eq!(
        flow_since(&sim, start),
        [
            "alice->atlanta INVITE",
            "atlanta->alice 100 Trying",
            "atlanta->biloxi INVITE",
            "biloxi->atlanta 302 Moved Temporarily",
            "atlanta->biloxi ACK",
            "atlanta->alice 302 Moved Temporarily",
            "alice->atlanta ACK",
            "alice->atlanta INVITE",
            "atlanta->alice 100 Trying",
            "atlanta->bob INVITE",
            "bob->atlanta 180 Ringing",
            "bob->atlanta 200 OK",
            "atlanta->alice 180 Ringing",
            "atlanta->alice 200 OK",
            "alice->bob ACK",
        ]
    );
    check_ladder("redirect", &sim.ladder());
}

/// The same call, with the proxies' location service the registrar's own store (the
/// `LocationLocator`): Bob registers through the real registrar, biloxi looks him up.
#[test]
fn seed_call_with_the_real_registrar_and_location_service() {
    use sipwire_core::proxy::LocationLocator;
    use sipwire_core::registrar::{BindingSlot, BindingStore, Registrar, RegistrarConfig};

    struct RegistrarApp(Registrar<'static>);
    type Loc = LocationLocator<'static, BindingStore<'static>>;
    impl ProxyApplication<Loc> for RegistrarApp {
        fn on_event(
            &mut self,
            now: Instant,
            proxy: &mut Proxy<'static, 'static, Loc>,
            e: ProxyEvent,
        ) {
            let ProxyEvent::Register { tx } = e else {
                return;
            };
            let bytes = proxy.request_bytes(tx).unwrap().to_vec();
            let mut h = [Header::EMPTY; 64];
            let msg = Parser::datagram()
                .parse(&bytes, &mut h)
                .unwrap()
                .complete()
                .unwrap();
            let mut out = [0u8; 2048];
            let r = self
                .0
                .process(now, &msg, &mut proxy.locator_mut().store, &mut out)
                .unwrap();
            let parts = r.parts(Some("reg1"));
            proxy.respond(now, tx, &parts).unwrap();
        }
    }
    static HOSTS: &[(&str, SocketAddr)] = &[];
    let mut sim = Sim::new(41);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(BILOXI),
            None,
        )),
    );
    let cfg = ProxyConfig {
        local: addr(BILOXI),
        transport: SipTransport::Udp,
        domains: &["biloxi.example.com"],
        record_route: true,
        forking: Forking::Parallel,
        supported: &[],
        timer_c: Duration::from_secs(180),
    };
    let loc = LocationLocator {
        store: BindingStore::new(vec![BindingSlot::EMPTY; 8]),
        hosts: HOSTS,
    };
    let ep = Config {
        seed: 42,
        max_message: 2048,
        ..Config::default()
    };
    let app = RegistrarApp(Registrar::new(RegistrarConfig {
        domains: &["biloxi.example.com"],
        ..RegistrarConfig::default()
    }));
    sim.add_node("biloxi", Box::new(ProxyNode::new(cfg, ep, 32, 8, loc, app)));
    let bob = sim.add_node(
        "bob",
        Box::new(ua("bob", "biloxi.example.com", BOB, None, Some(200))),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let now = sim.now();
    sim.node_mut::<UaNode<Phone>>(bob)
        .command(now, |ua, _| ua.register(now, addr(BILOXI), 3600).unwrap());
    sim.run_until(Instant::from_millis(1_000)).unwrap();
    let regs: Vec<UaEvent> = sim.node::<UaNode<Phone>>(bob).events();
    assert!(matches!(regs[..], [UaEvent::Registration(_)]), "{regs:?}");
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(now + Duration::from_secs(10)).unwrap();
    assert_eq!(
        sim.node::<UaNode<Phone>>(alice).ua().state(call),
        Some(CallState::Confirmed)
    );
}

#[test]
fn dns_as_sans_io_requests_answered_by_the_simulator() {
    let mut w = world(51, 0.0, false);
    w.sim
        .node_mut::<ProxyNode<TestLocator, Registrar>>(w.atlanta)
        .proxy_mut()
        .locator_mut()
        .sans_io_dns = true;
    w.register_bob();
    let call = w.call();
    w.run_for(10);
    assert_eq!(
        w.ua(w.alice).ua().state(call),
        Some(CallState::Confirmed),
        "{:?}\n{:?}",
        w.sim
            .node::<ProxyNode<TestLocator, Registrar>>(w.atlanta)
            .log,
        flow_since(&w.sim, 0)
    );
    let log = &w
        .sim
        .node::<ProxyNode<TestLocator, Registrar>>(w.atlanta)
        .log;
    let asked: Vec<String> = log
        .iter()
        .filter_map(|(_, e)| match e {
            ProxyEvent::Resolve(q) => Some(format!("{} {}", q.kind.as_str(), q.name())),
            _ => None,
        })
        .collect();
    // RFC 3263 §4.1: NAPTR, then SRV for each transport the proxy sends on, then (§4.2) A
    // at the default port.
    assert_eq!(
        asked,
        [
            "NAPTR biloxi.example.com",
            "SRV _sip._udp.biloxi.example.com",
            "SRV _sip._tcp.biloxi.example.com",
            "A biloxi.example.com"
        ]
    );
    // An unknown name: the branch fails and Alice gets a final error, nothing is left behind.
    let now = w.sim.now();
    let call2 = w.ua(w.alice).command(now, |ua, _| {
        ua.invite(now, "sip:carol@nowhere.example.org", Some(OFFER))
            .unwrap()
    });
    w.run_for(40);
    assert!(w.ua(w.alice).events().contains(&UaEvent::Ended {
        call: call2,
        reason: EndReason::Rejected(500)
    }));
    let n = w.sim.node::<ProxyNode<TestLocator, Registrar>>(w.atlanta);
    assert_eq!(n.proxy().contexts_in_use(), 0);
}

#[test]
fn ua_dns_as_sans_io_requests() {
    // Alice has no outbound proxy: her UA asks for biloxi.example.com's address, the
    // simulator answers from its table, and the INVITE goes to biloxi.
    let mut w = world(61, 0.0, false);
    w.register_bob();
    w.sim.node_mut::<UaNode<Phone>>(w.alice);
    let mut sim = w.sim;
    let alice2 = sim.add_node(
        "alice2",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            "192.0.2.11:5060",
            None,
            None,
        )),
    );
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice2).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(now + Duration::from_secs(10)).unwrap();
    let a = sim.node::<UaNode<Phone>>(alice2);
    assert!(matches!(a.events()[0], UaEvent::Resolve(q) if q.name() == "biloxi.example.com"));
    assert_eq!(a.ua().state(call), Some(CallState::Confirmed));
    let now = sim.now();
    let nowhere = sim.node_mut::<UaNode<Phone>>(alice2).command(now, |ua, _| {
        ua.invite(now, "sip:x@nowhere.example.org", None).unwrap()
    });
    sim.run_until(now + Duration::from_secs(1)).unwrap();
    assert!(sim
        .node::<UaNode<Phone>>(alice2)
        .events()
        .contains(&UaEvent::Ended {
            call: nowhere,
            reason: EndReason::Unresolvable
        }));
}

/// A UAS that challenges every request (401 with WWW-Authenticate, or 407).
struct Challenger(u16, &'static str);

impl sipwire_sim::TransactionUser for Challenger {
    fn on_event(
        &mut self,
        now: Instant,
        ep: &mut sipwire_core::endpoint::Endpoint<'static>,
        e: sipwire_sim::OwnedEvent,
    ) {
        if let sipwire_sim::OwnedEvent::Request { tx, .. } = e {
            let name = if self.0 == 401 {
                "WWW-Authenticate"
            } else {
                "Proxy-Authenticate"
            };
            let extra: [(&str, &[u8]); 1] = [(name, self.1.as_bytes())];
            let parts = ResponseParts {
                to_tag: Some("ch"),
                extra: &extra,
                ..ResponseParts::new(self.0, "Unauthorized")
            };
            ep.respond(now, tx, &parts).unwrap();
        }
    }
}

#[test]
fn forked_challenges_are_merged() {
    // §16.7 step 7: both branches challenge; the caller gets one 401 carrying both.
    let mut sim = Sim::new(71);
    let mut peer = ScriptedPeer::new(addr("192.0.2.30:5060"));
    peer.send_at(
        Instant::ZERO,
        Transport::Udp,
        addr(BILOXI),
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKch1\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\nFrom: <sip:c@chicago.example.com>;tag=1\r\n\
Call-ID: ch1\r\nCSeq: 1 INVITE\r\nContact: <sip:c@192.0.2.30>\r\nContent-Length: 0\r\n\r\n",
    );
    let p = sim.add_node("carol", Box::new(peer));
    let biloxi = sim.add_node(
        "biloxi",
        Box::new(proxy(
            BILOXI,
            &["biloxi.example.com"],
            false,
            Forking::Parallel,
            &[],
        )),
    );
    let ep = |seed| Config {
        seed,
        max_message: 2048,
        ..Config::default()
    };
    sim.add_node(
        "bob1",
        Box::new(sipwire_sim::EndpointNode::new(
            addr(BOB),
            ep(72),
            8,
            Challenger(401, "Digest realm=\"biloxi-1\", nonce=\"a\""),
        )),
    );
    sim.add_node(
        "bob2",
        Box::new(sipwire_sim::EndpointNode::new(
            addr(BOB2),
            ep(73),
            8,
            Challenger(407, "Digest realm=\"biloxi-2\", nonce=\"b\""),
        )),
    );
    sim.node_mut::<ProxyNode<TestLocator, Registrar>>(biloxi)
        .proxy_mut()
        .locator_mut()
        .bindings
        .insert(
            "sip:bob@biloxi.example.com".into(),
            vec![
                ("sip:bob@192.0.2.20:5060".into(), 1000),
                ("sip:bob@192.0.2.21:5060".into(), 500),
            ],
        );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.run_until(Instant::from_millis(2_000)).unwrap();
    let finals: Vec<String> = sim
        .node::<ScriptedPeer>(p)
        .received()
        .iter()
        .map(|(_, pk)| String::from_utf8_lossy(&pk.bytes).into_owned())
        .filter(|t| !t.starts_with("SIP/2.0 100"))
        .collect();
    // Carol never ACKs, so the 401 is retransmitted (Timer G): every copy is the same.
    let mut finals = finals;
    finals.dedup();
    assert_eq!(finals.len(), 1, "{finals:?}");
    let f = &finals[0];
    assert!(f.starts_with("SIP/2.0 401 "), "{f}");
    assert!(
        f.contains("WWW-Authenticate: Digest realm=\"biloxi-1\""),
        "{f}"
    );
    assert!(
        f.contains("Proxy-Authenticate: Digest realm=\"biloxi-2\""),
        "{f}"
    );
    assert_eq!(f.matches("\r\nVia: ").count(), 1, "{f}");
}

#[test]
fn timer_c_cancels_a_branch_that_rings_too_long() {
    // §16.8: Bob rings and never answers; after Timer C the proxy CANCELs the branch, Bob
    // answers 487, and Alice gets the 487.
    let mut sim = Sim::new(81);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "atlanta.example.com",
            ALICE,
            Some(BILOXI),
            None,
        )),
    );
    let cfg = ProxyConfig {
        local: addr(BILOXI),
        transport: SipTransport::Udp,
        domains: &["biloxi.example.com"],
        record_route: false,
        forking: Forking::Parallel,
        supported: &[],
        timer_c: Duration::from_secs(5),
    };
    let mut loc = TestLocator::default();
    loc.bindings.insert(
        "sip:bob@biloxi.example.com".into(),
        vec![("sip:bob@192.0.2.20:5060".into(), 1000)],
    );
    let ep = Config {
        seed: 82,
        max_message: 2048,
        ..Config::default()
    };
    sim.add_node(
        "biloxi",
        Box::new(ProxyNode::new(cfg, ep, 16, 4, loc, Registrar)),
    );
    let bob = sim.add_node(
        "bob",
        Box::new(ua("bob", "biloxi.example.com", BOB, None, None)),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@biloxi.example.com", Some(OFFER))
            .unwrap()
    });
    sim.run_until(Instant::from_millis(20_000)).unwrap();
    let f = flow_since(&sim, 0);
    let cancel_at = sim
        .trace()
        .iter()
        .find(|e| {
            matches!(e.kind, TraceKind::Sent) && sim.packet(e.packet).bytes.starts_with(b"CANCEL ")
        })
        .map(|e| e.time.as_millis())
        .unwrap();
    assert!(
        (5_000..5_100).contains(&cancel_at),
        "CANCEL at {cancel_at} ms: {f:?}"
    );
    assert!(sim
        .node::<UaNode<Phone>>(alice)
        .events()
        .contains(&UaEvent::Ended {
            call,
            reason: EndReason::Rejected(487)
        }));
    assert!(sim
        .node::<UaNode<Phone>>(bob)
        .events()
        .iter()
        .any(|e| matches!(
            e,
            UaEvent::Ended {
                reason: EndReason::Cancelled,
                ..
            }
        )));
}

/// The proxy as a UAS for what is addressed to the server itself: OPTIONS with no user part
/// and no Route is answered 200 with Allow (§11.2), and a REGISTER to the proxy's own
/// address (not its domain name) goes to the registrar.
#[test]
fn options_and_register_addressed_to_the_proxys_own_address() {
    let mut sim = Sim::new(12);
    let mut peer = ScriptedPeer::new(addr("192.0.2.30:5060"));
    peer.send_at(
        Instant::ZERO,
        Transport::Udp,
        addr(ATLANTA),
        "OPTIONS sip:192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKopt1\r\n\
Max-Forwards: 70\r\nTo: <sip:192.0.2.1:5060>\r\nFrom: <sip:c@chicago.example.com>;tag=1\r\n\
Call-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    peer.send_at(
        Instant::from_millis(50),
        Transport::Udp,
        addr(ATLANTA),
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKreg1\r\n\
Max-Forwards: 70\r\nTo: <sip:carol@192.0.2.1>\r\nFrom: <sip:carol@192.0.2.1>;tag=2\r\n\
Call-ID: reg1\r\nCSeq: 1 REGISTER\r\nContact: <sip:carol@192.0.2.30>\r\nContent-Length: 0\r\n\r\n",
    );
    let c = sim.add_node("carol", Box::new(peer));
    sim.add_node(
        "atlanta",
        Box::new(proxy(
            ATLANTA,
            &["atlanta.example.com"],
            false,
            Forking::Parallel,
            &[],
        )),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.run_until(Instant::from_millis(200)).unwrap();
    let got: Vec<String> = sim
        .node::<ScriptedPeer>(c)
        .received()
        .iter()
        .map(|(_, p)| String::from_utf8_lossy(&p.bytes).into_owned())
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("SIP/2.0 200 OK\r\n"), "{}", got[0]);
    assert!(got[0].contains("\r\nCSeq: 1 OPTIONS\r\n"), "{}", got[0]);
    assert!(got[0].contains("\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"));
    assert!(
        got[0].contains("To: <sip:192.0.2.1:5060>;tag="),
        "{}",
        got[0]
    );
    assert!(got[1].starts_with("SIP/2.0 200 OK\r\n"), "{}", got[1]);
    assert!(got[1].contains("\r\nCSeq: 1 REGISTER\r\n"), "{}", got[1]);
}

/// RFC 3263 §4.3 in the proxy: atlanta finds biloxi.example.com's servers by SRV; the first
/// (priority 10) is silent, so after Timer B the INVITE goes, as a new client transaction,
/// to the second (biloxi's proxy), and the call is set up.
#[test]
fn proxy_fails_over_from_a_silent_srv_target_to_the_next() {
    const SILENT: &str = "192.0.2.99:5060";
    let mut w = world(71, 0.0, false);
    {
        let loc = w
            .sim
            .node_mut::<ProxyNode<TestLocator, Registrar>>(w.atlanta)
            .proxy_mut()
            .locator_mut();
        loc.sans_io_dns = true;
        loc.srv.insert(
            "_sip._udp.biloxi.example.com".into(),
            vec![
                (20, 5060, "sip2.biloxi.example.com".into()),
                (10, 5060, "sip1.biloxi.example.com".into()),
            ],
        );
        loc.dns
            .insert("sip1.biloxi.example.com".into(), addr(SILENT));
        loc.dns
            .insert("sip2.biloxi.example.com".into(), addr(BILOXI));
    }
    w.register_bob();
    let start = w.sim.trace().len();
    let t0 = w.sim.now();
    let call = w.call();
    w.run_for(40);
    assert_eq!(
        w.ua(w.alice).ua().state(call),
        Some(CallState::Confirmed),
        "{:?}",
        flow_since(&w.sim, 0)
    );
    // The INVITE went to the silent target first (retransmitted until Timer B), then to
    // biloxi, which alone passed it to Bob.
    let invites_to = |to: &str| {
        w.sim.trace()[start..]
            .iter()
            .filter(|e| w.sim.name(e.from) == "atlanta")
            .map(|e| e.packet)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|id| w.sim.packet(id))
            .filter(|p| p.dst == addr(to) && start_line_label(&p.bytes) == "INVITE")
            .count()
    };
    assert!(invites_to(SILENT) >= 2, "{}", invites_to(SILENT));
    assert_eq!(invites_to(BILOXI), 1);
    assert!(w.sim.now() - t0 >= Duration::from_secs(32));
    let n = w.sim.node::<ProxyNode<TestLocator, Registrar>>(w.atlanta);
    // The context ended with the 2xx, and its resolution slot with it.
    assert_eq!(n.proxy().resolutions_in_use(), 0);
    assert_eq!(n.proxy().contexts_in_use(), 0);
}
