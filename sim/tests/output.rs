//! What a run leaves behind: the ladder diagram and the pcap capture.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::addr;
use sipwire_sim::{Duration, Instant, LinkConfig, NodeId, ScriptedPeer, Sim, TraceKind, Transport};

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn latency(millis: u64) -> LinkConfig {
    LinkConfig::with_latency(Duration::from_millis(millis))
}

const OPTIONS: &str = "OPTIONS sip:bob@10.0.0.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKopt1\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@10.0.0.2>\r\n\
From: <sip:alice@10.0.0.1>;tag=a1\r\n\
Call-ID: opt1@10.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKopt1\r\n\
To: <sip:bob@10.0.0.2>;tag=b1\r\n\
From: <sip:alice@10.0.0.1>;tag=a1\r\n\
Call-ID: opt1@10.0.0.1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

/// A TCP OPTIONS whose body spans several segments, so a reader must reassemble it.
fn tcp_options() -> String {
    let body = "v=0\r\n".repeat(800);
    format!(
        "OPTIONS sip:dave@10.0.0.4;transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/TCP 10.0.0.3:5060;branch=z9hG4bKopt2\r\n\
Max-Forwards: 70\r\n\
To: <sip:dave@10.0.0.4>\r\n\
From: <sip:carol@10.0.0.3>;tag=c1\r\n\
Call-ID: opt2@10.0.0.3\r\n\
CSeq: 7 OPTIONS\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const TCP_OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TCP 10.0.0.3:5060;branch=z9hG4bKopt2\r\n\
To: <sip:dave@10.0.0.4>;tag=d1\r\n\
From: <sip:carol@10.0.0.3>;tag=c1\r\n\
Call-ID: opt2@10.0.0.3\r\n\
CSeq: 7 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

/// OPTIONS and 200 OK over UDP (alice, bob), then over TCP (carol, dave), on links
/// configured `cfg`; the scripted replies go out whether or not the request arrived.
/// Lossy, jittery links.
fn lossy() -> LinkConfig {
    LinkConfig {
        jitter: Duration::from_millis(5),
        loss: 0.2,
        ..latency(10)
    }
}

fn options_exchange(seed: u64, cfg: LinkConfig) -> Sim {
    let mut alice = ScriptedPeer::new(addr(1));
    alice.send_at(ms(0), Transport::Udp, addr(2), OPTIONS);
    let mut bob = ScriptedPeer::new(addr(2));
    bob.send_at(ms(50), Transport::Udp, addr(1), OK);
    let mut carol = ScriptedPeer::new(addr(3));
    carol.send_at(ms(100), Transport::Tcp, addr(4), tcp_options());
    let mut dave = ScriptedPeer::new(addr(4));
    dave.send_at(ms(150), Transport::Tcp, addr(3), TCP_OK);

    let mut sim = Sim::new(seed);
    sim.default_link(cfg);
    sim.add_node("alice", Box::new(alice));
    sim.add_node("bob", Box::new(bob));
    sim.add_node("carol", Box::new(carol));
    sim.add_node("dave", Box::new(dave));
    sim.run().unwrap();
    sim
}

#[test]
fn same_seed_gives_identical_pcap_and_ladder() {
    let (a, b) = (options_exchange(99, lossy()), options_exchange(99, lossy()));
    assert_eq!(a.pcap(), b.pcap());
    assert_eq!(a.ladder(), b.ladder());
    assert_eq!(a.trace(), b.trace());
}

/// One pcap record: timestamp in microseconds and the raw IP packet.
fn records(pcap: &[u8]) -> Vec<(u64, &[u8])> {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond magic"
    );
    assert_eq!(&pcap[4..8], &[2, 0, 4, 0], "version 2.4");
    assert_eq!(u32_at(pcap, 20), 101, "LINKTYPE_RAW");
    let mut out = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let (secs, usecs) = (u32_at(pcap, at), u32_at(pcap, at + 4));
        let (incl, orig) = (
            u32_at(pcap, at + 8) as usize,
            u32_at(pcap, at + 12) as usize,
        );
        assert_eq!(incl, orig, "nothing truncated");
        assert!(usecs < 1_000_000);
        let data = &pcap[at + 16..at + 16 + incl];
        out.push((u64::from(secs) * 1_000_000 + u64::from(usecs), data));
        at += 16 + incl;
    }
    assert_eq!(at, pcap.len(), "records fill the file exactly");
    out
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(b[i..i + 4].try_into().unwrap())
}

