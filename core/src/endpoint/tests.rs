//! The region pool: what each transaction state holds, and an endpoint with fewer regions
//! than two per slot serving a workload that needs fewer live bytes.

extern crate std;

use std::format;
use std::string::String;
use std::vec::Vec;

use super::*;
use crate::message::builder::{Address, ResponseParts};
use crate::time::Duration;

const M: usize = 1024;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn options(branch: usize) -> String {
    format!(
        "OPTIONS sip:b@192.0.2.2 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{branch}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:b@192.0.2.2>\r\n\
         From: <sip:a@192.0.2.1>;tag=f{branch}\r\n\
         Call-ID: c{branch}@192.0.2.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// What one drain of the outputs gave.
#[derive(Default)]
struct Drained {
    sent: Vec<Vec<u8>>,
    requests: Vec<TransactionId>,
    responses: Vec<Vec<u8>>,
    terminated: usize,
}

fn drain(ep: &mut Endpoint<'_>) -> Drained {
    let mut d = Drained::default();
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit(t) => d.sent.push(t.bytes.to_vec()),
            Output::Event(Event::Request { tx, .. }) => d.requests.push(tx),
            Output::Event(Event::Response { bytes, .. }) => d.responses.push(bytes.to_vec()),
            Output::Event(Event::Terminated { .. }) => d.terminated += 1,
            Output::Event(_) => {}
            Output::Timeout(_) => break,
        }
    }
    d
}

fn receive(ep: &mut Endpoint<'_>, now: Instant, bytes: &[u8]) -> Drained {
    ep.handle(
        now,
        Input::Received {
            transport: Transport::Udp,
            local: addr("192.0.2.2:5060"),
            remote: addr("192.0.2.1:5060"),
            bytes,
        },
    );
    drain(ep)
}

fn options_to(uri: &str) -> RequestParts<'_> {
    RequestParts {
        method: "OPTIONS",
        request_uri: uri,
        via: SentBy::FILLED_BY_ENDPOINT,
        max_forwards: 70,
        to: Address {
            display: None,
            uri,
            tag: None,
        },
        from: Address {
            display: None,
            uri: "sip:b@192.0.2.2",
            tag: Some("t1"),
        },
        call_id: "cid@192.0.2.2",
        cseq: 1,
        contact: None,
        route: &[],
        extra: &[],
        content_type: None,
        body: b"",
    }
}

/// Sends an INVITE to sip:a@192.0.2.1 and returns it as sent.
fn send_invite(ep: &mut Endpoint<'_>, now: Instant) -> String {
    let dest = Destination {
        transport: Transport::Udp,
        local: addr("192.0.2.2:5060"),
        remote: addr("192.0.2.1:5060"),
    };
    let invite = RequestParts {
        method: "INVITE",
        ..options_to("sip:a@192.0.2.1")
    };
    ep.send_request(now, dest, &invite).unwrap();
    String::from_utf8(drain(ep).sent[0].clone()).unwrap()
}

/// A response to `req` (as sent to sip:a@192.0.2.1) with this status, To tag `x1`.
fn response_to(req: &str, status: &str) -> String {
    let mut resp = format!("SIP/2.0 {status}\r\n");
    for line in req.lines().skip(1) {
        let l = line.to_ascii_lowercase();
        if ["via:", "from:", "call-id:", "cseq:"]
            .iter()
            .any(|h| l.starts_with(h))
        {
            resp.push_str(line);
            resp.push_str("\r\n");
        }
    }
    resp.push_str("To: <sip:a@192.0.2.1>;tag=x1\r\nContent-Length: 0\r\n\r\n");
    resp
}

fn config() -> Config {
    Config {
        max_message: M,
        ..Config::default()
    }
}

