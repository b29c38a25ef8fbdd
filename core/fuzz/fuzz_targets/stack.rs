//! Feeds arbitrary datagrams and stream chunks to a whole stack — a user agent with a call
//! in progress and a registration, and a stateful proxy — and fires its timers. Nothing may
//! panic, whatever arrives.
#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use sipwire_core::endpoint::{Config, Endpoint, Input, Tx};
use sipwire_core::message::validate::Policy;
use sipwire_core::message::Uri;
use sipwire_core::proxy::{Context, Forking, Locator, Proxy, ProxyConfig, Target, MAX_BRANCHES};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transaction::Slot;
use sipwire_core::transport::Transport;
use sipwire_core::ua::{Call, UaConfig, UaEvent, UserAgent};

struct Loc;
impl Locator for Loc {
    fn targets(&mut self, _: Instant, _: &Uri<'_>, out: &mut [Option<Target>; MAX_BRANCHES]) -> usize {
        out[0] = Target::new("sip:bob@192.0.2.20:5060", 1000);
        out[1] = Target::new("sip:bob@192.0.2.21:5060", 500);
        2
    }
    fn resolve(&mut self, _: &str, _: Option<u16>, _: Transport) -> Option<SocketAddr> {
        Some("192.0.2.2:5060".parse().unwrap())
    }
}

const SDP: &[u8] = b"v=0\r\no=a 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn endpoint(seed: u64) -> Endpoint<'static> {
    let n = 8;
    let config = Config { seed, max_message: 2048, ..Config::default() };
    let slots: Vec<Slot<Tx>> = (0..n).map(|_| Slot::default()).collect();
    Endpoint::new(config, slots, vec![0u8; Endpoint::arena_len(n, 2048)])
}

fuzz_target!(|data: &[u8]| {
    let local: SocketAddr = "192.0.2.10:5060".parse().unwrap();
    let remote: SocketAddr = "192.0.2.20:5060".parse().unwrap();
    let cfg = UaConfig {
        local,
        transport: Transport::Udp,
        user: "alice",
        domain: "atlanta.example.com",
        display_name: None,
        outbound_proxy: None,
        policy: Policy::UAS,
    };
    let calls: Vec<Call> = (0..2).map(|_| Call::default()).collect();
    let mut ua = UserAgent::new(cfg, endpoint(1), calls, vec![0u8; 2048]).unwrap();
    let now = Instant::ZERO;
    let _ = ua.invite(now, "sip:bob@192.0.2.20:5060", Some(SDP));
    let _ = ua.register(now, remote, 600);
    let pcfg = ProxyConfig {
        local: "192.0.2.1:5060".parse().unwrap(),
        transport: Transport::Udp,
        domains: &["atlanta.example.com"],
        record_route: true,
        forking: Forking::Parallel,
        supported: &[],
        timer_c: Duration::from_secs(180),
    };
    let ctx: Vec<Context> = (0..2).map(|_| Context::default()).collect();
    let mut proxy = Proxy::new(pcfg, endpoint(2), Loc, ctx, vec![0u8; 4096]);
    // The input is split at 0xFF bytes into messages, delivered one after another, some
    // over TCP, with time moving on between them.
    let mut t = now;
    for (k, chunk) in data.split(|&b| b == 0xff).enumerate().take(16) {
        t = t + Duration::from_millis(100 * k as u64);
        let transport = if k % 3 == 2 { Transport::Tcp } else { Transport::Udp };
        ua.handle(t, Input::Received { transport, local, remote, bytes: chunk });
        proxy.handle(t, Input::Received { transport, local: "192.0.2.1:5060".parse().unwrap(), remote, bytes: chunk });
        while ua.poll_transmit().is_some() {}
        while let Some(e) = ua.poll_event() {
            if let UaEvent::IncomingCall { call } = e {
                let _ = ua.ring(t, call);
                let _ = ua.answer(t, call, SDP);
            }
        }
        while proxy.poll_transmit().is_some() {}
        while proxy.poll_event().is_some() {}
    }
    for s in [1u64, 5, 40, 200] {
        let t2 = t + Duration::from_secs(s);
        ua.handle(t2, Input::Timeout);
        proxy.handle(t2, Input::Timeout);
        while ua.poll_transmit().is_some() {}
        while ua.poll_event().is_some() {}
        while proxy.poll_transmit().is_some() {}
        while proxy.poll_event().is_some() {}
    }
});
