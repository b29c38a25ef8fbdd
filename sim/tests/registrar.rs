//! The registrar (RFC 3261 §10.3) and redirect server (§8.3) in the simulator: a location
//! server node runs [`Registrar`] and [`RedirectServer`] over one [`BindingStore`], and
//! [`UaNode`] phones register with it, let their bindings lapse, remove them, and call
//! through it.

use std::net::SocketAddr;

use sipwire_core::endpoint::{Config, Endpoint};
use sipwire_core::message::validate::Policy;
use sipwire_core::message::{Header, Parser, Status};
use sipwire_core::redirect::{targets, RedirectConfig, RedirectServer, RedirectTarget};
use sipwire_core::registrar::{
    Binding, BindingSlot, BindingStore, LocationService, Registrar, RegistrarConfig, ServerError,
};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transport::Transport as SipTransport;
use sipwire_core::ua::register::RegistrationEvent;
use sipwire_core::ua::{CallState, EndReason, UaConfig, UaEvent, UserAgent};
use sipwire_sim::{
    Application, EndpointNode, LinkConfig, NodeId, OwnedEvent, Sim, TraceKind, TransactionUser,
    UaNode,
};

const ALICE: &str = "192.0.2.10:5060";
const ALICE2: &str = "192.0.2.11:5060";
const SERVER: &str = "192.0.2.20:5060";
const CAROL: &str = "192.0.2.30:5060";
const DAVE: &str = "192.0.2.40:5060";
const DOMAIN: &str = "atlanta.example.com";
const AOR: &[u8] = b"sip:alice@atlanta.example.com";

const OFFER: &[u8] = b"v=0\r\no=carol 2890844526 2890844526 IN IP4 192.0.2.30\r\ns=-\r\n\
c=IN IP4 192.0.2.30\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";
const ANSWER: &[u8] = b"v=0\r\no=alice 2808844564 2808844564 IN IP4 192.0.2.10\r\ns=-\r\n\
c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ep_config(seed: u64) -> Config {
    Config {
        seed,
        max_message: 2048,
        ..Config::default()
    }
}

/// A phone that answers every call at once.
struct Phone;

impl Application for Phone {
    fn on_event(&mut self, now: Instant, ua: &mut UserAgent<'static, 'static>, e: UaEvent) {
        if let UaEvent::IncomingCall { call } = e {
            ua.answer(now, call, ANSWER).unwrap();
        }
    }
}

fn phone(user: &'static str, local: &str, proxy: Option<&str>, seed: u64) -> Box<UaNode<Phone>> {
    let config = UaConfig {
        local: addr(local),
        transport: SipTransport::Udp,
        user,
        domain: DOMAIN,
        display_name: None,
        outbound_proxy: proxy.map(addr),
        policy: Policy {
            methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
            ..Policy::UAS
        },
    };
    Box::new(UaNode::new(config, ep_config(seed), 16, 2, Phone))
}

/// The location server: REGISTER goes to the registrar, everything else to the redirect
/// server, both over one store.
struct LocationServer {
    registrar: Registrar<'static>,
    redirect: RedirectServer<'static>,
    store: BindingStore<'static>,
    /// `(method, status)` of every answer, in order.
    answers: Vec<(String, u16)>,
}

impl LocationServer {
    fn new(capacity: usize, registrar: RegistrarConfig<'static>) -> LocationServer {
        LocationServer {
            registrar: Registrar::new(registrar),
            redirect: RedirectServer::new(RedirectConfig {
                domains: &[DOMAIN],
                ..RedirectConfig::default()
            }),
            store: BindingStore::new(vec![BindingSlot::EMPTY; capacity]),
            answers: Vec::new(),
        }
    }

    /// Alice's live bindings at `now`: `(contact, seconds left)`.
    fn bindings(&self, now: Instant) -> Vec<(String, u32)> {
        let mut out = [Binding::EMPTY; 8];
        let n = self.store.lookup(AOR, now, &mut out);
        out[..n]
            .iter()
            .map(|b| (b.contact.to_string(), b.expires_in(now)))
            .collect()
    }
}