/// 1000 non-INVITE server transactions in Completed (Timer J, 32 s over UDP) hold one
/// region each, their final response: half of the two per slot the arena used to pin.
#[test]
fn completed_non_invite_servers_hold_only_their_response() {
    const N: usize = 1000;
    let mut slots: Vec<Slot<Tx>> = (0..N).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; Endpoint::arena_len(N, M)];
    let mut ep = Endpoint::new(config(), &mut slots[..], &mut arena[..]);
    assert_eq!(ep.regions(), 2 * N + SCRATCH_REGIONS - 1);
    let now = Instant::from_millis(0);
    for i in 0..N {
        let d = receive(&mut ep, now, options(i).as_bytes());
        let tx = d.requests[0];
        // Trying: the request, and the response's region reserved.
        assert!(ep.request_bytes(tx).is_some());
        ep.respond(now, tx, &ResponseParts::new(200, "OK")).unwrap();
        assert_eq!(drain(&mut ep).sent.len(), 1);
        // §17.2.2 Completed: the request is no longer kept.
        assert!(ep.request_bytes(tx).is_none());
    }
    assert_eq!(ep.transactions(), N);
    assert_eq!(
        ep.regions_in_use(),
        N,
        "one region per Completed transaction"
    );
    assert_eq!(ep.stats().rejected_full, 0);
    std::println!(
        "table slot: {} B; {N} non-INVITE server transactions in Completed: {} KiB of regions \
         held (was {} KiB)",
        core::mem::size_of::<Slot<Tx>>(),
        ep.regions_in_use() * M / 1024,
        2 * N * M / 1024
    );

    // A retransmitted request is answered with the stored final response, unchanged.
    let first = receive(&mut ep, now, options(7).as_bytes());
    let again = receive(&mut ep, now, options(7).as_bytes());
    assert_eq!(first.sent.len(), 1);
    assert_eq!(first.sent, again.sent);
    assert!(String::from_utf8_lossy(&first.sent[0]).starts_with("SIP/2.0 200 OK"));

    // Timer J ends them all and every region returns to the pool.
    // Timers fire as the queues have room; an already past timeout asks for another call.
    let later = now + Duration::from_secs(33);
    let mut terminated = 0;
    while ep.transactions() > 0 {
        ep.handle(later, Input::Timeout);
        terminated += drain(&mut ep).terminated;
    }
    assert_eq!(terminated, N);
    assert_eq!(ep.transactions(), 0);
    assert_eq!(ep.regions_in_use(), 0);
}

/// An arena of 1,010 regions (about half of `arena_len(1000)`) serves 1,000 concurrent
/// non-INVITE transactions answered at once: each holds two regions only while the TU
/// decides, one in Completed.
#[test]
fn fewer_regions_than_two_per_slot_serve_a_completed_heavy_load() {
    const N: usize = 1000;
    const REGIONS: usize = N + 10;
    let len = Endpoint::arena_len_with_regions(REGIONS, M);
    assert!(len * 10 < Endpoint::arena_len(N, M) * 6);
    let mut slots: Vec<Slot<Tx>> = (0..N).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; len];
    let mut ep = Endpoint::new(config(), &mut slots[..], &mut arena[..]);
    assert_eq!(ep.regions(), REGIONS);
    let now = Instant::from_millis(0);
    for i in 0..N {
        let d = receive(&mut ep, now, options(i).as_bytes());
        assert_eq!(d.requests.len(), 1, "request {i} admitted");
        ep.respond(now, d.requests[0], &ResponseParts::new(200, "OK"))
            .unwrap();
        assert_eq!(drain(&mut ep).sent.len(), 1);
    }
    assert_eq!(ep.transactions(), N);
    assert_eq!(ep.stats().rejected_full, 0);
    assert_eq!(ep.regions_in_use(), N);
}

