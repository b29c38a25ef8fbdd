//! RFC 3263 in the proxy: the next hop `biloxi.test` resolved through NAPTR, SRV (two
//! targets) and A, the INVITE sent to the first target, and §4.3 failover to the second on a
//! 503, a transport failure and a timeout.

extern crate std;

use std::string::String;
use std::vec::Vec;

use core::net::{IpAddr, SocketAddr};

use super::super::*;
use crate::dns::{Answer, QueryKind, SrvRecord};
use crate::endpoint::Config;
use crate::transaction::Slot;

const ALICE: &str = "192.0.2.10:5060";
const FIRST: &str = "192.0.2.30:5060";
const SECOND: &str = "192.0.2.20:5070";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// No users of ours and no static hosts: every name goes to DNS.
struct NoLocator;

impl Locator for NoLocator {
    fn targets(
        &mut self,
        _: Instant,
        _: &Uri<'_>,
        _: &mut [Option<Target>; MAX_BRANCHES],
    ) -> usize {
        0
    }
    fn resolve(&mut self, _: &str, _: Option<u16>, _: Transport) -> Option<SocketAddr> {
        None
    }
}

/// biloxi.test: no NAPTR, two UDP SRV records (first.biloxi.test before bob.biloxi.test).
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
        _ => answer(Answer::NoRecords),
    }
}

type TestProxy = Proxy<'static, 'static, NoLocator>;

fn proxy(resolutions: usize) -> TestProxy {
    let config = ProxyConfig {
        local: addr("192.0.2.1:5060"),
        transport: Transport::Udp,
        domains: &["atlanta.test"],
        record_route: false,
        forking: Forking::Parallel,
        supported: &[],
        timer_c: Duration::from_secs(180),
    };
    let ep = Config {
        max_message: 2048,
        keep_accepted: false,
        ..Config::default()
    };
    let slots: Vec<Slot<_>> = (0..16).map(|_| Slot::default()).collect();
    let arena = std::vec![0u8; Endpoint::arena_len(16, 2048)];
    let ep = Endpoint::new(ep, slots.leak(), arena.leak());
    let contexts: Vec<Context> = (0..4).map(|_| Context::default()).collect();
    let table: Vec<ResolutionSlot> = (0..resolutions)
        .map(|_| ResolutionSlot::default())
        .collect();
    Proxy::new(
        config,
        ep,
        NoLocator,
        contexts.leak(),
        std::vec![0u8; 4096].leak(),
    )
    .with_resolutions(table.leak())
}

/// What went out: (remote, transport, text, transaction).
type Sent = Vec<(SocketAddr, Transport, String, Option<TransactionId>)>;

/// Answers every DNS query from [`zone`]; what the proxy sent meanwhile, and the queries.
fn run(p: &mut TestProxy, now: Instant) -> (Sent, Vec<(QueryKind, String)>) {
    let mut sent = Vec::new();
    let mut asked = Vec::new();
    loop {
        while let Some(t) = p.poll_transmit() {
            let text = String::from_utf8_lossy(t.bytes).into_owned();
            sent.push((t.remote, t.transport, text, t.tx));
        }
        let Some(e) = p.poll_event() else { break };
        if let ProxyEvent::Resolve(q) = e {
            asked.push((q.kind, String::from(q.name())));
            zone(q.kind, q.name(), &mut |a| p.dns_answer(now, q.id, a));
        }
    }
    (sent, asked)
}

fn invite(call: &str) -> String {
    std::format!(
        "INVITE sip:bob@biloxi.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{call}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@atlanta.test>;tag=a1\r\nTo: <sip:bob@biloxi.test>\r\n\
         Call-ID: {call}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.10>\r\nContent-Length: 0\r\n\r\n"
    )
}

fn receive(p: &mut TestProxy, now: Instant, from: &str, bytes: &str) {
    p.handle(
        now,
        Input::Received {
            transport: Transport::Udp,
            local: addr("192.0.2.1:5060"),
            remote: addr(from),
            bytes: bytes.as_bytes(),
        },
    );
}