/// RFC 1071 sum, complemented: zero over a header that carries a valid checksum.
fn verify(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The IPv4 pseudo-header followed by the segment, for checking UDP and TCP checksums.
fn with_pseudo(ip: &[u8]) -> Vec<u8> {
    let seg = &ip[20..];
    let mut v = ip[12..20].to_vec();
    v.extend_from_slice(&[0, ip[9]]);
    v.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    v.extend_from_slice(seg);
    v
}

#[test]
fn pcap_headers_are_well_formed() {
    let sim = options_exchange(99, lossy());
    let pcap = sim.pcap();
    let recs = records(&pcap);
    let sent: Vec<_> = sim
        .trace()
        .iter()
        .filter(|e| e.kind == TraceKind::Sent)
        .collect();
    assert_eq!(sent.len(), 4);
    // UDP: one record per packet. TCP: handshake (3) + 3 segments of the big OPTIONS, and
    // the 200 OK in one.
    let big = tcp_options();
    let segments = big.len().div_ceil(sipwire_sim::PCAP_TCP_MSS);
    assert_eq!(segments, 3);
    assert_eq!(recs.len(), 2 + 3 + segments + 1);

    let mut tcp_flags = Vec::new();
    let mut next_seq = std::collections::BTreeMap::new();
    let mut tcp_payload = Vec::new();
    for (time, ip) in &recs {
        assert_eq!(ip[0], 0x45, "IPv4, 20-byte header");
        assert_eq!(usize::from(be16(ip, 2)), ip.len(), "total length");
        assert_eq!(verify(&ip[..20]), 0, "IPv4 header checksum");
        assert_eq!(verify(&with_pseudo(ip)), 0, "UDP/TCP checksum");
        let src = u32::from(ip[15]);
        let seg = &ip[20..];
        match ip[9] {
            17 => {
                assert_eq!(usize::from(be16(seg, 4)), seg.len(), "UDP length");
                assert_eq!((be16(seg, 0), be16(seg, 2)), (5060, 5060));
                let packet = sent
                    .iter()
                    .map(|e| (e.time, sim.packet(e.packet)))
                    .find(|(_, p)| p.bytes == seg[8..])
                    .expect("a sent packet");
                assert_eq!(*time, packet.0.as_micros(), "stamped at send time");
            }
            6 => {
                assert_eq!(seg[12], 5 << 4, "20-byte TCP header");
                let flags = seg[13];
                tcp_flags.push((src, flags));
                let seq = be32(seg, 4);
                let payload = &seg[20..];
                if flags & 0x02 != 0 {
                    next_seq.insert(src, seq.wrapping_add(1));
                } else {
                    assert_eq!(next_seq[&src], seq, "sequence continues from {src}");
                    let other = if src == 3 { 4 } else { 3 };
                    assert_eq!(be32(seg, 8), next_seq[&other], "acks the peer");
                    next_seq.insert(src, seq.wrapping_add(payload.len() as u32));
                }
                if src == 3 {
                    tcp_payload.extend_from_slice(payload);
                }
            }
            p => panic!("protocol {p}"),
        }
    }
    let (syn, syn_ack, ack, psh_ack) = (0x02, 0x12, 0x10, 0x18);
    let mut expected = vec![(3, syn), (4, syn_ack), (3, ack)];
    expected.extend(std::iter::repeat_n((3, psh_ack), segments));
    expected.push((4, psh_ack));
    assert_eq!(tcp_flags, expected);
    assert_eq!(tcp_payload, big.as_bytes(), "segments carry the stream");
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn tshark_reads_sip_over_udp_and_tcp() {
    if !tshark_available() {
        println!("SKIPPED: tshark is not on PATH");
        return;
    }
    // The capture is the senders' side, so it holds every message even on a lossy link.
    let sim = options_exchange(99, lossy());
    let path: PathBuf =
        std::env::temp_dir().join(format!("sipwire-sim-tshark-{}.pcap", std::process::id()));
    sim.write_pcap(&path).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e"])
        .arg("sip.Status-Code")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["OPTIONS\t", "\t200", "OPTIONS\t", "\t200"],
        "tshark saw: {text}"
    );
}

/// alice and bob with a 10 ms link, each sending its scripted half of a call setup.
fn call(alice_sends: &[(u64, &str)], bob_sends: &[(u64, &str)]) -> (Sim, NodeId, NodeId) {
    let mut alice = ScriptedPeer::new(addr(1));
    for &(t, msg) in alice_sends {
        alice.send_at(ms(t), Transport::Udp, addr(2), msg);
    }
    let mut bob = ScriptedPeer::new(addr(2));
    for &(t, msg) in bob_sends {
        bob.send_at(ms(t), Transport::Udp, addr(1), msg);
    }
    let mut sim = Sim::new(1);
    let a = sim.add_node("alice", Box::new(alice));
    let b = sim.add_node("bob", Box::new(bob));
    sim.link(a, b, latency(10), latency(10));
    (sim, a, b)
}

const INVITE: &str = "INVITE sip:bob@10.0.0.2 SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n";
const RINGING: &str = "SIP/2.0 180 Ringing\r\nCSeq: 1 INVITE\r\n\r\n";
const OK_INVITE: &str = "SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n";
const ACK: &str = "ACK sip:bob@10.0.0.2 SIP/2.0\r\nCSeq: 1 ACK\r\n\r\n";

#[test]
fn ladder_of_a_call_setup() {
    let (mut sim, _, _) = call(
        &[(0, INVITE), (100, ACK)],
        &[(20, RINGING), (50, OK_INVITE)],
    );
    sim.run().unwrap();
    let expected = [
        "              alice                 bob",
        "                |                    |",
        "  0.010000s     |------ INVITE ----->|",
        "  0.030000s     |<-- 180 Ringing ----|",
        "  0.060000s     |<----- 200 OK ------|",
        "  0.110000s     |------- ACK ------->|",
    ];
    assert_eq!(sim.ladder(), lines(&expected), "\n{}", sim.ladder());
}

#[test]
fn ladder_shows_drops_duplicates_and_strays() {
    let (mut sim, a, b) = call(
        &[(0, INVITE), (500, INVITE), (600, ACK)],
        &[(520, OK_INVITE)],
    );
    sim.drop_next(a, b, 1);
    let c = sim.add_node("carol", Box::new(ScriptedPeer::new(addr(3))));
    sim.link(a, c, latency(5), latency(5));
    sim.node_mut::<ScriptedPeer>(a)
        .send_at(ms(700), Transport::Udp, addr(3), "hello");
    sim.node_mut::<ScriptedPeer>(a)
        .send_at(ms(800), Transport::Udp, addr(9), ACK);
    sim.link(
        b,
        a,
        LinkConfig {
            duplicate: 1.0,
            ..latency(10)
        },
        latency(10),
    );
    sim.run().unwrap();
    let expected = [
        "              alice               bob               carol",
        "                |                  |                  |",
        "  0.000000s     |----- INVITE --x  |                  |  dropped by hook",
        "  0.510000s     |----- INVITE ---->|                  |",
        "  0.530000s     |<---- 200 OK -----|                  |",
        "  0.530000s     |<---- 200 OK -----|                  |  dup",
        "  0.610000s     |------ ACK ------>|                  |",
        "  0.705000s     |------------- <5 bytes> ------------>|",
        "  0.800000s     |                  |                  |  ACK to 10.0.0.9:5060 no route",
    ];
    assert_eq!(sim.ladder(), lines(&expected), "\n{}", sim.ladder());
}

fn lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn pcap_writes_ipv6_and_skips_mixed_families() {
    let v6a: std::net::SocketAddr = "[2001:db8::1]:5060".parse().unwrap();
    let v6b: std::net::SocketAddr = "[2001:db8::2]:5060".parse().unwrap();
    let mut alice = ScriptedPeer::new(v6a);
    alice.send_at(ms(0), Transport::Udp, v6b, OPTIONS);
    alice.send_at(ms(1), Transport::Udp, addr(2), OPTIONS); // v6 -> v4: no wire
    let mut sim = Sim::new(0);
    sim.add_node("alice", Box::new(alice));
    sim.add_node("bob", Box::new(ScriptedPeer::new(v6b)));
    sim.add_node("v4", Box::new(ScriptedPeer::new(addr(2))));
    sim.run().unwrap();
    let pcap = sim.pcap();
    let recs = records(&pcap);
    assert_eq!(recs.len(), 1);
    let ip = recs[0].1;
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(usize::from(be16(ip, 4)), ip.len() - 40, "payload length");
    assert_eq!(ip[6], 17, "next header: UDP");
    let udp = &ip[40..];
    assert_eq!(&udp[8..], OPTIONS.as_bytes());
    assert_ne!(be16(udp, 6), 0, "IPv6 UDP carries a checksum");
}
