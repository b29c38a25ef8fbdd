//! RFC 3263 in the user agent: the caller resolves `sip:bob@biloxi.test` through NAPTR,
//! SRV and A (answered by the test's zone), sends the INVITE to the first SRV target, and
//! when that one never answers (Timer B) or answers 503, fails over to the next (§4.3).

use std::net::{IpAddr, SocketAddr};

use sipwire_core::dns::{Answer, QueryKind, SrvRecord};
use sipwire_core::endpoint::Config;
use sipwire_core::message::validate::Policy;
use sipwire_core::message::{Header, Parser};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transport::Transport as SipTransport;
use sipwire_core::ua::{CallId, CallState, EndReason, UaConfig, UaEvent, UserAgent};
use sipwire_sim::{Application, LinkConfig, NodeId, ScriptedPeer, Sim, UaNode};

const ALICE: &str = "192.0.2.10:5060";
/// The first SRV target (priority 10).
const FIRST: &str = "192.0.2.30:5060";
/// The second SRV target (priority 20): Bob.
const SECOND: &str = "192.0.2.20:5070";

const OFFER: &[u8] = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
t=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";
const ANSWER: &[u8] = b"v=0\r\no=bob 2 2 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\n\
t=0 0\r\nm=audio 3456 RTP/AVP 0\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Alice's DNS: no NAPTR, two SRV records for UDP, an A record for each target.
fn zone(kind: QueryKind, name: &str, answer: &mut dyn FnMut(Answer<'_>)) {
    let srv = [
        SrvRecord {
            priority: 20,
            weight: 0,
            port: 5070,
            target: "bob.biloxi.test",
        },
        SrvRecord {
            priority: 10,
            weight: 0,
            port: 5060,
            target: "first.biloxi.test",
        },
    ];
    let first: [IpAddr; 1] = [addr(FIRST).ip()];
    let second: [IpAddr; 1] = [addr(SECOND).ip()];
    match (kind, name) {
        (QueryKind::Srv, "_sip._udp.biloxi.test") => answer(Answer::Srv(&srv)),
        (QueryKind::A, "first.biloxi.test") => answer(Answer::Addresses(&first)),
        (QueryKind::A, "bob.biloxi.test") => answer(Answer::Addresses(&second)),
        (QueryKind::A, "gone.biloxi.test") => answer(Answer::Failed),
        _ => answer(Answer::NoRecords),
    }
}

/// A phone that answers DNS from [`zone`] and calls with `answer` (200 answers, another
/// code rejects, `None` ignores).
struct Phone {
    answer: Option<u16>,
}

impl Application for Phone {
    fn on_event(&mut self, now: Instant, ua: &mut UserAgent<'static, 'static>, e: UaEvent) {
        match e {
            UaEvent::Resolve(q) => zone(q.kind, q.name(), &mut |a| ua.dns_answer(now, q.id, a)),
            UaEvent::IncomingCall { call } => match self.answer {
                Some(200) => ua.answer(now, call, ANSWER).unwrap(),
                Some(code) => ua.reject(now, call, code).unwrap(),
                None => {}
            },
            _ => {}
        }
    }
}

fn phone(user: &'static str, local: &str, answer: Option<u16>) -> UaNode<Phone> {
    let cfg = UaConfig {
        local: addr(local),
        transport: SipTransport::Udp,
        user,
        domain: "biloxi.test",
        display_name: None,
        outbound_proxy: None,
        policy: Policy {
            methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
            ..Policy::UAS
        },
    };
    let ep = Config {
        seed: local.len() as u64 + user.len() as u64,
        max_message: 2048,
        ..Config::default()
    };
    UaNode::new(cfg, ep, 16, 2, Phone { answer })
}

struct World {
    sim: Sim,
    alice: NodeId,
}

/// Alice, Bob at the second target, and at the first target either a silent peer (`None`)
/// or a phone answering `first` (503, say).
fn world(first: Option<u16>, bob: bool) -> World {
    let mut sim = Sim::new(11);
    let alice = sim.add_node("alice", Box::new(phone("alice", ALICE, None)));
    match first {
        Some(code) => sim.add_node("first", Box::new(phone("first", FIRST, Some(code)))),
        None => sim.add_node("first", Box::new(ScriptedPeer::new(addr(FIRST)))),
    };
    if bob {
        sim.add_node("bob", Box::new(phone("bob", SECOND, Some(200))));
    }
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    sim.set_max_steps(100_000);
    World { sim, alice }
}

impl World {
    fn call(&mut self, uri: &str) -> CallId {
        let now = self.sim.now();
        let id = self
            .sim
            .node_mut::<UaNode<Phone>>(self.alice)
            .command(now, |ua, _| ua.invite(now, uri, Some(OFFER)).unwrap());
        self.sim.run_until(now + Duration::from_secs(60)).unwrap();
        id
    }

    fn alice(&self) -> &UaNode<Phone> {
        self.sim.node::<UaNode<Phone>>(self.alice)
    }

    /// The (branch, CSeq, destination) of every INVITE Alice sent, retransmissions once.
    fn invites(&self) -> Vec<(String, String, SocketAddr)> {
        let mut out: Vec<(String, String, SocketAddr)> = Vec::new();
        for e in self.sim.trace() {
            if let sipwire_sim::TraceKind::Sent = e.kind {
                let p = self.sim.packet(e.packet);
                if p.src != addr(ALICE) || !p.bytes.starts_with(b"INVITE ") {
                    continue;
                }
                let mut h = [Header::EMPTY; 32];
                let msg = Parser::datagram()
                    .parse(&p.bytes, &mut h)
                    .unwrap()
                    .complete()
                    .unwrap();
                let branch = msg
                    .top_via()
                    .unwrap()
                    .unwrap()
                    .branch()
                    .unwrap()
                    .to_string();
                let cseq = msg.cseq().unwrap();
                let k = (branch, format!("{} {}", cseq.seq, cseq.method), p.dst);
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        out
    }

    fn resolves(&self) -> Vec<String> {
        self.alice()
            .events()
            .iter()
            .filter_map(|e| match e {
                UaEvent::Resolve(q) => Some(format!("{} {}", q.kind.as_str(), q.name())),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn timeout_fails_over_to_the_next_srv_target() {
    let mut w = world(None, true);
    let call = w.call("sip:bob@biloxi.test");
    assert_eq!(
        w.resolves(),
        [
            "NAPTR biloxi.test",
            "SRV _sip._udp.biloxi.test",
            "A first.biloxi.test",
            "A bob.biloxi.test",
        ]
    );
    let invites = w.invites();
    assert_eq!(invites.len(), 2, "{invites:?}");
    // Priority 10 first, then (after Timer B) priority 20: a new branch, the same CSeq.
    assert_eq!(invites[0].2, addr(FIRST));
    assert_eq!(invites[1].2, addr(SECOND));
    assert_ne!(invites[0].0, invites[1].0);
    assert_eq!(invites[0].1, invites[1].1);
    assert_eq!(w.alice().ua().state(call), Some(CallState::Confirmed));
    assert!(w.alice().events().contains(&UaEvent::Answered { call }));
    // The INVITE moved on only after Timer B (64·T1 = 32 s).
    let answered_at = w
        .alice()
        .log
        .iter()
        .find(|(_, e)| *e == UaEvent::Answered { call })
        .map(|(t, _)| *t)
        .unwrap();
    assert!(answered_at - Instant::ZERO >= Duration::from_secs(32));
}

#[test]
fn service_unavailable_fails_over_to_the_next_srv_target() {
    let mut w = world(Some(503), true);
    let call = w.call("sip:bob@biloxi.test");
    let invites = w.invites();
    assert_eq!(invites.len(), 2, "{invites:?}");
    assert_eq!((invites[0].2, invites[1].2), (addr(FIRST), addr(SECOND)));
    assert_ne!(invites[0].0, invites[1].0);
    assert_eq!(w.alice().ua().state(call), Some(CallState::Confirmed));
    assert!(!w
        .alice()
        .events()
        .iter()
        .any(|e| matches!(e, UaEvent::Ended { .. })));
}

#[test]
fn the_call_ends_when_the_targets_run_out() {
    // The first answers 503, the second never answers: Timer B ends the call.
    let mut w = world(Some(503), false);
    let call = w.call("sip:bob@biloxi.test");
    assert_eq!(w.invites().len(), 2);
    assert!(w.alice().events().contains(&UaEvent::Ended {
        call,
        reason: EndReason::Timeout
    }));
    // One target (a port in the URI: A only, §4.2) answering 503: the call ends with it.
    let mut w = world(Some(503), false);
    let call = w.call("sip:bob@first.biloxi.test:5060");
    assert_eq!(w.resolves(), ["A first.biloxi.test"]);
    assert_eq!(w.invites().len(), 1);
    assert!(w.alice().events().contains(&UaEvent::Ended {
        call,
        reason: EndReason::Rejected(503)
    }));
    // A name with no address at all (its A lookup fails).
    let mut w = world(None, false);
    let call = w.call("sip:bob@gone.biloxi.test");
    assert_eq!(w.invites().len(), 0);
    assert!(w.alice().events().contains(&UaEvent::Ended {
        call,
        reason: EndReason::Unresolvable
    }));
}

/// A bare UA with `calls` call slots and `resolutions` resolution slots (none: no table).
fn bare_ua(calls: usize, resolutions: Option<usize>) -> UserAgent<'static, 'static> {
    bare_ua_in(calls, resolutions, "atlanta.test")
}

/// [`bare_ua`] in `domain`.
fn bare_ua_in(
    calls: usize,
    resolutions: Option<usize>,
    domain: &'static str,
) -> UserAgent<'static, 'static> {
    use sipwire_core::endpoint::{Endpoint, Tx};
    use sipwire_core::transaction::Slot;
    use sipwire_core::ua::{Call, ResolutionSlot};
    let cfg = UaConfig {
        local: addr(ALICE),
        transport: SipTransport::Udp,
        user: "alice",
        domain,
        display_name: None,
        outbound_proxy: None,
        policy: Policy::UAS,
    };
    let ep = Config {
        max_message: 2048,
        ..Config::default()
    };
    let slots: Vec<Slot<Tx>> = (0..8).map(|_| Slot::default()).collect();
    let arena = vec![0u8; Endpoint::arena_len(8, ep.max_message)];
    let calls: Vec<Call> = (0..calls).map(|_| Call::default()).collect();
    let ua = UserAgent::new(cfg, Endpoint::new(ep, slots, arena), calls, vec![0u8; 2048]).unwrap();
    match resolutions {
        Some(n) => ua.with_resolutions(
            (0..n)
                .map(|_| ResolutionSlot::default())
                .collect::<Vec<ResolutionSlot>>(),
        ),
        None => ua,
    }
}

#[test]
fn resolution_table_bounds() {
    use sipwire_core::ua::UaError;
    let now = Instant::ZERO;
    // No table: a name cannot be called (an address still can).
    let mut ua = bare_ua(2, None);
    assert_eq!(
        ua.invite(now, "sip:bob@biloxi.test", None),
        Err(UaError::Unresolvable)
    );
    assert!(ua.invite(now, "sip:bob@192.0.2.20", None).is_ok());
    // One slot, two calls: the second call to a name waits for no slot, it is refused.
    let mut ua = bare_ua(2, Some(1));
    let first = ua.invite(now, "sip:bob@biloxi.test", None).unwrap();
    assert!(matches!(ua.poll_event(), Some(UaEvent::Resolve(q)) if q.kind == QueryKind::Naptr));
    assert_eq!(
        ua.invite(now, "sip:carol@chicago.test", None),
        Err(UaError::TooManyResolutions)
    );
    assert_eq!(ua.active_calls(), 1);
    // A stale or unknown answer is ignored; hanging up during DNS ends the call and frees
    // the slot.
    ua.dns_answer(now, 999_999, Answer::NoRecords);
    assert_eq!(ua.state(first), Some(CallState::Calling));
    ua.hangup(now, first).unwrap();
    let ended = std::iter::from_fn(|| ua.poll_event()).collect::<Vec<_>>();
    assert!(ended.is_empty(), "{ended:?}");
    // The hang-up is pending until DNS answers; answering ends the call, sending nothing.
    let mut queries = 0;
    let mut next = 1; // the first call's first query id
    while ua.state(first) == Some(CallState::Calling) && queries < 10 {
        ua.dns_answer(now, next, Answer::NoRecords);
        next += 1;
        queries += 1;
        while ua.poll_event().is_some() {}
    }
    assert_eq!(ua.state(first), None);
    assert!(ua.poll_transmit().is_none());
    assert!(ua.invite(now, "sip:carol@chicago.test", None).is_ok());
}

#[test]
fn transport_failure_fails_over() {
    use sipwire_core::endpoint::Input;
    let now = Instant::ZERO;
    let mut ua = bare_ua(1, Some(1));
    let call = ua.invite(now, "sip:bob@biloxi.test", Some(OFFER)).unwrap();
    // Answer every query from the zone.
    while let Some(UaEvent::Resolve(q)) = ua.poll_event() {
        zone(q.kind, q.name(), &mut |a| ua.dns_answer(now, q.id, a));
    }
    let (tx, first) = {
        let t = ua.poll_transmit().unwrap();
        (t.tx.unwrap(), t.remote)
    };
    assert_eq!(first, addr(FIRST));
    // The first target's connection fails (§17.1.4): the INVITE goes to the second.
    ua.handle(now, Input::SendFailed { tx });
    let t = ua.poll_transmit().unwrap();
    assert_eq!(t.remote, addr(SECOND));
    assert!(t.bytes.starts_with(b"INVITE sip:bob@biloxi.test SIP/2.0"));
    let tx2 = t.tx.unwrap();
    assert_ne!(tx, tx2);
    assert_eq!(ua.state(call), Some(CallState::Calling));
    // The second fails too: no targets left, the call ends.
    ua.handle(now, Input::SendFailed { tx: tx2 });
    let events: Vec<UaEvent> = std::iter::from_fn(|| ua.poll_event()).collect();
    assert!(
        events.contains(&UaEvent::Ended {
            call,
            reason: EndReason::Timeout
        }),
        "{events:?}"
    );
}

#[test]
fn register_with_the_registrar_of_our_domain() {
    use sipwire_core::endpoint::Input;
    use sipwire_core::ua::register::RegistrationEvent;
    let now = Instant::ZERO;
    // Our domain is biloxi.test: its registrars are the zone's two SRV targets.
    let mut ua = bare_ua_in(1, Some(1), "biloxi.test");
    ua.register_domain(now, 600).unwrap();
    let mut asked = Vec::new();
    while let Some(UaEvent::Resolve(q)) = ua.poll_event() {
        asked.push(format!("{} {}", q.kind.as_str(), q.name()));
        zone(q.kind, q.name(), &mut |a| ua.dns_answer(now, q.id, a));
    }
    assert_eq!(
        asked,
        [
            "NAPTR biloxi.test",
            "SRV _sip._udp.biloxi.test",
            "A first.biloxi.test",
            "A bob.biloxi.test",
        ]
    );
    let t = ua.poll_transmit().unwrap();
    assert_eq!(t.remote, addr(FIRST));
    assert!(t.bytes.starts_with(b"REGISTER sip:biloxi.test SIP/2.0"));
    let tx = t.tx.unwrap();
    // The first registrar is unreachable: the REGISTER goes to the next, no event.
    ua.handle(now, Input::SendFailed { tx });
    let t = ua.poll_transmit().unwrap();
    assert_eq!(t.remote, addr(SECOND));
    assert!(t.bytes.starts_with(b"REGISTER sip:biloxi.test SIP/2.0"));
    let tx = t.tx.unwrap();
    assert_eq!(ua.poll_event(), None);
    // The last one too: the registration fails.
    ua.handle(now, Input::SendFailed { tx });
    assert_eq!(
        ua.poll_event(),
        Some(UaEvent::Registration(RegistrationEvent::Failed {
            code: 408
        }))
    );
    // A domain with no address: failed at once, after the lookups.
    let mut ua = bare_ua_in(1, Some(1), "gone.biloxi.test");
    ua.register_domain(now, 600).unwrap();
    let mut last = None;
    while let Some(e) = ua.poll_event() {
        match e {
            UaEvent::Resolve(q) => zone(q.kind, q.name(), &mut |a| ua.dns_answer(now, q.id, a)),
            other => last = Some(other),
        }
    }
    assert_eq!(
        last,
        Some(UaEvent::Registration(RegistrationEvent::Failed {
            code: 503
        }))
    );
    assert!(ua.poll_transmit().is_none());
}
