//! What the `sipwire` command's tests share: asking a running server for OPTIONS.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Sends OPTIONS to `to` until a response comes (or 10 s pass); returns it.
pub fn options(to: &str) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let request = format!(
            "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-cli-{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:test@{me}>;tag=t{n}\r\nTo: <sip:{to}>\r\n\
             Call-ID: cli-{n}@{me}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        socket.send_to(request.as_bytes(), to).unwrap();
        if let Ok((len, _)) = socket.recv_from(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
    }
    None
}