impl TransactionUser for LocationServer {
    fn on_event(&mut self, now: Instant, ep: &mut Endpoint<'static>, e: OwnedEvent) {
        let OwnedEvent::Request { tx, bytes, .. } = e else {
            return;
        };
        let mut h = [Header::EMPTY; 64];
        let Ok(Status::Complete(msg)) = Parser::datagram().parse(&bytes, &mut h) else {
            return;
        };
        let method = msg.method().unwrap_or_default().to_string();
        let mut out = [0u8; 2048];
        let decided = if method == "REGISTER" {
            self.registrar.process(now, &msg, &mut self.store, &mut out)
        } else {
            self.redirect.process(now, &msg, &self.store, &mut out)
        };
        match decided {
            Ok(r) => {
                ep.respond(now, tx, &r.parts(Some("loc1"))).unwrap();
                self.answers.push((method, r.code));
            }
            Err(ServerError::NoResponse) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

fn registrations(sim: &Sim, ua: NodeId) -> Vec<(u64, RegistrationEvent)> {
    sim.node::<UaNode<Phone>>(ua)
        .log
        .iter()
        .filter_map(|(t, e)| match e {
            UaEvent::Registration(r) => Some((t.as_millis(), *r)),
            _ => None,
        })
        .collect()
}

fn server(sim: &Sim, id: NodeId) -> &LocationServer {
    sim.node::<EndpointNode<LocationServer>>(id).tu()
}

struct Net {
    sim: Sim,
    server: NodeId,
}

impl Net {
    fn new(seed: u64, loss: f64, registrar: RegistrarConfig<'static>) -> Net {
        let mut sim = Sim::new(seed);
        let server = sim.add_node(
            "server",
            Box::new(EndpointNode::new(
                addr(SERVER),
                ep_config(seed + 100),
                16,
                LocationServer::new(8, registrar),
            )),
        );
        sim.default_link(LinkConfig {
            loss,
            ..LinkConfig::with_latency(Duration::from_millis(10))
        });
        sim.set_max_steps(400_000);
        Net { sim, server }
    }

    fn add(&mut self, name: &str, node: Box<UaNode<Phone>>) -> NodeId {
        self.sim.add_node(name, node)
    }

    fn ua(&mut self, id: NodeId, f: impl FnOnce(Instant, &mut UserAgent<'static, 'static>)) {
        let now = self.sim.now();
        self.sim
            .node_mut::<UaNode<Phone>>(id)
            .command(now, |ua, _| f(now, ua));
    }

    fn run_for(&mut self, secs: u64) {
        let until = self.sim.now() + Duration::from_secs(secs);
        self.sim.run_until(until).unwrap();
    }

    fn server(&self) -> &LocationServer {
        server(&self.sim, self.server)
    }

    /// The bytes of every response the server sent, in order.
    fn server_responses(&self) -> Vec<String> {
        self.sim
            .trace()
            .iter()
            .filter(|e| e.kind == TraceKind::Sent && e.from == self.server)
            .map(|e| String::from_utf8_lossy(&self.sim.packet(e.packet).bytes).into_owned())
            .collect()
    }
}

fn registrar_config() -> RegistrarConfig<'static> {
    RegistrarConfig {
        domains: &[DOMAIN],
        max_expires: 600,
        ..RegistrarConfig::default()
    }
}

#[test]
fn refresh_removal_and_reregistration() {
    let mut net = Net::new(11, 0.0, registrar_config());
    let alice = net.add("alice", phone("alice", ALICE, None, 11));
    net.ua(alice, |now, ua| {
        ua.register(now, addr(SERVER), 3600).unwrap()
    });
    // Granted 600 s (the registrar's cap): refreshed before it runs out, twice in 1,300 s.
    net.run_for(1_300);
    let regs = registrations(&net.sim, alice);
    assert!(regs.len() >= 3, "{regs:?}");
    assert!(regs
        .iter()
        .all(|(_, r)| *r == RegistrationEvent::Registered { expires: 600 }));
    assert_eq!(regs[0].0, 20);
    assert!(
        regs[1].0 < 600_000 && regs[1].0 > 500_000,
        "refresh before expiry: {regs:?}"
    );
    // One binding all along, refreshed in place.
    let now = net.sim.now();
    let live = net.server().bindings(now);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].0, "sip:alice@192.0.2.10:5060");
    assert!(live[0].1 <= 600 && live[0].1 > 0, "{live:?}");
    let mut out = [Binding::EMPTY; 1];
    net.server().store.lookup(AOR, now, &mut out);
    assert_eq!(out[0].cseq as usize, regs.len());
    // Remove it (§10.2.2).
    net.ua(alice, |now, ua| ua.unregister(now).unwrap());
    net.run_for(5);
    assert!(net.server().bindings(net.sim.now()).is_empty());
    assert_eq!(
        registrations(&net.sim, alice).last().unwrap().1,
        RegistrationEvent::Unregistered
    );
    // Register again with the same Call-ID and a higher CSeq, then remove everything.
    net.ua(alice, |now, ua| {
        ua.register(now, addr(SERVER), 300).unwrap()
    });
    net.run_for(5);
    assert_eq!(net.server().bindings(net.sim.now()).len(), 1);
    net.ua(alice, |now, ua| ua.unregister_all(now).unwrap());
    net.run_for(5);
    assert!(net.server().bindings(net.sim.now()).is_empty());
    assert!(net.server().store.is_empty());
    let regs = registrations(&net.sim, alice);
    assert_eq!(
        regs.iter().rev().take(2).map(|r| r.1).collect::<Vec<_>>(),
        [
            RegistrationEvent::Unregistered,
            RegistrationEvent::Registered { expires: 300 }
        ]
    );
    let answers = &net.server().answers;
    assert!(
        answers.iter().all(|(m, c)| m == "REGISTER" && *c == 200),
        "{answers:?}"
    );
    // The last 200 (to `Contact: *`) lists no binding.
    let last = net.server_responses().pop().unwrap();
    assert!(
        last.starts_with("SIP/2.0 200 OK\r\n") && !last.contains("Contact"),
        "{last}"
    );
}