/// A response to a forwarded request, its headers copied.
fn response(req: &str, code: u16, reason: &str) -> String {
    let mut r = std::format!("SIP/2.0 {code} {reason}\r\n");
    for line in req.lines() {
        for name in ["Via:", "From:", "Call-ID:", "CSeq:"] {
            if line.starts_with(name) {
                r.push_str(line);
                r.push_str("\r\n");
            }
        }
        if line.starts_with("To:") {
            r.push_str(line);
            r.push_str(";tag=b1\r\n");
        }
    }
    r.push_str("Content-Length: 0\r\n\r\n");
    r
}

fn invites_to(sent: &Sent, to: &str) -> usize {
    sent.iter()
        .filter(|(a, _, text, _)| *a == addr(to) && text.starts_with("INVITE "))
        .count()
}

/// The call resolved and sent to the first target: what went out.
fn start(p: &mut TestProxy, now: Instant, call: &str) -> Sent {
    receive(p, now, ALICE, &invite(call));
    let (sent, asked) = run(p, now);
    let asked: Vec<(QueryKind, &str)> = asked.iter().map(|(k, n)| (*k, n.as_str())).collect();
    assert_eq!(
        asked,
        [
            (QueryKind::Naptr, "biloxi.test"),
            (QueryKind::Srv, "_sip._udp.biloxi.test"),
            (QueryKind::Srv, "_sip._tcp.biloxi.test"),
            (QueryKind::A, "first.biloxi.test"),
            (QueryKind::A, "bob.biloxi.test"),
        ]
    );
    assert_eq!(invites_to(&sent, FIRST), 1, "{sent:?}");
    assert_eq!(invites_to(&sent, SECOND), 0);
    sent
}

fn branch_of(text: &str) -> &str {
    let via = text.lines().find(|l| l.starts_with("Via:")).unwrap();
    via.split("branch=")
        .nth(1)
        .unwrap()
        .split([';', ','])
        .next()
        .unwrap()
}

#[test]
fn a_503_fails_over_to_the_next_srv_target() {
    let mut p = proxy(2);
    let now = Instant::ZERO;
    let sent = start(&mut p, now, "c1");
    let first = sent.iter().find(|s| s.0 == addr(FIRST)).unwrap().2.clone();
    assert_eq!(p.resolutions_in_use(), 1);
    // §4.3: a 503 from the first target: the same request to the second, a new branch.
    receive(
        &mut p,
        now,
        FIRST,
        &response(&first, 503, "Service Unavailable"),
    );
    let (sent, _) = run(&mut p, now);
    assert!(sent
        .iter()
        .any(|s| s.0 == addr(FIRST) && s.2.starts_with("ACK ")));
    assert_eq!(invites_to(&sent, SECOND), 1, "{sent:?}");
    let second = sent.iter().find(|s| s.0 == addr(SECOND)).unwrap().2.clone();
    assert_ne!(branch_of(&first), branch_of(&second));
    assert!(second.contains("Call-ID: c1\r\n") && second.contains("CSeq: 1 INVITE\r\n"));
    // Nothing of the 503 went to Alice; the 200 from the second target does.
    assert!(!sent
        .iter()
        .any(|s| s.0 == addr(ALICE) && s.2.contains(" 503 ")));
    receive(&mut p, now, SECOND, &response(&second, 200, "OK"));
    let (sent, _) = run(&mut p, now);
    assert!(sent
        .iter()
        .any(|s| s.0 == addr(ALICE) && s.2.starts_with("SIP/2.0 200 ")));
    assert_eq!(p.contexts_in_use(), 0);
    assert_eq!(p.resolutions_in_use(), 0);
}

#[test]
fn a_transport_failure_fails_over_and_the_last_failure_is_the_answer() {
    let mut p = proxy(2);
    let now = Instant::ZERO;
    let sent = start(&mut p, now, "c2");
    let tx = sent.iter().find(|s| s.0 == addr(FIRST)).unwrap().3.unwrap();
    p.handle(now, Input::SendFailed { tx });
    let (sent, _) = run(&mut p, now);
    assert_eq!(invites_to(&sent, SECOND), 1, "{sent:?}");
    let tx = sent
        .iter()
        .find(|s| s.0 == addr(SECOND))
        .unwrap()
        .3
        .unwrap();
    // Targets run out: now the failure is the branch's final answer.
    p.handle(now, Input::SendFailed { tx });
    let (sent, _) = run(&mut p, now);
    assert!(
        sent.iter()
            .any(|s| s.0 == addr(ALICE) && s.2.starts_with("SIP/2.0 408 ")),
        "{sent:?}"
    );
    assert_eq!(p.contexts_in_use(), 0);
    assert_eq!(p.resolutions_in_use(), 0);
}

