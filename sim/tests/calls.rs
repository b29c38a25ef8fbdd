//! The user agent in the simulator (RFC 3261 §8, §10.2, §12–15): each scenario asserts the
//! exact message sequence on a clean network, and the same outcome under 20% loss.

use std::net::SocketAddr;

use sipwire_core::endpoint::{Config, Endpoint};
use sipwire_core::message::builder::ResponseParts;
use sipwire_core::message::validate::Policy;
use sipwire_core::message::{Header, Parser};
use sipwire_core::sdp::{
    answer, check_answer, negotiated, Codec, Direction, LocalMedia, LocalStream,
    SessionDescription, DEFAULT_CODECS,
};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transport::Transport as SipTransport;
use sipwire_core::ua::register::RegistrationEvent;
use sipwire_core::ua::{CallId, CallState, EndReason, UaConfig, UaEvent, UserAgent};
use sipwire_sim::{
    start_line_label, Application, EndpointNode, LinkConfig, NodeId, OwnedEvent, ScriptedPeer, Sim,
    TraceKind, TransactionUser, Transport, UaNode,
};

const ALICE: &str = "192.0.2.10:5060";
const BOB: &str = "192.0.2.20:5060";

const OFFER: &[u8] = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\n\
c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";
const ANSWER: &[u8] = b"v=0\r\no=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\ns=-\r\n\
c=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n";
const HOLD: &[u8] = b"v=0\r\no=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\ns=-\r\n\
c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=sendonly\r\n";
const HELD: &[u8] = b"v=0\r\no=bob 2808844564 2808844565 IN IP4 192.0.2.20\r\ns=-\r\n\
c=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=recvonly\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ua_config(user: &'static str, domain: &'static str, local: &str) -> UaConfig<'static> {
    UaConfig {
        local: addr(local),
        transport: SipTransport::Udp,
        user,
        domain,
        display_name: None,
        outbound_proxy: None,
        policy: Policy {
            methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
            ..Policy::UAS
        },
    }
}

fn ep_config(seed: u64) -> Config {
    Config {
        seed,
        max_message: 2048,
        ..Config::default()
    }
}

/// How the callee answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 180, then 200 with SDP at once.
    Now,
    /// 180 only; the test drives the rest.
    RingOnly,
}

/// A scripted phone application.
struct Phone {
    answer: Answer,
    /// Our session description when answering, or offering in a 2xx.
    sdp: &'static [u8],
    /// How to answer a re-INVITE: Some(answer) accepts, None rejects with 488.
    reinvite: Option<&'static [u8]>,
    /// Answer offers with the sdp module (PCMA + telephone-event) instead of `sdp`.
    negotiate: bool,
    calls: Vec<CallId>,
}

/// Bob's answer to an offer, made by the sdp module: he supports PCMA and telephone-event.
fn bob_answer(offer: &[u8]) -> Vec<u8> {
    let offer = SessionDescription::parse(offer).unwrap();
    let streams = [LocalStream {
        media: "audio",
        port: 3456,
        direction: Direction::SendRecv,
        ptime: None,
    }];
    let local = LocalMedia {
        username: "bob",
        session_id: 2808844564,
        address: "192.0.2.20",
        streams: &streams,
    };
    let mut out = [0u8; 1024];
    answer(
        &offer,
        &[Codec::PCMA, Codec::TELEPHONE_EVENT],
        &local,
        1,
        &mut out,
    )
    .unwrap()
    .to_vec()
}

impl Phone {
    fn callee(answer: Answer) -> Phone {
        Phone {
            answer,
            sdp: ANSWER,
            reinvite: Some(HELD),
            negotiate: false,
            calls: Vec::new(),
        }
    }

    fn caller() -> Phone {
        Phone {
            answer: Answer::Now,
            sdp: OFFER,
            reinvite: Some(HELD),
            negotiate: false,
            calls: Vec::new(),
        }
    }
}

impl Application for Phone {
    fn on_event(&mut self, now: Instant, ua: &mut UserAgent<'static, 'static>, e: UaEvent) {
        match e {
            UaEvent::IncomingCall { call } => {
                self.calls.push(call);
                ua.ring(now, call).unwrap();
                if self.answer == Answer::Now {
                    match (self.negotiate, ua.remote_sdp(call)) {
                        (true, Some(offer)) => {
                            let sdp = bob_answer(offer);
                            ua.answer(now, call, &sdp).unwrap();
                        }
                        _ => ua.answer(now, call, self.sdp).unwrap(),
                    }
                }
            }
            UaEvent::Answered { call } if ua.state(call) == Some(CallState::AwaitingAck) => {
                // The 2xx carried the offer: the answer goes in the ACK (§13.2.1).
                ua.ack(now, call, ANSWER).unwrap();
            }
            UaEvent::Reinvite { call } => match self.reinvite {
                Some(sdp) => ua.accept_reinvite(now, call, sdp).unwrap(),
                None => ua.reject_reinvite(now, call, 488).unwrap(),
            },
            _ => {}
        }
    }
}