/// When the pool cannot reserve a new transaction's two regions, a request is answered 503
/// with Retry-After (as for a full table) and a command fails with `TableFull`.
#[test]
fn exhausted_pool_answers_503_and_commands_fail() {
    let mut slots: Vec<Slot<Tx>> = (0..8).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; Endpoint::arena_len_with_regions(4, M)];
    let mut ep = Endpoint::new(config(), &mut slots[..], &mut arena[..]);
    let now = Instant::from_millis(0);
    let a = receive(&mut ep, now, options(1).as_bytes());
    let b = receive(&mut ep, now, options(2).as_bytes());
    assert_eq!((a.requests.len(), b.requests.len()), (1, 1));
    let c = receive(&mut ep, now, options(3).as_bytes());
    assert!(c.requests.is_empty());
    let reply = String::from_utf8_lossy(&c.sent[0]).into_owned();
    assert!(reply.starts_with("SIP/2.0 503"), "{reply}");
    assert!(reply.contains("Retry-After: 5"), "{reply}");
    assert_eq!(ep.stats().rejected_full, 1);
    let dest = Destination {
        transport: Transport::Udp,
        local: addr("192.0.2.2:5060"),
        remote: addr("192.0.2.9:5060"),
    };
    let parts = options_to("sip:c@192.0.2.9");
    assert_eq!(
        ep.send_request(now, dest, &parts),
        Err(EndpointError::TableFull)
    );
    // The reserved regions are there: both transactions can answer.
    for tx in [a.requests[0], b.requests[0]] {
        ep.respond(now, tx, &ResponseParts::new(200, "OK")).unwrap();
    }
    assert_eq!(drain(&mut ep).sent.len(), 2);
    // Completed: one region each, so a new transaction fits again.
    assert_eq!(ep.regions_in_use(), 2);
    let d = receive(&mut ep, now, options(4).as_bytes());
    assert_eq!(d.requests.len(), 1);
}

/// A client non-INVITE transaction holds its request until the final response, and nothing
/// once the response is delivered (Completed, Timer K).
#[test]
fn client_non_invite_releases_on_final_response() {
    let mut slots: Vec<Slot<Tx>> = (0..4).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; Endpoint::arena_len(4, M)];
    let mut ep = Endpoint::new(config(), &mut slots[..], &mut arena[..]);
    let now = Instant::from_millis(0);
    let dest = Destination {
        transport: Transport::Udp,
        local: addr("192.0.2.2:5060"),
        remote: addr("192.0.2.1:5060"),
    };
    let tx = ep
        .send_request(now, dest, &options_to("sip:a@192.0.2.1"))
        .unwrap();
    let sent = drain(&mut ep).sent;
    assert_eq!(ep.regions_in_use(), 1);
    // Timer E: the stored request goes again, unchanged.
    ep.handle(now + Duration::from_millis(500), Input::Timeout);
    assert_eq!(drain(&mut ep).sent, sent);
    // Answer it: a 200 built from the request's headers.
    let req = String::from_utf8(sent[0].clone()).unwrap();
    let mut resp = String::from("SIP/2.0 200 OK\r\n");
    for line in req.lines().skip(1) {
        let l = line.to_ascii_lowercase();
        if ["via:", "to:", "from:", "call-id:", "cseq:"]
            .iter()
            .any(|h| l.starts_with(h))
        {
            resp.push_str(line);
            resp.push_str("\r\n");
        }
    }
    resp.push_str("Content-Length: 0\r\n\r\n");
    let d = receive(&mut ep, now + Duration::from_millis(600), resp.as_bytes());
    assert_eq!(d.responses.len(), 1);
    assert_eq!(d.responses[0], resp.as_bytes());
    assert_eq!(ep.transactions(), 1, "Completed, Timer K");
    assert_eq!(ep.regions_in_use(), 0);
    assert!(ep.request_bytes(tx).is_none());
    // A retransmitted 200 is absorbed in Completed.
    let d = receive(&mut ep, now + Duration::from_millis(700), resp.as_bytes());
    assert!(d.responses.is_empty() && d.sent.is_empty());
}

