//! The simulator's event loop, links and hooks.

mod common;

use std::any::Any;
use std::net::SocketAddr;

use common::{addr, Echo};
use sipwire_sim::{
    DropReason, Duration, Instant, LinkConfig, Node, NodeId, Packet, ScriptedPeer, Sim, SimError,
    Stop, TraceKind, Transport,
};

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn latency(millis: u64) -> LinkConfig {
    LinkConfig::with_latency(Duration::from_millis(millis))
}

/// A sim with `alice` (a scripted sender at .1) and `bob` (a recording peer at .2), alice
/// sending `n` UDP packets numbered "0", "1", ... one millisecond apart over `cfg`.
fn blast(seed: u64, cfg: LinkConfig, n: u64) -> (Sim, NodeId, NodeId) {
    let mut alice = ScriptedPeer::new(addr(1));
    for i in 0..n {
        alice.send_at(ms(i), Transport::Udp, addr(2), i.to_string());
    }
    let mut sim = Sim::new(seed);
    let a = sim.add_node("alice", Box::new(alice));
    let b = sim.add_node("bob", Box::new(ScriptedPeer::new(addr(2))));
    sim.link(a, b, cfg, LinkConfig::default());
    (sim, a, b)
}

fn count(sim: &Sim, kind: TraceKind) -> usize {
    sim.trace().iter().filter(|e| e.kind == kind).count()
}

/// The ids of the packets dropped for `reason`.
fn dropped(sim: &Sim, reason: DropReason) -> Vec<usize> {
    sim.trace()
        .iter()
        .filter(|e| e.kind == TraceKind::Dropped(reason))
        .map(|e| e.packet.index())
        .collect()
}

fn payloads(got: &[(Instant, Packet)]) -> Vec<String> {
    got.iter()
        .map(|(_, p)| String::from_utf8(p.bytes.clone()).unwrap())
        .collect()
}

#[test]
fn udp_exchange_has_exact_times_and_trace() {
    let mut alice = ScriptedPeer::new(addr(1));
    alice.send_at(ms(0), Transport::Udp, addr(2), "ping1");
    alice.send_at(ms(5), Transport::Udp, addr(2), "ping2");
    let mut sim = Sim::new(42);
    let a = sim.add_node("alice", Box::new(alice));
    let b = sim.add_node("bob", Box::new(Echo::new(addr(2))));
    sim.link(a, b, latency(10), latency(20));

    let stats = sim.run().unwrap();
    assert_eq!(stats.steps, 6, "two sends and four arrivals");
    assert_eq!(stats.timeouts, 2);
    assert_eq!((stats.sent, stats.delivered, stats.dropped), (4, 4, 0));
    assert_eq!(stats.stop, Stop::Idle);
    assert_eq!(sim.now(), ms(35));

    let bob = sim.node::<Echo>(b);
    assert_eq!(bob.received[0].0, ms(10));
    assert_eq!(bob.received[1].0, ms(15));
    let got = sim.node::<ScriptedPeer>(a).received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, ms(30));
    assert_eq!(got[1].0, ms(35));
    assert_eq!(got[0].1, Packet::udp(addr(2), addr(1), &b"ping1"[..]));
    assert_eq!(payloads(got), ["ping1", "ping2"]);

    let delivered = TraceKind::Delivered { duplicate: false };
    let expected = [
        (ms(0), 0, a, Some(b), TraceKind::Sent),
        (ms(5), 1, a, Some(b), TraceKind::Sent),
        (ms(10), 0, a, Some(b), delivered),
        (ms(10), 2, b, Some(a), TraceKind::Sent),
        (ms(15), 1, a, Some(b), delivered),
        (ms(15), 3, b, Some(a), TraceKind::Sent),
        (ms(30), 2, b, Some(a), delivered),
        (ms(35), 3, b, Some(a), delivered),
    ];
    let trace: Vec<_> = sim
        .trace()
        .iter()
        .map(|e| (e.time, e.packet.index(), e.from, e.to, e.kind))
        .collect();
    assert_eq!(trace, expected);
    assert_eq!(sim.packet(sim.trace()[3].packet).dst, addr(1));
}

#[test]
fn packets_to_unknown_addresses_are_dropped_as_no_route() {
    let mut alice = ScriptedPeer::new(addr(1));
    alice.send_at(ms(1), Transport::Udp, addr(9), "nobody");
    let mut sim = Sim::new(1);
    let a = sim.add_node("alice", Box::new(alice));
    let stats = sim.run().unwrap();
    assert_eq!(stats.dropped, 1);
    let last = sim.trace().last().unwrap();
    assert_eq!(last.kind, TraceKind::Dropped(DropReason::NoRoute));
    assert_eq!((last.from, last.to, last.time), (a, None, ms(1)));
}