struct Pair {
    sim: Sim,
    alice: NodeId,
    bob: NodeId,
}

fn pair(seed: u64, loss: f64, bob_answers: Answer) -> Pair {
    let mut sim = Sim::new(seed);
    let alice = sim.add_node(
        "alice",
        Box::new(UaNode::new(
            ua_config("alice", "atlanta.example.com", ALICE),
            ep_config(seed),
            16,
            2,
            Phone::caller(),
        )),
    );
    let bob = sim.add_node(
        "bob",
        Box::new(UaNode::new(
            ua_config("bob", "biloxi.example.com", BOB),
            ep_config(seed + 1),
            16,
            2,
            Phone::callee(bob_answers),
        )),
    );
    let link = LinkConfig {
        loss,
        jitter: Duration::from_millis(3),
        ..LinkConfig::with_latency(Duration::from_millis(20))
    };
    sim.link(alice, bob, link, link);
    sim.set_max_steps(200_000);
    Pair { sim, alice, bob }
}

impl Pair {
    fn alice(&mut self) -> &mut UaNode<Phone> {
        self.sim.node_mut::<UaNode<Phone>>(self.alice)
    }

    fn bob(&mut self) -> &mut UaNode<Phone> {
        self.sim.node_mut::<UaNode<Phone>>(self.bob)
    }

    fn call(&mut self, offer: Option<&'static [u8]>) -> CallId {
        let now = self.sim.now();
        self.alice().command(now, |ua, _| {
            ua.invite(now, "sip:bob@192.0.2.20:5060", offer).unwrap()
        })
    }

    fn run_for(&mut self, secs: u64) {
        let until = self.sim.now() + Duration::from_secs(secs);
        self.sim.run_until(until).unwrap();
    }

    /// The delivered messages, in order, as `from->to LABEL` (duplicates skipped).
    fn flow(&self) -> Vec<String> {
        flow(&self.sim)
    }
}

fn flow(sim: &Sim) -> Vec<String> {
    sim.trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Delivered { duplicate: false }))
        .map(|e| {
            let p = sim.packet(e.packet);
            format!(
                "{}->{} {}",
                sim.name(e.from),
                e.to.map(|t| sim.name(t)).unwrap_or("?"),
                start_line_label(&p.bytes)
            )
        })
        .collect()
}

fn bob_call(p: &mut Pair) -> CallId {
    p.bob().app().calls[0]
}