#[test]
fn binding_lapses_when_refreshes_stop() {
    let mut net = Net::new(21, 0.0, registrar_config());
    let alice = net.add("alice", phone("alice", ALICE, None, 21));
    net.ua(alice, |now, ua| ua.register(now, addr(SERVER), 60).unwrap());
    net.run_for(1);
    assert_eq!(
        registrations(&net.sim, alice),
        [(20, RegistrationEvent::Registered { expires: 60 })]
    );
    // The REGISTER reached the server 10 ms in: the binding lapses 60 s after that.
    let lapses = Instant::from_millis(10) + Duration::from_secs(60);
    // Alice's phone falls off the network: her refreshes never arrive.
    net.sim.hold(alice, net.server);
    net.sim.run_until(Instant::from_millis(60_009)).unwrap();
    assert_eq!(net.server().bindings(net.sim.now()).len(), 1);
    net.sim.run_until(lapses).unwrap();
    // Gone at exactly that instant: the clock is the core's.
    let now = net.sim.now();
    assert_eq!(now, lapses);
    assert!(net.server().bindings(now).is_empty(), "at {now}");
    assert_eq!(net.server().store.len(), 1, "not dropped until asked");
    let dropped = net
        .sim
        .node_mut::<EndpointNode<LocationServer>>(net.server)
        .tu_mut()
        .store
        .expire(now);
    assert_eq!(dropped, 1);
    assert!(net.server().store.is_empty());
    // Alice's refresh went out (and was held) and timed out on her side (Timer F).
    let regs = registrations(&net.sim, alice);
    assert_eq!(
        regs.last().unwrap().1,
        RegistrationEvent::Failed { code: 408 },
        "{regs:?}"
    );
}

#[test]
fn wildcard_removes_every_device_of_the_aor() {
    let mut net = Net::new(31, 0.0, registrar_config());
    let desk = net.add("alice-desk", phone("alice", ALICE, None, 31));
    let mobile = net.add("alice-mobile", phone("alice", ALICE2, None, 32));
    net.ua(desk, |now, ua| ua.register(now, addr(SERVER), 600).unwrap());
    net.ua(mobile, |now, ua| {
        ua.register(now, addr(SERVER), 300).unwrap()
    });
    net.run_for(2);
    let now = net.sim.now();
    assert_eq!(
        net.server().bindings(now),
        [
            ("sip:alice@192.0.2.10:5060".to_string(), 599),
            ("sip:alice@192.0.2.11:5060".to_string(), 299)
        ]
    );
    net.ua(mobile, |now, ua| ua.query_registration(now).unwrap());
    net.run_for(1);
    assert_eq!(
        registrations(&net.sim, mobile).last().unwrap().1,
        RegistrationEvent::Bindings { count: 2 }
    );
    // `Contact: *` from the desk phone removes the mobile's binding too: its Call-ID is
    // another one (§10.3 step 6).
    net.ua(desk, |now, ua| ua.unregister_all(now).unwrap());
    net.run_for(1);
    assert!(net.server().bindings(net.sim.now()).is_empty());
    assert_eq!(
        registrations(&net.sim, desk).last().unwrap().1,
        RegistrationEvent::Unregistered
    );
}