#[test]
fn loss_is_in_band_and_reproducible() {
    let lossy = LinkConfig {
        loss: 0.3,
        ..latency(10)
    };
    let lost = |seed| {
        let (mut sim, _, b) = blast(seed, lossy, 1000);
        sim.run().unwrap();
        let lost = dropped(&sim, DropReason::Loss);
        assert_eq!(
            sim.node::<ScriptedPeer>(b).received().len() + lost.len(),
            1000
        );
        lost
    };
    let first = lost(7);
    assert!(
        (250..=350).contains(&first.len()),
        "lost {} of 1000",
        first.len()
    );
    assert_eq!(first, lost(7), "same seed, same losses");
    let other = lost(8);
    assert!((250..=350).contains(&other.len()));
    assert_ne!(first, other, "another seed, other losses");
}

#[test]
fn drop_next_drops_exactly_the_next_n_and_keeps_the_draws() {
    let (mut sim, a, b) = blast(3, latency(10), 10);
    sim.drop_next(a, b, 3);
    sim.run().unwrap();
    assert_eq!(dropped(&sim, DropReason::Hook), [0, 1, 2]);
    let got = sim.node::<ScriptedPeer>(b).received();
    assert_eq!(payloads(got), ["3", "4", "5", "6", "7", "8", "9"]);

    // With random loss too, the hook does not shift the later packets' draws.
    let lossy = LinkConfig {
        loss: 0.5,
        ..latency(10)
    };
    let losses = |hook: bool| {
        let (mut sim, a, b) = blast(3, lossy, 100);
        if hook {
            sim.drop_next(a, b, 3);
        }
        sim.run().unwrap();
        dropped(&sim, DropReason::Loss)
            .into_iter()
            .filter(|&i| i >= 3)
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(true), losses(false));
}

#[test]
fn hold_queues_and_release_delivers_in_order() {
    let (mut sim, a, b) = blast(5, latency(10), 5);
    sim.hold(a, b);
    let stats = sim.run_until(ms(100)).unwrap();
    assert_eq!(stats.stop, Stop::Idle, "held packets are not in flight");
    assert_eq!(sim.now(), ms(100));
    assert!(sim.node::<ScriptedPeer>(b).received().is_empty());
    assert_eq!(count(&sim, TraceKind::Held), 5);

    sim.release(a, b);
    sim.run().unwrap();
    let got = sim.node::<ScriptedPeer>(b).received();
    assert_eq!(payloads(got), ["0", "1", "2", "3", "4"]);
    assert!(got.iter().all(|(t, _)| *t == ms(110)));

    // Released: later packets flow normally again.
    sim.node_mut::<ScriptedPeer>(a)
        .send_at(ms(200), Transport::Udp, addr(2), "5");
    sim.run().unwrap();
    assert_eq!(sim.node::<ScriptedPeer>(b).received()[5].0, ms(210));
}

#[test]
fn duplication_happens_at_its_rate() {
    let dupy = LinkConfig {
        duplicate: 0.25,
        jitter: Duration::from_millis(3),
        ..latency(10)
    };
    let run = |seed| {
        let (mut sim, _, b) = blast(seed, dupy, 1000);
        sim.run().unwrap();
        let dups = count(&sim, TraceKind::Duplicated);
        assert_eq!(count(&sim, TraceKind::Delivered { duplicate: true }), dups);
        assert_eq!(sim.node::<ScriptedPeer>(b).received().len(), 1000 + dups);
        (dups, sim.pcap(), sim.ladder())
    };
    let first = run(11);
    assert!((200..=300).contains(&first.0), "duplicated {}", first.0);
    assert_eq!(first, run(11));
}

#[test]
fn reordering_happens_at_its_rate() {
    let shuffled = LinkConfig {
        reorder: 0.2,
        ..latency(10)
    };
    let run = |seed| {
        let (mut sim, _, b) = blast(seed, shuffled, 1000);
        sim.run().unwrap();
        let got = sim.node::<ScriptedPeer>(b).received();
        assert_eq!(got.len(), 1000);
        let indices: Vec<u64> = payloads(got).iter().map(|s| s.parse().unwrap()).collect();
        // Delayed: arrived later than the plain latency.
        let delayed = got
            .iter()
            .zip(&indices)
            .filter(|((t, _), &i)| *t > ms(i + 10))
            .count();
        // Overtaken: a later-sent packet arrived first.
        let mut highest = 0;
        let mut overtaken = 0;
        for &i in &indices {
            if i < highest {
                overtaken += 1;
            }
            highest = highest.max(i);
        }
        (delayed, overtaken, indices)
    };
    let (delayed, overtaken, order) = run(13);
    assert!((150..=250).contains(&delayed), "delayed {delayed}");
    // Only delayed packets are overtaken, and with 1 ms spacing all are but the last few.
    assert!(
        overtaken <= delayed && overtaken + 10 >= delayed,
        "{overtaken} of {delayed}"
    );
    assert_eq!((delayed, overtaken, order), run(13));
}

#[test]
fn tcp_is_reliable_and_in_order() {
    let awful = LinkConfig {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(50),
        loss: 1.0,
        duplicate: 1.0,
        reorder: 1.0,
    };
    let mut alice = ScriptedPeer::new(addr(1));
    for i in 0..50u64 {
        alice.send_at(ms(i), Transport::Tcp, addr(2), i.to_string());
    }
    let mut sim = Sim::new(17);
    let a = sim.add_node("alice", Box::new(alice));
    let b = sim.add_node("bob", Box::new(ScriptedPeer::new(addr(2))));
    sim.link(a, b, awful, awful);
    sim.run().unwrap();
    let got = sim.node::<ScriptedPeer>(b).received();
    let expected: Vec<String> = (0..50).map(|i: u64| i.to_string()).collect();
    assert_eq!(payloads(got), expected);
    assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, (t, _))| *t >= ms(i as u64 + 10) && *t <= ms(i as u64 + 60)));
}