fn ended(events: &[UaEvent]) -> Vec<EndReason> {
    events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Ended { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

// ------------------------------------------------------------------ the seed's call

/// INVITE, 180, 200 with SDP, ACK, BYE from Bob, 200 from Alice.
fn basic_call(seed: u64, loss: f64) -> Pair {
    let mut p = pair(seed, loss, Answer::Now);
    let call = p.call(Some(OFFER));
    p.run_for(5);
    assert_eq!(
        p.alice().ua().state(call),
        Some(CallState::Confirmed),
        "seed {seed}"
    );
    let bc = bob_call(&mut p);
    assert_eq!(p.bob().ua().state(bc), Some(CallState::Confirmed));
    assert_eq!(p.alice().ua().remote_sdp(call), Some(ANSWER));
    assert_eq!(p.bob().ua().remote_sdp(bc), Some(OFFER));
    let now = p.sim.now();
    p.bob().command(now, |ua, _| ua.hangup(now, bc).unwrap());
    p.run_for(40);
    assert_eq!(ended(&p.alice().events()), [EndReason::RemoteBye]);
    assert_eq!(ended(&p.bob().events()), [EndReason::LocalBye]);
    assert_eq!(p.alice().ua().active_calls(), 0);
    assert_eq!(p.bob().ua().active_calls(), 0);
    assert_eq!(p.alice().ua().endpoint().transactions(), 0);
    assert_eq!(p.bob().ua().endpoint().transactions(), 0);
    p
}

#[test]
fn direct_call_exact_sequence() {
    let p = basic_call(1, 0.0);
    assert_eq!(
        p.flow(),
        [
            "alice->bob INVITE",
            "bob->alice 180 Ringing",
            "bob->alice 200 OK",
            "alice->bob ACK",
            "bob->alice BYE",
            "alice->bob 200 OK",
        ]
    );
    let alice = p.sim.node::<UaNode<Phone>>(p.alice);
    assert!(matches!(
        alice.events()[..],
        [
            UaEvent::Ringing {
                code: 180,
                early_dialogs: 1,
                ..
            },
            UaEvent::Answered { .. },
            UaEvent::Ended { .. }
        ]
    ));
}

/// Offer/answer end to end: Bob's phone supports PCMA and telephone-event only, and
/// answers Alice's PCMU/PCMA/telephone-event offer with the sdp module; both ends agree on
/// PCMA (the first of the offer's codecs Bob supports) and telephone-event at the offer's 101.
#[test]
fn direct_call_negotiates_the_codec() {
    let mut p = pair(2, 0.0, Answer::Now);
    p.bob().app_mut().negotiate = true;
    let call = p.call(Some(OFFER));
    p.run_for(5);
    let answer = p.alice().ua().remote_sdp(call).unwrap().to_vec();
    let offer = SessionDescription::parse(OFFER).unwrap();
    let answer = SessionDescription::parse(&answer).unwrap();
    let n = negotiated(&offer, &answer, &DEFAULT_CODECS).unwrap();
    assert_eq!((n.codec.name, n.payload_type), ("PCMA", 8));
    assert_eq!(n.telephone_event, Some(101));
    assert_eq!(answer.media().next().unwrap().port(), 3456);
    check_answer(&offer, &answer).unwrap();
}

#[test]
fn direct_call_under_20_percent_loss() {
    for seed in 100..110 {
        let p = basic_call(seed, 0.20);
        // Every message of the flow got through at least once, in causal order.
        let flow = p.flow();
        for want in [
            "alice->bob INVITE",
            "bob->alice 200 OK",
            "alice->bob ACK",
            "bob->alice BYE",
        ] {
            assert!(
                flow.iter().any(|f| f == want),
                "seed {seed}: {want} missing from {flow:?}"
            );
        }
    }
}

// ------------------------------------------------------------------ offer in the 2xx

#[test]
fn invite_without_sdp_offer_in_200_answer_in_ack() {
    let mut p = pair(3, 0.0, Answer::Now);
    p.bob().app_mut().sdp = OFFER;
    let call = p.call(None);
    p.run_for(5);
    let bc = bob_call(&mut p);
    assert_eq!(p.alice().ua().state(call), Some(CallState::Confirmed));
    // Bob's 200 carried the offer; Alice's ACK carried the answer.
    assert_eq!(p.alice().ua().remote_sdp(call), Some(OFFER));
    assert_eq!(p.bob().ua().remote_sdp(bc), Some(ANSWER));
    let ack = p
        .sim
        .trace()
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Delivered { .. }))
        .map(|e| p.sim.packet(e.packet))
        .find(|pk| pk.bytes.starts_with(b"ACK "))
        .unwrap();
    let text = String::from_utf8_lossy(&ack.bytes);
    assert!(text.contains("Content-Type: application/sdp"), "{text}");
    assert!(text.ends_with(std::str::from_utf8(ANSWER).unwrap()));
    assert_eq!(
        p.flow(),
        [
            "alice->bob INVITE",
            "bob->alice 180 Ringing",
            "bob->alice 200 OK",
            "alice->bob ACK"
        ]
    );
}

// ------------------------------------------------------------------ re-INVITE

fn reinvite(seed: u64, loss: f64, bob_accepts: bool) -> (Pair, CallId) {
    let mut p = pair(seed, loss, Answer::Now);
    if !bob_accepts {
        p.bob().app_mut().reinvite = None;
    }
    let call = p.call(Some(OFFER));
    p.run_for(5);
    assert_eq!(p.alice().ua().state(call), Some(CallState::Confirmed));
    let now = p.sim.now();
    p.alice()
        .command(now, |ua, _| ua.reinvite(now, call, HOLD).unwrap());
    p.run_for(40);
    (p, call)
}

#[test]
fn reinvite_accepted_changes_the_session() {
    let (mut p, call) = reinvite(4, 0.0, true);
    let bc = bob_call(&mut p);
    assert!(p
        .alice()
        .events()
        .contains(&UaEvent::ReinviteDone { call, code: 200 }));
    assert_eq!(p.alice().ua().local_sdp(call), Some(HOLD));
    assert_eq!(p.alice().ua().remote_sdp(call), Some(HELD));
    assert_eq!(p.bob().ua().remote_sdp(bc), Some(HOLD));
    assert_eq!(p.alice().ua().state(call), Some(CallState::Confirmed));
    assert_eq!(
        p.flow()[4..],
        ["alice->bob INVITE", "bob->alice 200 OK", "alice->bob ACK"]
    );
}

