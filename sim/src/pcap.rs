//! Classic libpcap output of the packets nodes sent, with real IP, UDP and TCP headers.
//!
//! The format and its limits are documented on [`Sim::pcap`](crate::Sim::pcap).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use sipwire_core::time::Instant;

use crate::{Packet, Transport};

/// `LINKTYPE_RAW`: each record is a raw IPv4 or IPv6 packet.
pub(crate) const LINKTYPE_RAW: u32 = 101;
/// The largest TCP payload per segment, as on an Ethernet path.
pub const MSS: usize = 1460;
const SNAPLEN: u32 = 262_144;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const TCP_FIN_SYN: u8 = 0x02;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// The capture of `sent` (send time and packet, in sending order).
pub(crate) fn capture<'a>(sent: impl IntoIterator<Item = (Instant, &'a Packet)>) -> Vec<u8> {
    let mut w = Writer {
        out: Vec::new(),
        ip_id: 0,
        conns: BTreeMap::new(),
    };
    w.global_header();
    for (time, packet) in sent {
        w.packet(time, packet);
    }
    w.out
}

/// Sequence state of one simulated TCP connection.
struct Conn {
    /// Next sequence number from the client.
    client_next: u32,
    /// Next sequence number from the server.
    server_next: u32,
}

struct Writer {
    out: Vec<u8>,
    ip_id: u16,
    /// Keyed by (client, server).
    conns: BTreeMap<(SocketAddr, SocketAddr), Conn>,
}

impl Writer {
    fn global_header(&mut self) {
        self.out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        self.out.extend_from_slice(&2u16.to_le_bytes());
        self.out.extend_from_slice(&4u16.to_le_bytes());
        self.out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        self.out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        self.out.extend_from_slice(&SNAPLEN.to_le_bytes());
        self.out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    }

    fn packet(&mut self, time: Instant, p: &Packet) {
        if p.src.is_ipv4() != p.dst.is_ipv4() {
            return;
        }
        match p.transport {
            Transport::Udp => {
                let max = if p.src.is_ipv4() { 65_507 } else { 65_527 };
                if p.bytes.len() > max {
                    return;
                }
                let mut seg = Vec::with_capacity(8 + p.bytes.len());
                seg.extend_from_slice(&p.src.port().to_be_bytes());
                seg.extend_from_slice(&p.dst.port().to_be_bytes());
                // Bounded by `max` above.
                seg.extend_from_slice(&((8 + p.bytes.len()) as u16).to_be_bytes());
                seg.extend_from_slice(&[0, 0]);
                seg.extend_from_slice(&p.bytes);
                let sum = match transport_checksum(p.src.ip(), p.dst.ip(), PROTO_UDP, &seg) {
                    0 => 0xffff, // RFC 768: a computed zero is sent as all ones
                    s => s,
                };
                seg[6..8].copy_from_slice(&sum.to_be_bytes());
                self.ip(time, p.src.ip(), p.dst.ip(), PROTO_UDP, &seg);
            }
            Transport::Tcp => self.tcp(time, p),
        }
    }