#[test]
fn interval_too_brief_then_min_expires() {
    let mut net = Net::new(12, 0.0, registrar_config());
    let alice = net.add("alice", phone("alice", ALICE, None, 12));
    net.ua(alice, |now, ua| ua.register(now, addr(SERVER), 30).unwrap());
    net.run_for(5);
    assert_eq!(
        registrations(&net.sim, alice)
            .iter()
            .map(|r| r.1)
            .collect::<Vec<_>>(),
        [
            RegistrationEvent::RetryWithMinExpires { min_expires: 60 },
            RegistrationEvent::Registered { expires: 60 }
        ]
    );
    assert_eq!(
        net.server().answers,
        [("REGISTER".to_string(), 423), ("REGISTER".to_string(), 200)]
    );
    let responses = net.server_responses();
    assert!(
        responses[0].starts_with("SIP/2.0 423 Interval Too Brief\r\n")
            && responses[0].contains("\r\nMin-Expires: 60\r\n"),
        "{}",
        responses[0]
    );
    assert_eq!(net.server().bindings(net.sim.now()).len(), 1);
}

#[test]
fn registration_under_20_percent_loss() {
    for seed in 400..406 {
        let mut net = Net::new(seed, 0.20, registrar_config());
        let alice = net.add("alice", phone("alice", ALICE, None, seed));
        net.ua(alice, |now, ua| {
            ua.register(now, addr(SERVER), 3600).unwrap()
        });
        net.sim.run_until(Instant::from_millis(700_000)).unwrap();
        let regs = registrations(&net.sim, alice);
        let registered = regs
            .iter()
            .filter(|(_, r)| matches!(r, RegistrationEvent::Registered { .. }))
            .count();
        assert!(registered >= 2, "seed {seed}: {regs:?}");
        // Retransmissions and refreshes never make a second binding, and never an out-of-order
        // refusal: a retransmission is absorbed by the server transaction.
        let now = net.sim.now();
        let live = net.server().bindings(now);
        assert!(live.len() <= 1, "seed {seed}: {live:?}");
        assert!(
            net.server().answers.iter().all(|(_, c)| *c == 200),
            "seed {seed}: {:?}",
            net.server().answers
        );
    }
}

fn call_ended(sim: &Sim, ua: NodeId) -> Option<EndReason> {
    sim.node::<UaNode<Phone>>(ua)
        .events()
        .into_iter()
        .find_map(|e| match e {
            UaEvent::Ended { reason, .. } => Some(reason),
            _ => None,
        })
}