#[test]
fn reinvite_rejected_488_keeps_the_old_session() {
    let (mut p, call) = reinvite(5, 0.0, false);
    let bc = bob_call(&mut p);
    assert!(p
        .alice()
        .events()
        .contains(&UaEvent::ReinviteDone { call, code: 488 }));
    assert_eq!(p.alice().ua().local_sdp(call), Some(OFFER));
    assert_eq!(p.alice().ua().remote_sdp(call), Some(ANSWER));
    assert_eq!(p.bob().ua().remote_sdp(bc), Some(OFFER));
    assert_eq!(
        p.alice().ua().state(call),
        Some(CallState::Confirmed),
        "a failed re-INVITE keeps the call"
    );
    assert_eq!(
        p.flow()[4..],
        [
            "alice->bob INVITE",
            "bob->alice 488 Not Acceptable Here",
            "alice->bob ACK"
        ]
    );
}

#[test]
fn reinvite_under_20_percent_loss() {
    for seed in 200..206 {
        let (mut p, call) = reinvite(seed, 0.20, true);
        assert!(
            p.alice()
                .events()
                .contains(&UaEvent::ReinviteDone { call, code: 200 }),
            "seed {seed}"
        );
        let (mut p2, call2) = reinvite(seed + 50, 0.20, false);
        assert!(
            p2.alice().events().contains(&UaEvent::ReinviteDone {
                call: call2,
                code: 488
            }),
            "seed {seed}"
        );
        assert_eq!(p2.alice().ua().local_sdp(call2), Some(OFFER));
        let _ = &mut p;
    }
}

// ------------------------------------------------------------------ CANCEL

fn cancel(seed: u64, loss: f64) -> Pair {
    let mut p = pair(seed, loss, Answer::RingOnly);
    let call = p.call(Some(OFFER));
    // Under loss the 180 may need the INVITE's retransmissions: wait for it.
    for _ in 0..20 {
        p.run_for(1);
        if p.alice().ua().state(call) == Some(CallState::Ringing) {
            break;
        }
    }
    assert_eq!(
        p.alice().ua().state(call),
        Some(CallState::Ringing),
        "seed {seed}"
    );
    let now = p.sim.now();
    p.alice()
        .command(now, |ua, _| ua.hangup(now, call).unwrap());
    p.run_for(40);
    assert_eq!(
        ended(&p.alice().events()),
        [EndReason::Cancelled],
        "seed {seed}"
    );
    assert_eq!(
        ended(&p.bob().events()),
        [EndReason::Cancelled],
        "seed {seed}"
    );
    assert_eq!(p.alice().ua().endpoint().transactions(), 0);
    assert_eq!(p.bob().ua().endpoint().transactions(), 0);
    p
}

#[test]
fn cancel_before_answer() {
    let p = cancel(6, 0.0);
    // §9: the CANCEL gets 200, the INVITE 487, which Alice's transaction ACKs.
    let mut flow = p.flow();
    let tail = flow.split_off(2);
    assert_eq!(flow, ["alice->bob INVITE", "bob->alice 180 Ringing"]);
    let mut tail_sorted = tail.clone();
    tail_sorted.sort();
    assert_eq!(
        tail_sorted,
        [
            "alice->bob ACK",
            "alice->bob CANCEL",
            "bob->alice 200 OK",
            "bob->alice 487 Request Terminated"
        ],
        "{tail:?}"
    );
    assert_eq!(tail[0], "alice->bob CANCEL");
    assert_eq!(tail.last().unwrap(), "alice->bob ACK");
}

#[test]
fn cancel_under_20_percent_loss() {
    for seed in 300..306 {
        cancel(seed, 0.20);
    }
}

// ------------------------------------------------------------------ 481

