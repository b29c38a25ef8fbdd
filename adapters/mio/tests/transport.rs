//! The server's transport behaviour on real loopback sockets (no other SIP software needed):
//! TCP connections reused, closed when idle, refused past the limit; a request too large
//! for UDP forwarded over TCP (RFC 3261 §18.1.1); IPv6.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread::JoinHandle;
use std::time::Duration;

use sipwire_mio::{Server, ServerConfig, Stopper};

struct Running {
    stopper: Stopper,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(addr: &str, change: impl FnOnce(&mut ServerConfig)) -> Running {
    let addr: SocketAddr = addr.parse().unwrap();
    let mut config = ServerConfig {
        udp: vec![addr],
        tcp: vec![addr],
        transactions: 256,
        contexts: 64,
        bindings: 64,
        ..ServerConfig::default()
    };
    change(&mut config);
    let server = Server::bind(&config).unwrap();
    let addr = server.udp_addrs()[0];
    let stopper = server.stopper();
    let thread = Some(std::thread::spawn(move || server.run()));
    Running {
        stopper,
        thread,
        addr,
    }
}

fn options(to: SocketAddr, from: SocketAddr, n: u32) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/TCP {from};branch=z9hG4bK-t{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@{from}>;tag={n}\r\nTo: <sip:{to}>\r\n\
         Call-ID: t{n}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Reads one response (header section; these carry no body) from a stream.
fn read_response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before a response: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[test]
fn tcp_connection_is_reused_then_closed_when_idle() {
    let server = serve("127.0.0.1:0", |c| c.tcp_idle = Duration::from_secs(1));
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = s.local_addr().unwrap();
    for n in 0..3 {
        s.write_all(options(server.addr, me, n).as_bytes()).unwrap();
        let r = read_response(&mut s);
        assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{r}");
    }
    // Idle for longer than tcp_idle (swept once a second): the server closes it.
    std::thread::sleep(Duration::from_millis(2600));
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed by the server");
}

#[test]
fn tcp_connections_past_the_limit_are_refused() {
    let server = serve("127.0.0.1:0", |c| c.tcp_connections = 1);
    let mut first = TcpStream::connect(server.addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let me = first.local_addr().unwrap();
    first
        .write_all(options(server.addr, me, 1).as_bytes())
        .unwrap();
    assert!(read_response(&mut first).starts_with("SIP/2.0 200 OK"));
    let mut second = TcpStream::connect(server.addr).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(second.read(&mut buf).unwrap_or(0), 0, "refused");
    // The first still works.
    first
        .write_all(options(server.addr, me, 2).as_bytes())
        .unwrap();
    assert!(read_response(&mut first).starts_with("SIP/2.0 200 OK"));
}

#[test]
fn a_stream_that_cannot_be_framed_is_answered_and_closed() {
    let server = serve("127.0.0.1:0", |_| {});
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = s.local_addr().unwrap();
    // A stream message needs Content-Length (§18.3, §20.14).
    let bad = options(server.addr, me, 9).replace("Content-Length: 0\r\n", "");
    s.write_all(bad.as_bytes()).unwrap();
    let r = read_response(&mut s);
    assert!(r.starts_with("SIP/2.0 400 "), "{r}");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
}

/// §18.1.1: a request within 200 bytes of the path MTU, or over 1300 bytes when the MTU is
/// unknown, goes over TCP even if the target asked for UDP.
#[test]
fn a_large_request_is_forwarded_over_tcp() {
    let server = serve("127.0.0.1:0", |_| {});
    let callee = TcpListener::bind("127.0.0.1:0").unwrap();
    let callee_addr = callee.local_addr().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = udp.local_addr().unwrap();
    let a = server.addr;
    let register = format!(
        "REGISTER sip:{a} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-reg1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@{a}>;tag=r1\r\nTo: <sip:bob@{a}>\r\n\
         Call-ID: reg1@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@{callee_addr}>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    udp.send_to(register.as_bytes(), a).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200 OK"));
    let body = "v=0\r\n".to_owned()
        + &"a=x-padding:0123456789012345678901234567890123456789\r\n".repeat(30);
    let invite = format!(
        "INVITE sip:bob@{a} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-big1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag=a1\r\nTo: <sip:bob@{a}>\r\n\
         Call-ID: big1@test\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert!(invite.len() > 1300);
    udp.send_to(invite.as_bytes(), a).unwrap();
    callee.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut conn = loop {
        match callee.accept() {
            Ok((c, _)) => break c,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("no TCP connection from the proxy: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    while got.len() < invite.len() {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with(&format!("INVITE sip:bob@{callee_addr} SIP/2.0\r\n")),
        "{text}"
    );
    assert!(text.contains("Via: SIP/2.0/TCP "), "{text}");
}

#[test]
fn ipv6_is_served() {
    // Skipped where the machine has no IPv6 loopback.
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no ::1");
        return;
    }
    let server = serve("[::1]:0", |_| {});
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let me = udp.local_addr().unwrap();
    let request = options(server.addr, me, 6).replace("SIP/2.0/TCP", "SIP/2.0/UDP");
    udp.send_to(request.as_bytes(), server.addr).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = udp.recv_from(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 200 OK"), "{text}");
}