#[test]
fn redirect_to_the_registered_contact() {
    let mut net = Net::new(41, 0.0, registrar_config());
    let alice = net.add("alice", phone("alice", ALICE, None, 41));
    // Carol sends everything to the server (her outbound proxy); Dave sends directly.
    let carol = net.add("carol", phone("carol", CAROL, Some(SERVER), 42));
    let dave = net.add("dave", phone("dave", DAVE, None, 43));
    // Nobody registered yet: 404.
    net.ua(carol, |now, ua| {
        ua.invite(now, "sip:alice@atlanta.example.com", Some(OFFER))
            .unwrap();
    });
    net.run_for(1);
    assert_eq!(call_ended(&net.sim, carol), Some(EndReason::Rejected(404)));

    net.ua(alice, |now, ua| {
        ua.register(now, addr(SERVER), 600).unwrap()
    });
    net.run_for(1);
    net.ua(carol, |now, ua| {
        ua.invite(now, "sip:alice@atlanta.example.com", Some(OFFER))
            .unwrap();
    });
    net.run_for(1);
    let ended: Vec<EndReason> = net
        .sim
        .node::<UaNode<Phone>>(carol)
        .events()
        .into_iter()
        .filter_map(|e| match e {
            UaEvent::Ended { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    // Carol follows the 302 (§8.1.3.4), but through her outbound proxy, which is this
    // redirect server: it does not serve the contact's host, so the follow-up gets 404.
    assert_eq!(ended, [EndReason::Rejected(404), EndReason::Rejected(404)]);
    let redirect = net
        .server_responses()
        .into_iter()
        .find(|r| r.starts_with("SIP/2.0 302"))
        .unwrap();
    assert!(
        redirect.contains("\r\nContact: <sip:alice@192.0.2.10:5060>;expires=599\r\n"),
        "{redirect}"
    );

    // The caller's side of §8.1.3.4: the target from the 302, and a new request to it.
    let mut h = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(redirect.as_bytes(), &mut h)
        .unwrap()
        .complete()
        .unwrap();
    let original = sipwire_core::message::Uri::parse(b"sip:alice@atlanta.example.com").unwrap();
    let mut found = [RedirectTarget::EMPTY; 4];
    let n = targets(&msg, &mut |u| u.equivalent(&original), &mut found);
    assert_eq!(n, 1);
    let mut buf = [0u8; 128];
    let target = found[0].request_uri(&mut buf).unwrap().to_string();
    assert_eq!(target, "sip:alice@192.0.2.10:5060");
    let call = {
        let now = net.sim.now();
        net.sim
            .node_mut::<UaNode<Phone>>(dave)
            .command(now, |ua, _| ua.invite(now, &target, Some(OFFER)).unwrap())
    };
    net.run_for(2);
    assert_eq!(
        net.sim.node::<UaNode<Phone>>(dave).ua().state(call),
        Some(CallState::Confirmed)
    );
    assert!(net
        .sim
        .node::<UaNode<Phone>>(alice)
        .events()
        .iter()
        .any(|e| matches!(e, UaEvent::IncomingCall { .. })));
    // The server answered the INVITE (404), the REGISTER and the INVITE (302); the ACKs
    // for the 404 and the 302 were absorbed by its INVITE server transactions (§17.2.1).
    let methods: Vec<&str> = net
        .server()
        .answers
        .iter()
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(methods, ["INVITE", "REGISTER", "INVITE", "INVITE"]);
}

#[test]
fn redirect_300_lists_every_device_by_q() {
    let mut net = Net::new(51, 0.0, registrar_config());
    let desk = net.add("alice-desk", phone("alice", ALICE, None, 51));
    let mobile = net.add("alice-mobile", phone("alice", ALICE2, None, 52));
    let carol = net.add("carol", phone("carol", CAROL, Some(SERVER), 53));
    net.ua(desk, |now, ua| ua.register(now, addr(SERVER), 600).unwrap());
    net.ua(mobile, |now, ua| {
        ua.register(now, addr(SERVER), 300).unwrap()
    });
    net.run_for(1);
    net.ua(carol, |now, ua| {
        ua.invite(now, "sip:alice@atlanta.example.com", Some(OFFER))
            .unwrap();
    });
    net.run_for(1);
    // Carol follows the first (highest q) contact through her outbound proxy, this server,
    // which does not serve it: 404.
    assert_eq!(call_ended(&net.sim, carol), Some(EndReason::Rejected(404)));
    let redirect = net
        .server_responses()
        .into_iter()
        .find(|r| r.starts_with("SIP/2.0 300 Multiple Choices"))
        .unwrap();
    assert!(
        redirect.contains(
            "\r\nContact: <sip:alice@192.0.2.10:5060>;expires=599, \
<sip:alice@192.0.2.11:5060>;expires=299\r\n"
        ),
        "{redirect}"
    );
    // A 3xx is final: the redirect server made no request of its own (§8.3).
    let from_server = net
        .sim
        .trace()
        .iter()
        .filter(|e| e.kind == TraceKind::Sent && e.from == net.server)
        .filter(|e| !net.sim.packet(e.packet).bytes.starts_with(b"SIP/2.0 "))
        .count();
    assert_eq!(from_server, 0);
}

#[test]
fn full_location_service_answers_503() {
    let mut sim = Sim::new(61);
    let server = sim.add_node(
        "server",
        Box::new(EndpointNode::new(
            addr(SERVER),
            ep_config(161),
            16,
            LocationServer::new(1, registrar_config()),
        )),
    );
    let mut net = Net { sim, server };
    net.sim
        .default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let desk = net.add("alice-desk", phone("alice", ALICE, None, 61));
    let mobile = net.add("alice-mobile", phone("alice", ALICE2, None, 62));
    net.ua(desk, |now, ua| ua.register(now, addr(SERVER), 600).unwrap());
    net.run_for(1);
    net.ua(mobile, |now, ua| {
        ua.register(now, addr(SERVER), 600).unwrap()
    });
    net.run_for(1);
    assert_eq!(
        registrations(&net.sim, mobile),
        [(1_020, RegistrationEvent::Failed { code: 503 })]
    );
    let refusal = net.server_responses().pop().unwrap();
    assert!(refusal.contains("\r\nRetry-After: 30\r\n"), "{refusal}");
    // The desk phone's binding is untouched.
    assert_eq!(
        net.server().bindings(net.sim.now()),
        [("sip:alice@192.0.2.10:5060".to_string(), 599)]
    );
}
