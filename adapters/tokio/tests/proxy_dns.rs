//! RFC 3263 in the proxy against a real DNS server: a hickory-server on 127.0.0.1 serves
//! `biloxi.test` with two SRV targets; the first (priority 10) is a socket that never
//! answers, the second answers. The proxy (`sipwire serve`'s mio server, and the tokio
//! server) forwards `OPTIONS sip:bob@biloxi.test` to the first, and after Timer F fails over
//! (§4.3) to the second, whose 200 comes back.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_server::proto::rr::rdata::{A, SRV};
use hickory_server::proto::rr::RData;
use hickory_server::store::in_memory::InMemoryAuthority;
use sipwire_core::transaction::TimerConfig;
use sipwire_mio::ServerConfig;

mod zone;
use zone::{name, record};

/// `test.`: `_sip._udp.biloxi.test` → sip1 (priority 10, port `first`), sip2 (priority 20,
/// port `second`), both on 127.0.0.1.
fn biloxi(first: u16, second: u16) -> InMemoryAuthority {
    let localhost = RData::A(A(Ipv4Addr::LOCALHOST));
    zone::with(
        zone::zone("test."),
        [
            record(
                "_sip._udp.biloxi.test.",
                RData::SRV(SRV::new(20, 0, second, name("sip2.biloxi.test."))),
            ),
            record(
                "_sip._udp.biloxi.test.",
                RData::SRV(SRV::new(10, 0, first, name("sip1.biloxi.test."))),
            ),
            record("sip1.biloxi.test.", localhost.clone()),
            record("sip2.biloxi.test.", localhost),
        ],
    )
}

/// A DNS server for [`biloxi`] on a free port of 127.0.0.1, on its own thread and runtime.
fn start_dns(first: u16, second: u16) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            tx.send(socket.local_addr().unwrap()).unwrap();
            zone::serve(socket, "test.", biloxi(first, second)).await;
        });
    });
    rx.recv().unwrap()
}

/// A proxy configuration asking `dns`, with a short T1 (Timer F: 64·T1 = 3.2 s).
fn config(dns: SocketAddr) -> ServerConfig {
    ServerConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        tcp: vec![],
        dns_servers: vec![dns],
        transactions: 64,
        contexts: 16,
        resolutions: 4,
        bindings: 16,
        timers: TimerConfig {
            t1: Duration::from_millis(50),
            ..TimerConfig::default()
        },
        ..ServerConfig::default()
    }
}

/// The text of the next datagram on `s`, if one comes within `wait`.
fn recv(s: &UdpSocket, wait: Duration) -> Option<(String, SocketAddr)> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = s.recv_from(&mut buf).ok()?;
    Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
}

/// A 200 to `req`, its headers copied.
fn ok_to(req: &str) -> String {
    let mut r = String::from("SIP/2.0 200 OK\r\n");
    for line in req.lines() {
        if ["Via:", "From:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            r.push_str(line);
            r.push_str("\r\n");
        } else if line.starts_with("To:") {
            r.push_str(line);
            r.push_str(";tag=b2\r\n");
        }
    }
    r + "Content-Length: 0\r\n\r\n"
}

/// The servers on biloxi, a DNS server naming them, and a proxy made by `serve` asking it;
/// the OPTIONS reaches the second server after the first stays silent.
fn fails_over_from_a_silent_srv_target(serve: impl FnOnce(ServerConfig) -> SocketAddr) {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let second = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = start_dns(
        silent.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    );
    let proxy = serve(config(dns));
    let alice = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = alice.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:bob@biloxi.test SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKdns1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=a1\r\nTo: <sip:bob@biloxi.test>\r\n\
         Call-ID: dns-failover\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let started = Instant::now();
    alice.send_to(options.as_bytes(), proxy).unwrap();
    // The first SRV target gets the request (and its retransmissions), and never answers.
    let (first_req, _) = recv(&silent, Duration::from_secs(5)).expect("nothing at sip1");
    assert!(
        first_req.starts_with("OPTIONS sip:bob@biloxi.test "),
        "{first_req}"
    );
    // §4.3: after Timer F the same request goes to the second, as a new transaction.
    let (req, from) = recv(&second, Duration::from_secs(8)).expect("no failover to sip2");
    assert!(req.starts_with("OPTIONS sip:bob@biloxi.test "), "{req}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let branch = |r: &str| {
        r.lines()
            .find(|l| l.starts_with("Via:"))
            .unwrap()
            .to_owned()
    };
    assert_ne!(branch(&first_req), branch(&req));
    second.send_to(ok_to(&req).as_bytes(), from).unwrap();
    let (resp, _) = recv(&alice, Duration::from_secs(5)).expect("no response for Alice");
    assert!(resp.starts_with("SIP/2.0 200 "), "{resp}");
    assert!(resp.contains("Call-ID: dns-failover"), "{resp}");
}

#[test]
fn mio_server_fails_over_from_a_silent_srv_target() {
    let mut stopper = None;
    fails_over_from_a_silent_srv_target(|config| {
        let server = sipwire_mio::Server::bind(&config).unwrap();
        let addr = server.udp_addrs()[0];
        stopper = Some(server.stopper());
        std::thread::spawn(move || server.run().unwrap());
        addr
    });
    if let Some(s) = stopper {
        s.stop();
    }
}

#[test]
fn tokio_server_fails_over_from_a_silent_srv_target() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    fails_over_from_a_silent_srv_target(|config| {
        let server = rt.block_on(sipwire_tokio::Server::bind(&config)).unwrap();
        let addr = server.local_addrs()[0];
        rt.spawn(server.run(async {
            let _ = stopped.await;
        }));
        addr
    });
    let _ = stop.send(());
}