/// A client INVITE answered 486 keeps the INVITE through Completed (Timer D) and stores
/// each retransmitted final again to rebuild the same ACK (§17.1.1.2–3).
#[test]
fn client_invite_completed_rebuilds_the_ack() {
    let mut slots: Vec<Slot<Tx>> = (0..2).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; Endpoint::arena_len_with_regions(2, M)];
    let mut ep = Endpoint::new(config(), &mut slots[..], &mut arena[..]);
    let now = Instant::from_millis(0);
    let req = send_invite(&mut ep, now);
    let resp = response_to(&req, "486 Busy Here");
    let d = receive(&mut ep, now, resp.as_bytes());
    assert_eq!(d.responses.len(), 1);
    assert_eq!(d.sent.len(), 1);
    let ack = String::from_utf8(d.sent[0].clone()).unwrap();
    assert!(ack.starts_with("ACK sip:a@192.0.2.1 SIP/2.0"), "{ack}");
    assert!(ack.contains(";tag=x1"), "{ack}");
    assert_eq!(ep.regions_in_use(), 1, "the INVITE, for the next ACK");
    let d = receive(&mut ep, now + Duration::from_millis(500), resp.as_bytes());
    assert!(d.responses.is_empty());
    assert_eq!(d.sent, std::vec![ack.into_bytes()]);
    assert_eq!(ep.regions_in_use(), 1);
    assert_eq!(ep.stats().rejected_full, 0);
}

/// The ACK for a non-2xx final is built when polled into a free region: the fixed scratch
/// region, or, while a queued stateless message holds that, a free pool region; neither
/// message is overwritten by the other. (Three regions: the INVITE and the 486 hold two.)
#[test]
fn ack_built_when_polled_leaves_a_queued_scratch_message_intact() {
    let mut slots: Vec<Slot<Tx>> = (0..2).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; Endpoint::arena_len_with_regions(3, M)];
    let mut ep = Endpoint::new(config(), &mut slots[..], &mut arena[..]);
    let now = Instant::from_millis(0);
    let req = send_invite(&mut ep, now);
    let resp = response_to(&req, "486 Busy Here");
    ep.handle(
        now,
        Input::Received {
            transport: Transport::Udp,
            local: addr("192.0.2.2:5060"),
            remote: addr("192.0.2.1:5060"),
            bytes: resp.as_bytes(),
        },
    );
    let other = b"ACK sip:b@192.0.2.9 SIP/2.0\r\nContent-Length: 0\r\n\r\n";
    let to = addr("192.0.2.9:5060");
    ep.send_stateless(Transport::Udp, addr("192.0.2.2:5060"), to, other)
        .unwrap();
    let d = drain(&mut ep);
    assert_eq!(d.sent.len(), 2);
    let ack = d
        .sent
        .iter()
        .find(|m| m.starts_with(b"ACK sip:a@"))
        .unwrap();
    let ack = String::from_utf8(ack.clone()).unwrap();
    assert!(ack.contains(";tag=x1") && ack.contains("CSeq: "), "{ack}");
    assert!(d.sent.iter().any(|m| m == other));
}

/// `keep_accepted: false` (a proxy): a client INVITE answered 2xx keeps no bytes in
/// Accepted, yet a retransmitted 2xx is still delivered (for the proxy to pass on).
#[test]
fn accepted_invite_keeps_no_bytes_for_a_proxy() {
    let mut slots: Vec<Slot<Tx>> = (0..2).map(|_| Slot::default()).collect();
    let mut arena = std::vec![0u8; Endpoint::arena_len(2, M)];
    let cfg = Config {
        keep_accepted: false,
        ..config()
    };
    let mut ep = Endpoint::new(cfg, &mut slots[..], &mut arena[..]);
    let now = Instant::from_millis(0);
    let req = send_invite(&mut ep, now);
    let ok = response_to(&req, "200 OK");
    assert_eq!(receive(&mut ep, now, ok.as_bytes()).responses.len(), 1);
    assert_eq!(ep.regions_in_use(), 0, "Accepted keeps nothing");
    let again = receive(&mut ep, now + Duration::from_millis(500), ok.as_bytes());
    assert_eq!(
        again.responses.len(),
        1,
        "the retransmitted 2xx still goes up"
    );
    assert_eq!(ep.regions_in_use(), 0);
}