#[test]
fn bye_in_unknown_dialog_gets_481() {
    let mut sim = Sim::new(7);
    let bye = "BYE sip:bob@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKnodialog\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>;tag=nosuch\r\nFrom: <sip:carol@chicago.example.com>;tag=c1\r\n\
Call-ID: unknown-dialog\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    let mut peer = ScriptedPeer::new(addr("192.0.2.30:5060"));
    peer.send_at(Instant::ZERO, Transport::Udp, addr(BOB), bye);
    let c = sim.add_node("carol", Box::new(peer));
    sim.add_node(
        "bob",
        Box::new(UaNode::new(
            ua_config("bob", "biloxi.example.com", BOB),
            ep_config(7),
            8,
            2,
            Phone::callee(Answer::Now),
        )),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.run_until(Instant::from_millis(1000)).unwrap();
    let f = flow(&sim);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0], "carol->bob BYE");
    assert!(f[1].starts_with("bob->carol 481 "), "{f:?}");
    let got = &sim.node::<ScriptedPeer>(c).received()[0].1.bytes;
    assert!(String::from_utf8_lossy(got).contains("CSeq: 2 BYE"));
}

#[test]
fn options_answered_with_allow_accept_supported() {
    let mut sim = Sim::new(8);
    let options = "OPTIONS sip:bob@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30:5060;branch=z9hG4bKopt1\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\nFrom: <sip:carol@chicago.example.com>;tag=c1\r\n\
Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n";
    let mut peer = ScriptedPeer::new(addr("192.0.2.30:5060"));
    peer.send_at(Instant::ZERO, Transport::Udp, addr(BOB), options);
    let c = sim.add_node("carol", Box::new(peer));
    sim.add_node(
        "bob",
        Box::new(UaNode::new(
            ua_config("bob", "biloxi.example.com", BOB),
            ep_config(8),
            8,
            2,
            Phone::callee(Answer::Now),
        )),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.run_until(Instant::from_millis(1000)).unwrap();
    let got =
        String::from_utf8_lossy(&sim.node::<ScriptedPeer>(c).received()[0].1.bytes).into_owned();
    assert!(got.starts_with("SIP/2.0 200 OK\r\n"), "{got}");
    assert!(
        got.contains("\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"),
        "{got}"
    );
    assert!(got.contains("\r\nAccept: application/sdp\r\n"), "{got}");
    assert!(got.contains("\r\nSupported: \r\n"), "{got}");
}

#[test]
fn options_from_the_ua_reports_the_status_and_times_out_as_408() {
    let mut p = pair(9, 0.0, Answer::Now);
    let now = p.sim.now();
    let (to_bob, to_nobody) = p.alice().command(now, |ua, _| {
        let a = ua.options(now, "sip:bob@192.0.2.20:5060").unwrap();
        let b = ua.options(now, "sip:nobody@192.0.2.99:5060").unwrap();
        // §11: at most OPTIONS_PENDING outstanding; a third is a clean error.
        assert_eq!(
            ua.options(now, "sip:bob@192.0.2.20:5060"),
            Err(sipwire_core::ua::UaError::TooManyCalls)
        );
        (a, b)
    });
    p.run_for(40);
    let answered: Vec<_> = p
        .alice()
        .events()
        .iter()
        .filter_map(|e| match e {
            UaEvent::OptionsAnswered { tx, code } => Some((*tx, *code)),
            _ => None,
        })
        .collect();
    assert_eq!(answered, [(to_bob, 200), (to_nobody, 408)]);
    assert_eq!(p.flow()[..2], ["alice->bob OPTIONS", "bob->alice 200 OK"]);
    assert_eq!(p.alice().ua().endpoint().transactions(), 0);
}

// ------------------------------------------------------------------ forking

/// A fork emulator: answers the INVITE as two UASs behind a proxy would look to the caller:
/// 180 from fork A, 180 from fork B, 200 from A, then 200 from B too.
struct Forker {
    byes: usize,
}

impl TransactionUser for Forker {
    fn on_event(&mut self, now: Instant, ep: &mut Endpoint<'static>, e: OwnedEvent) {
        if let OwnedEvent::Request { tx, bytes, .. } = e {
            let mut h = [Header::EMPTY; 32];
            let m = Parser::datagram()
                .parse(&bytes, &mut h)
                .unwrap()
                .complete()
                .unwrap();
            match m.method() {
                Some("INVITE") => {
                    let ca: &[(&str, &[u8])] = &[("Contact", b"<sip:bob@192.0.2.20:5060>")];
                    let cb: &[(&str, &[u8])] = &[("Contact", b"<sip:bob-desk@192.0.2.20:5060>")];
                    for (code, tag, contact, body) in [
                        (180, "forkA", ca, &b""[..]),
                        (180, "forkB", cb, b""),
                        (200, "forkA", ca, ANSWER),
                        (200, "forkB", cb, ANSWER),
                    ] {
                        let parts = ResponseParts {
                            to_tag: Some(tag),
                            extra: contact,
                            content_type: (!body.is_empty()).then_some("application/sdp"),
                            body,
                            ..ResponseParts::new(code, if code == 180 { "Ringing" } else { "OK" })
                        };
                        ep.respond(now, tx, &parts).unwrap();
                    }
                }
                Some("BYE") => {
                    self.byes += 1;
                    ep.respond(now, tx, &ResponseParts::new(200, "OK")).unwrap();
                }
                _ => {}
            }
        }
    }
}

#[test]
fn forked_invite_two_early_dialogs_second_2xx_acked_and_byed() {
    let mut sim = Sim::new(9);
    let alice = sim.add_node(
        "alice",
        Box::new(UaNode::new(
            ua_config("alice", "atlanta.example.com", ALICE),
            ep_config(9),
            16,
            2,
            Phone::caller(),
        )),
    );
    sim.add_node(
        "bob",
        Box::new(EndpointNode::new(
            addr(BOB),
            ep_config(10),
            16,
            Forker { byes: 0 },
        )),
    );
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(10)));
    let now = sim.now();
    let call = sim.node_mut::<UaNode<Phone>>(alice).command(now, |ua, _| {
        ua.invite(now, "sip:bob@192.0.2.20:5060", Some(OFFER))
            .unwrap()
    });
    sim.run_until(Instant::from_millis(5000)).unwrap();
    let a = sim.node::<UaNode<Phone>>(alice);
    let ringing: Vec<usize> = a
        .events()
        .iter()
        .filter_map(|e| match e {
            UaEvent::Ringing { early_dialogs, .. } => Some(*early_dialogs),
            _ => None,
        })
        .collect();
    assert_eq!(ringing, [1, 2], "two early dialogs");
    assert_eq!(a.ua().early_dialogs(call), 2);
    assert_eq!(a.ua().state(call), Some(CallState::Confirmed));
    assert_eq!(a.ua().dialog(call).unwrap().remote_tag(), "forkA");
    assert_eq!(
        flow(&sim),
        [
            "alice->bob INVITE",
            "bob->alice 180 Ringing",
            "bob->alice 180 Ringing",
            "bob->alice 200 OK",
            "bob->alice 200 OK",
            "alice->bob ACK",
            "alice->bob ACK",
            "alice->bob BYE",
            "bob->alice 200 OK",
        ]
    );
    // The BYE went to fork B's dialog only.
    let bye = sim
        .trace()
        .iter()
        .map(|e| sim.packet(e.packet))
        .find(|p| p.bytes.starts_with(b"BYE "))
        .unwrap();
    let text = String::from_utf8_lossy(&bye.bytes);
    assert!(
        text.starts_with("BYE sip:bob-desk@192.0.2.20:5060 SIP/2.0"),
        "{text}"
    );
    assert!(text.contains(";tag=forkB"), "{text}");
}