    fn tcp(&mut self, time: Instant, p: &Packet) {
        let (src, dst) = (p.src, p.dst);
        let from_client = if self.conns.contains_key(&(src, dst)) {
            true
        } else if self.conns.contains_key(&(dst, src)) {
            false
        } else {
            let client_isn = isn(src, dst);
            let server_isn = isn(dst, src);
            self.segment(time, src, dst, client_isn, 0, TCP_FIN_SYN, &[]);
            self.segment(
                time,
                dst,
                src,
                server_isn,
                client_isn.wrapping_add(1),
                TCP_FIN_SYN | TCP_ACK,
                &[],
            );
            self.segment(
                time,
                src,
                dst,
                client_isn.wrapping_add(1),
                server_isn.wrapping_add(1),
                TCP_ACK,
                &[],
            );
            let conn = Conn {
                client_next: client_isn.wrapping_add(1),
                server_next: server_isn.wrapping_add(1),
            };
            self.conns.insert((src, dst), conn);
            true
        };
        for chunk in p.bytes.chunks(MSS) {
            let key = if from_client { (src, dst) } else { (dst, src) };
            let Some(conn) = self.conns.get_mut(&key) else {
                return; // inserted above or found by contains_key
            };
            let (seq, ack) = if from_client {
                let seq = conn.client_next;
                conn.client_next = seq.wrapping_add(chunk.len() as u32);
                (seq, conn.server_next)
            } else {
                let seq = conn.server_next;
                conn.server_next = seq.wrapping_add(chunk.len() as u32);
                (seq, conn.client_next)
            };
            self.segment(time, src, dst, seq, ack, TCP_PSH | TCP_ACK, chunk);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        time: Instant,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) {
        let mut seg = Vec::with_capacity(20 + payload.len());
        seg.extend_from_slice(&src.port().to_be_bytes());
        seg.extend_from_slice(&dst.port().to_be_bytes());
        seg.extend_from_slice(&seq.to_be_bytes());
        seg.extend_from_slice(&ack.to_be_bytes());
        seg.push(5 << 4); // data offset: 5 words, no options
        seg.push(flags);
        seg.extend_from_slice(&65_535u16.to_be_bytes()); // window
        seg.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
        seg.extend_from_slice(payload);
        let sum = transport_checksum(src.ip(), dst.ip(), PROTO_TCP, &seg);
        seg[16..18].copy_from_slice(&sum.to_be_bytes());
        self.ip(time, src.ip(), dst.ip(), PROTO_TCP, &seg);
    }

    /// Wrap `payload` in an IP header and write the record.
    fn ip(&mut self, time: Instant, src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) {
        let mut pkt = Vec::with_capacity(40 + payload.len());
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                // Callers keep payloads within 65535 - 20 bytes.
                let total = (20 + payload.len()) as u16;
                pkt.push(0x45); // version 4, 5-word header
                pkt.push(0); // DSCP/ECN
                pkt.extend_from_slice(&total.to_be_bytes());
                pkt.extend_from_slice(&self.ip_id.to_be_bytes());
                self.ip_id = self.ip_id.wrapping_add(1);
                pkt.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
                pkt.push(64); // TTL
                pkt.push(proto);
                pkt.extend_from_slice(&[0, 0]);
                pkt.extend_from_slice(&s.octets());
                pkt.extend_from_slice(&d.octets());
                let sum = checksum(&pkt);
                pkt[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                pkt.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, no class or flow
                pkt.extend_from_slice(&(payload.len() as u16).to_be_bytes());
                pkt.push(proto);
                pkt.push(64); // hop limit
                pkt.extend_from_slice(&s.octets());
                pkt.extend_from_slice(&d.octets());
            }
            _ => return, // mixed families are filtered out by `packet`
        }
        pkt.extend_from_slice(payload);

        let micros = time.as_micros();
        let secs = u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX);
        // Below 1_000_000, so it fits.
        let usecs = (micros % 1_000_000) as u32;
        let len = pkt.len() as u32; // at most 65535 + 40
        self.out.extend_from_slice(&secs.to_le_bytes());
        self.out.extend_from_slice(&usecs.to_le_bytes());
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(&pkt);
    }
}

/// A deterministic initial sequence number for the side `from` of a connection to `to`.
fn isn(from: SocketAddr, to: SocketAddr) -> u32 {
    // FNV-1a over the addresses and ports.
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    for a in [from, to] {
        match a.ip() {
            IpAddr::V4(ip) => eat(&ip.octets()),
            IpAddr::V6(ip) => eat(&ip.octets()),
        }
        eat(&a.port().to_be_bytes());
    }
    h
}

/// The internet checksum (RFC 1071) of `data`.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    !fold(sum_words(0, data))
}

/// The UDP/TCP checksum: over the IP pseudo-header, then the segment (RFC 768, RFC 793,
/// RFC 8200 §8.1).
fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let mut pseudo = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            pseudo.extend_from_slice(&s.octets());
            pseudo.extend_from_slice(&d.octets());
            pseudo.extend_from_slice(&[0, proto]);
            pseudo.extend_from_slice(&(segment.len() as u16).to_be_bytes());
        }
        _ => {
            for ip in [src, dst] {
                match ip {
                    IpAddr::V4(ip) => pseudo.extend_from_slice(&ip.to_ipv6_mapped().octets()),
                    IpAddr::V6(ip) => pseudo.extend_from_slice(&ip.octets()),
                }
            }
            pseudo.extend_from_slice(&(segment.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, proto]);
        }
    }
    !fold(sum_words(sum_words(0, &pseudo), segment))
}

/// Add `data` as big-endian 16-bit words (odd length padded with zero) to `acc`.
fn sum_words(mut acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Fold carries back into 16 bits (ones' complement addition).
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn a_valid_header_checks_to_zero() {
        let p = Packet::udp(
            "192.0.2.1:5060".parse().unwrap(),
            "192.0.2.2:5060".parse().unwrap(),
            &b"abc"[..],
        );
        let pcap = capture([(Instant::ZERO, &p)]);
        let ip = &pcap[24 + 16..];
        assert_eq!(checksum(&ip[..20]), 0);
        // UDP over the pseudo-header verifies to zero too.
        let udp = &ip[20..];
        assert_eq!(
            transport_checksum(p.src.ip(), p.dst.ip(), PROTO_UDP, udp),
            0
        );
    }
}
