//! Batched UDP (recvmmsg / sendmmsg on Linux) end to end: a burst of requests that is
//! already queued when the server starts, more than a batch of them, is answered in full.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use sipwire_mio::{Server, ServerConfig};

fn options(to: SocketAddr, from: SocketAddr, n: u32) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK-b{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@{from}>;tag={n}\r\nTo: <sip:{to}>\r\n\
         Call-ID: b{n}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends `count` OPTIONS to a bound server that is not running yet, runs it, and returns
/// the Call-IDs answered 200 OK.
fn burst(udp_batch: usize, workers: usize, count: u32) -> BTreeSet<String> {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = ServerConfig {
        udp: vec![addr],
        tcp: vec![],
        transactions: 1024,
        contexts: 64,
        bindings: 64,
        udp_batch,
        workers,
        ..ServerConfig::default()
    };
    let server = Server::bind(&config).unwrap();
    let to = server.udp_addrs()[0];
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let me = client.local_addr().unwrap();
    // All queued on the server's socket before it reads any.
    for n in 0..count {
        client.send_to(options(to, me, n).as_bytes(), to).unwrap();
    }
    let stopper = server.stopper();
    let thread = std::thread::spawn(move || server.run());
    let mut answered = BTreeSet::new();
    let mut buf = [0u8; 4096];
    while answered.len() < count as usize {
        let Ok((len, _)) = client.recv_from(&mut buf) else {
            break;
        };
        let r = String::from_utf8_lossy(&buf[..len]);
        assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{r}");
        let id = r
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID: "))
            .expect("a Call-ID");
        assert!(answered.insert(id.to_owned()), "answered twice: {id}");
    }
    stopper.stop();
    thread.join().unwrap().unwrap();
    answered
}

fn all(count: u32) -> BTreeSet<String> {
    (0..count).map(|n| format!("b{n}@test")).collect()
}

#[test]
fn a_burst_larger_than_a_batch_is_answered_in_full() {
    // 150 datagrams, batches of 7: 21 full batches and a short one.
    assert_eq!(burst(7, 1, 150), all(150));
}

#[test]
fn a_burst_is_answered_with_the_default_batch() {
    assert_eq!(burst(ServerConfig::default().udp_batch, 1, 150), all(150));
}

#[test]
fn a_burst_is_answered_one_datagram_at_a_time() {
    assert_eq!(burst(1, 1, 50), all(50));
}

#[test]
fn a_burst_is_answered_by_two_workers() {
    // The worker that reads a datagram may hand it to the other (the Call-ID's owner).
    assert_eq!(burst(7, 2, 150), all(150));
}