// ------------------------------------------------------------------ REGISTER

/// A minimal registrar for the client's test: grants what the Contact asks, capped at 600 s,
/// answers 423 below 60 s, and lists the binding (or none after a removal).
struct TestRegistrar {
    registers: Vec<String>,
}

impl TransactionUser for TestRegistrar {
    fn on_event(&mut self, now: Instant, ep: &mut Endpoint<'static>, e: OwnedEvent) {
        if let OwnedEvent::Request { tx, bytes, .. } = e {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut h = [Header::EMPTY; 32];
            let m = Parser::datagram()
                .parse(&bytes, &mut h)
                .unwrap()
                .complete()
                .unwrap();
            let expires = m.expires().unwrap().unwrap_or(3600);
            self.registers.push(text);
            if expires > 0 && expires < 60 {
                let extra: &[(&str, &[u8])] = &[("Min-Expires", b"60")];
                let parts = ResponseParts {
                    to_tag: Some("reg1"),
                    extra,
                    ..ResponseParts::new(423, "Interval Too Brief")
                };
                ep.respond(now, tx, &parts).unwrap();
                return;
            }
            let granted = expires.min(600);
            let contact = format!("<sip:alice@192.0.2.10:5060>;expires={granted}");
            let extra: Vec<(&str, &[u8])> = if granted > 0 {
                vec![("Contact", contact.as_bytes())]
            } else {
                vec![]
            };
            let parts = ResponseParts {
                to_tag: Some("reg1"),
                extra: &extra,
                ..ResponseParts::new(200, "OK")
            };
            ep.respond(now, tx, &parts).unwrap();
        }
    }
}

