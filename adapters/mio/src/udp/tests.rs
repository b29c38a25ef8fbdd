//! The batches on real loopback sockets.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdSocket};
use std::time::Duration;

use mio::net::UdpSocket;

use super::{Inbox, Outbox};

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A nonblocking socket as the server has them, with its address.
fn server_socket() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind(local()).unwrap();
    let a = s.local_addr().unwrap();
    (s, a)
}

/// A blocking socket that reads what the server sends.
fn peer() -> StdSocket {
    let s = StdSocket::bind(local()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn read_all(s: &StdSocket, n: usize) -> Vec<(String, SocketAddr)> {
    let mut buf = [0u8; 2048];
    (0..n)
        .map(|_| {
            let (len, from) = s.recv_from(&mut buf).unwrap();
            (String::from_utf8_lossy(&buf[..len]).into_owned(), from)
        })
        .collect()
}

#[test]
fn a_burst_is_read_a_batch_at_a_time() {
    let (socket, addr) = server_socket();
    let sender = peer();
    for i in 0..20 {
        sender.send_to(format!("d{i}").as_bytes(), addr).unwrap();
    }
    let mut inbox = Inbox::new(8);
    let mut got = Vec::new();
    for (want, drained) in [(8, false), (8, false), (4, true)] {
        assert_eq!(inbox.recv(&socket).unwrap(), want);
        assert_eq!(inbox.drained(), drained);
        for k in 0..want {
            let (bytes, from) = inbox.datagram(k).unwrap();
            assert_eq!(from, sender.local_addr().unwrap());
            got.push(String::from_utf8(bytes.to_vec()).unwrap());
        }
        assert!(inbox.datagram(want).is_none());
    }
    let expected: Vec<String> = (0..20).map(|i| format!("d{i}")).collect();
    assert_eq!(got, expected);
    let e = inbox.recv(&socket).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn a_full_batch_is_not_taken_for_an_empty_queue() {
    let (socket, addr) = server_socket();
    let sender = peer();
    for i in 0..4 {
        sender.send_to(format!("d{i}").as_bytes(), addr).unwrap();
    }
    let mut inbox = Inbox::new(4);
    assert_eq!(inbox.recv(&socket).unwrap(), 4);
    // Exactly a batch: the queue may hold more, so the reader must read again.
    assert!(!inbox.drained());
    assert_eq!(
        inbox.recv(&socket).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}

#[test]
fn sends_keep_their_order_per_socket_past_a_batch() {
    let sockets = vec![server_socket(), server_socket()];
    let (p, q) = (peer(), peer());
    let (pa, qa) = (p.local_addr().unwrap(), q.local_addr().unwrap());
    let mut out = Outbox::new(4);
    // Interleaved over two sockets and two peers; more than a batch in all.
    for i in 0..10 {
        out.push(
            i % 2,
            if i % 3 == 0 { pa } else { qa },
            format!("m{i}").as_bytes(),
            None,
        );
    }
    assert!(out.is_full());
    assert_eq!(out.len(), 10);
    let mut failed = Vec::new();
    out.flush(&sockets, &mut failed);
    assert!(failed.is_empty());
    assert_eq!(out.len(), 0);
    let to_p: Vec<usize> = (0..10).filter(|i| i % 3 == 0).collect();
    let to_q: Vec<usize> = (0..10).filter(|i| i % 3 != 0).collect();
    for (peer, sent) in [(&p, to_p), (&q, to_q)] {
        let got = read_all(peer, sent.len());
        for (s, (_, from)) in sockets.iter().enumerate() {
            let want: Vec<String> = sent
                .iter()
                .filter(|&&i| i % 2 == s)
                .map(|i| format!("m{i}"))
                .collect();
            let seen: Vec<String> = got
                .iter()
                .filter(|(_, f)| f == from)
                .map(|(m, _)| m.clone())
                .collect();
            assert_eq!(seen, want, "from socket {s}");
        }
    }
}

#[test]
fn a_datagram_the_kernel_refuses_is_given_up_and_the_rest_sent() {
    let sockets = vec![server_socket()];
    let p = peer();
    let pa = p.local_addr().unwrap();
    // An IPv6 destination cannot be reached from an IPv4 socket.
    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    let mut out = Outbox::new(8);
    out.push(0, pa, b"first", None);
    out.push(0, v6, b"refused", None);
    out.push(0, pa, b"second", None);
    let mut failed = Vec::new();
    out.flush(&sockets, &mut failed);
    let got: Vec<String> = read_all(&p, 2).into_iter().map(|(m, _)| m).collect();
    assert_eq!(got, ["first", "second"]);
    assert_eq!(out.len(), 0);
}

#[test]
fn a_datagram_for_a_socket_that_is_gone_is_not_sent() {
    let sockets = vec![server_socket()];
    let p = peer();
    let mut out = Outbox::new(2);
    out.push(5, p.local_addr().unwrap(), b"nowhere", None);
    out.push(0, p.local_addr().unwrap(), b"here", None);
    let mut failed = Vec::new();
    out.flush(&sockets, &mut failed);
    assert_eq!(read_all(&p, 1)[0].0, "here");
}
