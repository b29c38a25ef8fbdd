//! Proxied calls per second through the core alone: the atlanta/biloxi call of RFC 3261 §24
//! (Alice → atlanta → biloxi → Bob: INVITE, 100s, 180, 200, ACK, BYE, 200) in the simulator
//! with no loss, in batches of 100 concurrent calls, and the memory a proxy holds per call.
//!
//! Everything runs in one thread: four sans-IO stacks (two UAs, two stateful proxies) and the
//! simulator's event loop. A "call" is the whole set-up and tear-down through both proxies.

use std::net::SocketAddr;
use std::time::{Duration as WallDuration, Instant as WallInstant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipwire_core::endpoint::{Config, Tx};
use sipwire_core::message::validate::Policy;
use sipwire_core::message::Uri;
use sipwire_core::proxy::{
    Context, Forking, Locator, Proxy, ProxyConfig, ProxyEvent, Target, MAX_BRANCHES,
};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transaction::Slot;
use sipwire_core::transport::Transport;
use sipwire_core::ua::{CallId, UaConfig, UaEvent, UserAgent};
use sipwire_sim::{Application, LinkConfig, NodeId, ProxyApplication, ProxyNode, Sim, UaNode};

const BATCH: usize = 100;
const MAX_MESSAGE: usize = 1500;
const SDP: &[u8] = b"v=0\r\no=x 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// biloxi knows Bob; atlanta knows where biloxi is.
struct Static(Option<SocketAddr>);

impl Locator for Static {
    fn targets(
        &mut self,
        _: Instant,
        _: &Uri<'_>,
        out: &mut [Option<Target>; MAX_BRANCHES],
    ) -> usize {
        out[0] = Target::new("sip:bob@192.0.2.20:5060", 1000);
        1
    }
    fn resolve(&mut self, _: &str, _: Option<u16>, _: Transport) -> Option<SocketAddr> {
        self.0
    }
}

struct NoApp;
impl ProxyApplication<Static> for NoApp {
    fn on_event(&mut self, _: Instant, _: &mut Proxy<'static, 'static, Static>, _: ProxyEvent) {}
}

struct Phone {
    answer: bool,
    confirmed: usize,
    ended: usize,
}

impl Application for Phone {
    fn on_event(&mut self, now: Instant, ua: &mut UserAgent<'static, 'static>, e: UaEvent) {
        match e {
            UaEvent::IncomingCall { call } if self.answer => {
                ua.ring(now, call).unwrap();
                ua.answer(now, call, SDP).unwrap();
            }
            UaEvent::Confirmed { .. } | UaEvent::Answered { .. } => self.confirmed += 1,
            UaEvent::Ended { .. } => self.ended += 1,
            _ => {}
        }
    }
}

fn ua(user: &'static str, local: &str, proxy: Option<&str>, answer: bool) -> UaNode<Phone> {
    let cfg = UaConfig {
        local: addr(local),
        transport: Transport::Udp,
        user,
        domain: "example.com",
        display_name: None,
        outbound_proxy: proxy.map(addr),
        policy: Policy {
            methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
            ..Policy::UAS
        },
    };
    let ep = Config {
        seed: 1,
        max_message: MAX_MESSAGE,
        ..Config::default()
    };
    UaNode::new(
        cfg,
        ep,
        8 * BATCH,
        BATCH,
        Phone {
            answer,
            confirmed: 0,
            ended: 0,
        },
    )
}

fn proxy(
    local: &str,
    domain: &'static [&'static str],
    next: Option<&str>,
) -> ProxyNode<Static, NoApp> {
    let cfg = ProxyConfig {
        local: addr(local),
        transport: Transport::Udp,
        domains: domain,
        record_route: false,
        forking: Forking::Parallel,
        supported: &[],
        timer_c: Duration::from_secs(180),
    };
    let ep = Config {
        seed: 2,
        max_message: MAX_MESSAGE,
        ..Config::default()
    };
    ProxyNode::new(cfg, ep, 8 * BATCH, 2 * BATCH, Static(next.map(addr)), NoApp)
}

struct World {
    sim: Sim,
    alice: NodeId,
    bob: NodeId,
}

fn world() -> World {
    let mut sim = Sim::new(1);
    let alice = sim.add_node(
        "alice",
        Box::new(ua(
            "alice",
            "192.0.2.10:5060",
            Some("192.0.2.1:5060"),
            false,
        )),
    );
    sim.add_node(
        "atlanta",
        Box::new(proxy(
            "192.0.2.1:5060",
            &["atlanta.example.com"],
            Some("192.0.2.2:5060"),
        )),
    );
    sim.add_node(
        "biloxi",
        Box::new(proxy("192.0.2.2:5060", &["biloxi.example.com"], None)),
    );
    let bob = sim.add_node("bob", Box::new(ua("bob", "192.0.2.20:5060", None, true)));
    sim.default_link(LinkConfig::with_latency(Duration::from_millis(5)));
    sim.set_max_steps(u64::MAX);
    World { sim, alice, bob }
}

/// Sets up and tears down `BATCH` calls; returns the wall time.
fn batch(w: &mut World) -> WallDuration {
    let start = WallInstant::now();
    let now = w.sim.now();
    let calls: Vec<CallId> = w
        .sim
        .node_mut::<UaNode<Phone>>(w.alice)
        .command(now, |ua, _| {
            (0..BATCH)
                .map(|_| {
                    ua.invite(now, "sip:bob@biloxi.example.com", Some(SDP))
                        .unwrap()
                })
                .collect()
        });
    let t = w.sim.now() + Duration::from_secs(2);
    w.sim.run_until(t).unwrap();
    let now = w.sim.now();
    w.sim
        .node_mut::<UaNode<Phone>>(w.alice)
        .command(now, |ua, _| {
            for c in &calls {
                ua.hangup(now, *c).unwrap();
            }
        });
    // Past Timers D, K, I, J and L: every transaction and context is gone again.
    let t = w.sim.now() + Duration::from_secs(40);
    w.sim.run_until(t).unwrap();
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let per_context = std::mem::size_of::<Context>();
    let per_slot = std::mem::size_of::<Slot<Tx>>();
    // An INVITE passes through a proxy as one server and one client transaction and one
    // response context; the BYE (no Record-Route) does not pass.
    println!(
        "memory held per proxied call at each proxy: response context {per_context} B + 2 transactions x ({per_slot} B slot + 2 x {MAX_MESSAGE} B messages) = {} B",
        per_context + 2 * (per_slot + 2 * MAX_MESSAGE)
    );
    let mut w = world();
    batch(&mut w);
    let bob = w.sim.node::<UaNode<Phone>>(w.bob).app();
    assert_eq!(
        bob.confirmed, BATCH,
        "every call was answered and confirmed"
    );
    let mut g = c.benchmark_group("proxied_calls");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    g.bench_function("atlanta_biloxi_setup_teardown_x100", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| batch(&mut w)).sum())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(WallDuration::from_secs(1))
        .measurement_time(WallDuration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