fn registrations(sim: &Sim, alice: NodeId) -> Vec<(u64, RegistrationEvent)> {
    sim.node::<UaNode<Phone>>(alice)
        .log
        .iter()
        .filter_map(|(t, e)| match e {
            UaEvent::Registration(r) => Some((t.as_millis(), *r)),
            _ => None,
        })
        .collect()
}

fn register_scenario(seed: u64, loss: f64, expires: u32) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    let alice = sim.add_node(
        "alice",
        Box::new(UaNode::new(
            ua_config("alice", "atlanta.example.com", ALICE),
            ep_config(seed),
            16,
            2,
            Phone::caller(),
        )),
    );
    let reg = sim.add_node(
        "registrar",
        Box::new(EndpointNode::new(
            addr(BOB),
            ep_config(seed + 1),
            16,
            TestRegistrar { registers: vec![] },
        )),
    );
    let link = LinkConfig {
        loss,
        ..LinkConfig::with_latency(Duration::from_millis(10))
    };
    sim.link(alice, reg, link, link);
    sim.set_max_steps(200_000);
    let now = sim.now();
    sim.node_mut::<UaNode<Phone>>(alice)
        .command(now, |ua, _| ua.register(now, addr(BOB), expires).unwrap());
    (sim, alice, reg)
}

#[test]
fn register_refresh_and_removal() {
    let (mut sim, alice, reg) = register_scenario(11, 0.0, 3600);
    // Granted 600 s (the registrar's cap): refreshed before it runs out, twice in 1,300 s.
    sim.run_until(Instant::from_millis(1_300_000)).unwrap();
    let regs = registrations(&sim, alice);
    assert!(regs.len() >= 3, "{regs:?}");
    assert!(regs
        .iter()
        .all(|(_, r)| *r == RegistrationEvent::Registered { expires: 600 }));
    assert_eq!(regs[0].0, 20);
    assert!(
        regs[1].0 < 600_000 && regs[1].0 > 500_000,
        "refresh before expiry: {regs:?}"
    );
    let texts = &sim.node::<EndpointNode<TestRegistrar>>(reg).tu().registers;
    // Same Call-ID, CSeq up by one each time (§10.2.4, §10.2.6).
    let call_ids: Vec<&str> = texts
        .iter()
        .map(|t| t.lines().find(|l| l.starts_with("Call-ID")).unwrap())
        .collect();
    assert!(call_ids.windows(2).all(|w| w[0] == w[1]));
    assert!(texts[0].contains("CSeq: 1 REGISTER") && texts[1].contains("CSeq: 2 REGISTER"));
    // Remove the binding, then every binding.
    let now = sim.now();
    sim.node_mut::<UaNode<Phone>>(alice)
        .command(now, |ua, _| ua.unregister(now).unwrap());
    sim.run_until(now + Duration::from_secs(5)).unwrap();
    let now = sim.now();
    sim.node_mut::<UaNode<Phone>>(alice)
        .command(now, |ua, _| ua.unregister_all(now).unwrap());
    sim.run_until(now + Duration::from_secs(5)).unwrap();
    let regs = registrations(&sim, alice);
    assert_eq!(regs[regs.len() - 2].1, RegistrationEvent::Unregistered);
    assert_eq!(regs[regs.len() - 1].1, RegistrationEvent::Unregistered);
    let texts = &sim.node::<EndpointNode<TestRegistrar>>(reg).tu().registers;
    let last = texts.last().unwrap();
    assert!(
        last.contains("\r\nContact: *\r\n") && last.contains("\r\nExpires: 0\r\n"),
        "{last}"
    );
    let before = &texts[texts.len() - 2];
    assert!(
        before.contains("expires=0") || before.contains("Expires: 0"),
        "{before}"
    );
}

#[test]
fn register_423_retries_with_min_expires() {
    let (mut sim, alice, reg) = register_scenario(12, 0.0, 30);
    sim.run_until(Instant::from_millis(5_000)).unwrap();
    let regs = registrations(&sim, alice);
    assert_eq!(
        regs.iter().map(|r| r.1).collect::<Vec<_>>(),
        [
            RegistrationEvent::RetryWithMinExpires { min_expires: 60 },
            RegistrationEvent::Registered { expires: 60 }
        ]
    );
    let texts = &sim.node::<EndpointNode<TestRegistrar>>(reg).tu().registers;
    assert!(texts[1].contains("Expires: 60"), "{}", texts[1]);
}