#[test]
fn a_silent_first_target_times_out_into_the_second() {
    let mut p = proxy(2);
    let mut now = Instant::ZERO;
    start(&mut p, now, "c3");
    let mut second = 0;
    for _ in 0..100 {
        let Some(t) = p.poll_timeout() else { break };
        now = t;
        p.handle(now, Input::Timeout);
        let (sent, _) = run(&mut p, now);
        second += invites_to(&sent, SECOND);
        if second > 0 {
            break;
        }
    }
    assert_eq!(second, 1);
    // Timer B: 64·T1 after the first INVITE.
    assert!(now >= Instant::from_millis(32_000), "{now:?}");
}

#[test]
fn a_full_table_is_503_with_retry_after_and_no_table_is_unreachable() {
    let mut p = proxy(1);
    let now = Instant::ZERO;
    start(&mut p, now, "c4");
    receive(&mut p, now, ALICE, &invite("c5"));
    let (sent, asked) = run(&mut p, now);
    assert!(asked.is_empty());
    let refusal = sent
        .iter()
        .find(|s| s.0 == addr(ALICE) && s.2.contains(" 503 "))
        .unwrap();
    assert!(refusal.2.contains("Retry-After: 5\r\n"), "{}", refusal.2);
    let mut p = proxy(0);
    receive(&mut p, now, ALICE, &invite("c6"));
    let (sent, _) = run(&mut p, now);
    assert!(sent
        .iter()
        .any(|s| s.0 == addr(ALICE) && s.2.starts_with("SIP/2.0 502 ")));
    assert_eq!(p.contexts_in_use(), 0);
}

#[test]
fn no_address_at_all_fails_the_branch_and_frees_the_slot() {
    let mut p = proxy(1);
    let now = Instant::ZERO;
    let mut invite = invite("c7");
    invite = invite.replace("sip:bob@biloxi.test SIP", "sip:bob@nowhere.test SIP");
    receive(&mut p, now, ALICE, &invite);
    let (sent, asked) = run(&mut p, now);
    // NAPTR, SRV for UDP and TCP, then A at the default port (§4.2): nothing anywhere.
    assert_eq!(asked.len(), 4, "{asked:?}");
    // A lone 503 becomes 500 (§16.7 step 6).
    assert!(sent
        .iter()
        .any(|s| s.0 == addr(ALICE) && s.2.starts_with("SIP/2.0 500 ")));
    assert_eq!(p.resolutions_in_use(), 0);
    assert_eq!(p.contexts_in_use(), 0);
}

#[test]
fn a_cancelled_request_does_not_fail_over() {
    let mut p = proxy(2);
    let now = Instant::ZERO;
    let sent = start(&mut p, now, "c8");
    let first = sent.iter().find(|s| s.0 == addr(FIRST)).unwrap().2.clone();
    receive(&mut p, now, FIRST, &response(&first, 180, "Ringing"));
    run(&mut p, now);
    let cancel = invite("c8")
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    receive(&mut p, now, ALICE, &cancel);
    let (sent, _) = run(&mut p, now);
    assert!(sent
        .iter()
        .any(|s| s.0 == addr(FIRST) && s.2.starts_with("CANCEL ")));
    // §16.10: the request is being cancelled, so a 503 is its answer, not a reason to try
    // the next target (RFC 3263 §4.3).
    receive(
        &mut p,
        now,
        FIRST,
        &response(&first, 503, "Service Unavailable"),
    );
    let (sent, _) = run(&mut p, now);
    assert_eq!(invites_to(&sent, SECOND), 0, "{sent:?}");
    assert!(sent
        .iter()
        .any(|s| s.0 == addr(ALICE) && s.2.starts_with("SIP/2.0 500 ")));
    assert_eq!(p.resolutions_in_use(), 0);
}