#[test]
fn adding_a_link_does_not_perturb_another() {
    let lossy = LinkConfig {
        loss: 0.3,
        jitter: Duration::from_millis(5),
        ..latency(10)
    };
    let fates = |with_carol: bool| {
        let (mut sim, a, b) = blast(21, lossy, 200);
        if with_carol {
            let mut carol = ScriptedPeer::new(addr(3));
            for i in 0..200 {
                carol.send_at(ms(i), Transport::Udp, addr(2), "c");
            }
            let c = sim.add_node("carol", Box::new(carol));
            sim.link(c, b, lossy, lossy);
        }
        sim.run().unwrap();
        sim.trace()
            .iter()
            .filter(|e| e.from == a)
            .map(|e| (e.time, sim.packet(e.packet).bytes.clone(), e.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(fates(false), fates(true));
}

/// Sleeps until `wake`, then records when it was woken.
struct Sleeper {
    wake: Option<Instant>,
    woken: Vec<Instant>,
}

impl Node for Sleeper {
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![addr(50)]
    }
    fn receive(&mut self, _now: Instant, _packet: Packet) {}
    fn handle_timeout(&mut self, now: Instant) {
        if self.wake.is_some_and(|w| now >= w) {
            self.wake = None;
            self.woken.push(now);
        }
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        None
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.wake
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[test]
fn time_jumps_to_a_far_deadline_in_one_step() {
    let mut sim = Sim::new(0);
    let s = sim.add_node(
        "sleeper",
        Box::new(Sleeper {
            wake: Some(Instant::from_millis(64_000)),
            woken: Vec::new(),
        }),
    );
    let stats = sim.run().unwrap();
    assert_eq!(stats.steps, 1);
    assert_eq!(sim.node::<Sleeper>(s).woken, [Instant::from_millis(64_000)]);
    assert_eq!(sim.now(), Instant::from_millis(64_000));
}

#[test]
fn run_until_stops_before_later_events() {
    let mut sim = Sim::new(0);
    let s = sim.add_node(
        "sleeper",
        Box::new(Sleeper {
            wake: Some(Instant::from_millis(64_000)),
            woken: Vec::new(),
        }),
    );
    let stats = sim.run_until(Instant::from_millis(32_000)).unwrap();
    assert_eq!((stats.steps, stats.stop), (0, Stop::Until));
    assert_eq!(sim.now(), Instant::from_millis(32_000));
    assert!(sim.node::<Sleeper>(s).woken.is_empty());
    let stats = sim.run_until(Instant::from_millis(64_000)).unwrap();
    assert_eq!((stats.steps, stats.stop), (1, Stop::Idle));
    assert_eq!(sim.node::<Sleeper>(s).woken, [Instant::from_millis(64_000)]);
}

/// Always wants a timeout right now, and can be told to always have a packet to send.
struct Busy {
    chatty: bool,
}

impl Node for Busy {
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![addr(60)]
    }
    fn receive(&mut self, _now: Instant, _packet: Packet) {}
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        self.chatty
            .then(|| Packet::udp(addr(60), addr(61), &b"spam"[..]))
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[test]
fn a_node_that_never_rests_hits_the_step_bound() {
    let mut sim = Sim::new(0);
    sim.add_node("busy", Box::new(Busy { chatty: false }));
    sim.set_max_steps(1000);
    let err = sim.run().unwrap_err();
    assert_eq!(
        err,
        SimError::StepLimit {
            limit: 1000,
            now: Instant::ZERO
        }
    );
    assert!(err.to_string().contains("step bound of 1000"));
}

#[test]
fn a_node_that_never_stops_sending_hits_the_transmit_bound() {
    let mut sim = Sim::new(0);
    sim.add_node("chatty", Box::new(Busy { chatty: true }));
    sim.set_max_steps(100);
    let err = sim.run().unwrap_err();
    assert!(
        matches!(&err, SimError::TransmitLimit { node, limit: 100, .. } if node == "chatty"),
        "{err}"
    );
}

#[test]
#[should_panic(expected = "already owned")]
fn two_nodes_cannot_own_one_address() {
    let mut sim = Sim::new(0);
    sim.add_node("a", Box::new(ScriptedPeer::new(addr(1))));
    sim.add_node("b", Box::new(ScriptedPeer::new(addr(1))));
}

#[test]
fn try_node_checks_the_type() {
    let mut sim = Sim::new(0);
    let a = sim.add_node("a", Box::new(ScriptedPeer::new(addr(1))));
    assert!(sim.try_node::<Echo>(a).is_none());
    assert_eq!(sim.try_node::<ScriptedPeer>(a).unwrap().addr(), addr(1));
    assert_eq!(sim.name(a), "a");
}