#[test]
fn register_under_20_percent_loss() {
    for seed in 400..406 {
        let (mut sim, alice, _) = register_scenario(seed, 0.20, 3600);
        sim.run_until(Instant::from_millis(700_000)).unwrap();
        let regs = registrations(&sim, alice);
        assert!(
            regs.iter()
                .filter(|(_, r)| matches!(r, RegistrationEvent::Registered { .. }))
                .count()
                >= 2,
            "seed {seed}: {regs:?}"
        );
    }
}

#[test]
fn forked_and_offerless_calls_under_20_percent_loss() {
    for seed in 500..506 {
        let mut p = pair(seed, 0.20, Answer::Now);
        p.bob().app_mut().sdp = OFFER;
        let call = p.call(None);
        p.run_for(40);
        assert_eq!(
            p.alice().ua().state(call),
            Some(CallState::Confirmed),
            "seed {seed}"
        );
        let bc = bob_call(&mut p);
        assert_eq!(p.bob().ua().remote_sdp(bc), Some(ANSWER), "seed {seed}");
    }
}

// ------------------------------------------------------------------ glare, lost ACK

#[test]
fn reinvite_glare_491_then_retry_per_14_1() {
    let mut p = pair(13, 0.0, Answer::Now);
    let call = p.call(Some(OFFER));
    p.run_for(5);
    let bc = bob_call(&mut p);
    // Both re-INVITE at the same instant: each gets 491, then retries after its §14.1
    // delay (the Call-ID owner, Alice, waits 2.1–4 s; Bob 0–2 s), and both succeed.
    let now = p.sim.now();
    p.alice()
        .command(now, |ua, _| ua.reinvite(now, call, HOLD).unwrap());
    p.bob()
        .command(now, |ua, _| ua.reinvite(now, bc, HELD).unwrap());
    p.run_for(30);
    let flow = p.flow();
    assert_eq!(
        flow.iter()
            .filter(|f| f.ends_with("491 Request Pending"))
            .count(),
        2,
        "{flow:?}"
    );
    assert!(p
        .alice()
        .events()
        .contains(&UaEvent::ReinviteDone { call, code: 200 }));
    assert!(p.bob().events().contains(&UaEvent::ReinviteDone {
        call: bc,
        code: 200
    }));
    // Bob (not the Call-ID owner) retried first, within 2 s of the 491.
    let done_at = |node: &UaNode<Phone>, c: CallId| {
        node.log
            .iter()
            .find(|(_, e)| *e == UaEvent::ReinviteDone { call: c, code: 200 })
            .unwrap()
            .0
    };
    let a = done_at(p.sim.node::<UaNode<Phone>>(p.alice), call);
    let b = done_at(p.sim.node::<UaNode<Phone>>(p.bob), bc);
    assert!(b < a, "bob {b} alice {a}");
    assert!(b.saturating_since(now) < Duration::from_millis(2_200));
    assert!(a.saturating_since(now) >= Duration::from_millis(2_100));
    assert_eq!(p.alice().ua().state(call), Some(CallState::Confirmed));
}

#[test]
fn no_ack_for_2xx_ends_the_call_with_bye_after_64_t1() {
    let mut p = pair(14, 0.0, Answer::Now);
    let alice = p.alice;
    let bob = p.bob;
    // Alice's ACKs never arrive (a broken NAT, say): Bob retransmits the 2xx with T1
    // doubling to T2, gives up at 64·T1 and sends BYE (§13.3.1.4).
    let call = p.call(Some(OFFER));
    p.sim.run_until(Instant::from_millis(5)).unwrap();
    p.sim.drop_next(alice, bob, 1_000);
    p.run_for(40);
    let bc = bob_call(&mut p);
    let oks: Vec<u64> = p
        .sim
        .trace()
        .iter()
        .filter(|e| e.from == bob && matches!(e.kind, TraceKind::Sent))
        .filter(|e| p.sim.packet(e.packet).bytes.starts_with(b"SIP/2.0 200 OK"))
        .map(|e| e.time.as_millis())
        .collect();
    // Sent at t0 = 20 ms (the INVITE's arrival), then t0 + 0.5, 1.5, 3.5, 7.5, 11.5 ... 31.5 s.
    let t0 = oks[0];
    let deltas: Vec<u64> = oks.iter().map(|t| t - t0).collect();
    assert_eq!(deltas[..6], [0, 500, 1500, 3500, 7500, 11500], "{deltas:?}");
    assert!(ended(&p.bob().events()).contains(&EndReason::NoAck));
    assert!(
        matches!(p.bob().ua().state(bc), None | Some(CallState::Ended)),
        "bob's call is over"
    );
    assert!(p.flow().iter().any(|f| f == "bob->alice BYE"));
    let _ = call;
}
