//! Where a response is sent (RFC 3261 §18.2.2, RFC 3581 §4).

use core::net::{IpAddr, SocketAddr};

use super::received::via_received;
use super::Transport;
use crate::message::headers::Via;
use crate::message::Host;

/// Where to send a response, decided by [`response_target`] from the top Via.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseTarget<'b> {
    /// Send on the connection the request arrived on, if it is still open (§18.2.2, reliable
    /// transports). Otherwise open a connection to `fallback` — the `received` address (or
    /// the sent-by IP) with the sent-by port or the transport's default port — and if that
    /// fails too, resolve the sent-by per RFC 3263 §5. `fallback` is `None` for WS and WSS
    /// (a server cannot connect back to a WebSocket client, RFC 7118) and when the sent-by is
    /// a domain name with no `received`, which only RFC 3263 §5 can turn into an address.
    Connection {
        /// The address to connect to when the request's connection is gone.
        fallback: Option<SocketAddr>,
    },
    /// Send to this address over the request's (unreliable) transport.
    Addr(SocketAddr),
    /// Send to this multicast address (the Via's `maddr`) with this IP TTL: the Via's `ttl`,
    /// or 1 when absent (§18.2.2).
    Multicast {
        /// The group and port.
        addr: SocketAddr,
        /// The IP time-to-live (hop limit) to send with.
        ttl: u8,
    },
    /// Resolve `host` per RFC 3263 §5 and send there: the sent-by is a domain name and the
    /// Via carries no `received`, or the `maddr` is a domain name. With `port: None` the DNS
    /// layer looks up SRV records for `transport` before falling back to A/AAAA and the
    /// default port (RFC 3263 §5); with a port it looks up A/AAAA only.
    Resolve {
        /// The domain name to look up.
        host: &'b str,
        /// The port, if the Via names one.
        port: Option<u16>,
        /// The transport to send over.
        transport: Transport,
    },
}

/// Where to send a response to a request that arrived from `source` over `transport`, given
/// the request's top Via as received (RFC 3261 §18.2.2, RFC 3581 §4). `received` and `rport`
/// are decided from `source` as [`via_received`] does, so the answer is the one
/// [`response_target_from_via`] gives for the Via as [`write_top_via`](super::write_top_via)
/// rewrites it.
///
/// In order:
/// 1. A reliable `transport` (the one the request actually came on, which the sent-protocol
///    names): [`ResponseTarget::Connection`], falling back to the source IP with the sent-by
///    port or the transport's default port.
/// 2. A `maddr` parameter: that address with the sent-by port, or 5060;
///    [`ResponseTarget::Multicast`] with the `ttl` (default 1) for a multicast address,
///    [`ResponseTarget::Resolve`] for a domain name.
/// 3. Otherwise the source IP (the `received` address, or the sent-by IP when it equals the
///    source), with the source port if the client asked for `rport` (RFC 3581 §4), else the
///    `rport` value if one was written, else the sent-by port, else 5060.
///
/// The returned address keeps the family and IPv6 scope of `source`, so that it can be used
/// with the socket the request arrived on (an IPv4 peer seen through a dual-stack socket stays
/// IPv4-mapped).
///
/// ```
/// use core::net::SocketAddr;
/// use sipwire_core::message::headers::Via;
/// use sipwire_core::transport::{response_target, ResponseTarget, Transport};
///
/// let via = Via::parse(b"SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff").unwrap();
/// let source: SocketAddr = "192.0.2.1:9988".parse().unwrap();
/// assert_eq!(
///     response_target(&via, source, Transport::Udp),
///     ResponseTarget::Addr(source)
/// );
/// ```
pub fn response_target<'b>(
    via: &Via<'b>,
    source: SocketAddr,
    transport: Transport,
) -> ResponseTarget<'b> {
    let sent_by_port = via.port.unwrap_or(transport.default_port());
    if transport.is_reliable() {
        return ResponseTarget::Connection {
            fallback: connects_back(transport).then_some(with_port(source, sent_by_port)),
        };
    }
    if let Some(target) = maddr_target(via, transport) {
        return target;
    }
    let add = via_received(via, source);
    let port = add.rport.or(via.rport().flatten()).unwrap_or(sent_by_port);
    // The response goes to the source IP: `received` when it differs from the sent-by, the
    // sent-by itself when it does not (§18.2.1).
    ResponseTarget::Addr(with_port(source, port))
}

/// Where to send a response whose top Via already carries the `received` and `rport` a
/// server wrote when the request arrived (RFC 3261 §18.2.2, RFC 3581 §4): what a stateless
/// proxy does with a response it forwards (§16.11), or a server that kept only the Via.
///
/// `transport` is the Via's sent-protocol ([`Transport::from_token`] of
/// [`Via::transport`]). The rules are those of [`response_target`], reading the addresses from
/// the Via instead of a packet source:
/// 1. Reliable: [`ResponseTarget::Connection`], falling back to `received` (or the sent-by IP)
///    with the sent-by port or the transport's default port.
/// 2. `maddr`: as in [`response_target`].
/// 3. `received`: that IP, with the `rport` value if present (RFC 3581 §4), else the sent-by
///    port, else 5060.
/// 4. No `received`, sent-by IP: that IP and port (the `rport` value if present).
/// 5. No `received`, sent-by domain name: [`ResponseTarget::Resolve`] (RFC 3263 §5).
pub fn response_target_from_via<'b>(via: &Via<'b>, transport: Transport) -> ResponseTarget<'b> {
    let sent_by_port = via.port.unwrap_or(transport.default_port());
    // The address to answer: `received`, else the sent-by IP; a sent-by name needs DNS.
    let ip = match (via.received(), via.host) {
        (Some(ip), _) => Ok(ip),
        (None, Host::Ipv4(a)) => Ok(IpAddr::V4(a)),
        (None, Host::Ipv6(a)) => Ok(IpAddr::V6(a)),
        (None, Host::Name(name)) => Err(name),
    };
    if transport.is_reliable() {
        return ResponseTarget::Connection {
            fallback: ip
                .ok()
                .filter(|_| connects_back(transport))
                .map(|ip| SocketAddr::new(ip, sent_by_port)),
        };
    }
    if let Some(target) = maddr_target(via, transport) {
        return target;
    }
    let rport = via.rport().flatten();
    match ip {
        Ok(ip) => ResponseTarget::Addr(SocketAddr::new(ip, rport.unwrap_or(sent_by_port))),
        Err(host) => ResponseTarget::Resolve {
            host,
            port: rport.or(via.port),
            transport,
        },
    }
}

/// §18.2.2, second rule: a `maddr` parameter names where the response goes, with the sent-by
/// port or 5060 (the unreliable transports' default).
fn maddr_target<'b>(via: &Via<'b>, transport: Transport) -> Option<ResponseTarget<'b>> {
    let maddr = via.maddr()?;
    let port = via.port.unwrap_or(transport.default_port());
    // `maddr = "maddr" EQUAL host` (§25.1): an IPv6reference keeps its brackets.
    let literal = maddr
        .strip_prefix('[')
        .and_then(|m| m.strip_suffix(']'))
        .unwrap_or(maddr);
    Some(match crate::message::ip::parse_ip(literal.as_bytes()) {
        Some(ip) if ip.is_multicast() => ResponseTarget::Multicast {
            addr: SocketAddr::new(ip, port),
            ttl: via.ttl().unwrap_or(1),
        },
        Some(ip) => ResponseTarget::Addr(SocketAddr::new(ip, port)),
        None => ResponseTarget::Resolve {
            host: maddr,
            port: Some(port),
            transport,
        },
    })
}

/// Whether a server can open a connection back to the client for this transport: not for
/// WebSocket, whose clients (browsers) accept no connections (RFC 7118).
fn connects_back(transport: Transport) -> bool {
    !matches!(transport, Transport::Ws | Transport::Wss)
}

/// `addr` with another port, keeping its family, flow label and scope.
fn with_port(mut addr: SocketAddr, port: u16) -> SocketAddr {
    addr.set_port(port);
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[cfg(feature = "ipv6")]
    fn target(via: &'static str, source: &str, transport: Transport) -> ResponseTarget<'static> {
        let via = Via::parse(via.as_bytes()).expect("test Via parses");
        response_target(&via, sa(source), transport)
    }

    #[cfg(feature = "ipv6")]
    fn from_via(via: &'static str) -> ResponseTarget<'static> {
        let via = Via::parse(via.as_bytes()).expect("test Via parses");
        let t = Transport::from_token(via.transport).expect("known transport");
        response_target_from_via(&via, t)
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn response_target_table() {
        use ResponseTarget::*;
        use Transport::*;
        let conn = |a: &str| Connection {
            fallback: Some(sa(a)),
        };
        for (via, source, transport, expected) in [
            // 1. Reliable: the connection; fallback source IP + sent-by port / default port.
            (
                "SIP/2.0/TCP pc.example.com:5070",
                "192.0.2.4:40000",
                Tcp,
                conn("192.0.2.4:5070"),
            ),
            (
                "SIP/2.0/TCP 192.0.2.4",
                "192.0.2.4:40000",
                Tcp,
                conn("192.0.2.4:5060"),
            ),
            (
                "SIP/2.0/TLS 10.0.0.1",
                "192.0.2.4:40000",
                Tls,
                conn("192.0.2.4:5061"),
            ),
            (
                "SIP/2.0/SCTP 10.0.0.1;rport",
                "192.0.2.4:4000",
                Sctp,
                conn("192.0.2.4:5060"),
            ),
            // maddr does not override the connection.
            (
                "SIP/2.0/TCP 10.0.0.1;maddr=239.1.1.1",
                "192.0.2.4:1",
                Tcp,
                conn("192.0.2.4:5060"),
            ),
            // WebSocket: no connecting back.
            (
                "SIP/2.0/WSS df7jal23ls0d.invalid",
                "192.0.2.4:1",
                Wss,
                Connection { fallback: None },
            ),
            (
                "SIP/2.0/WS df7jal23ls0d.invalid",
                "192.0.2.4:1",
                Ws,
                Connection { fallback: None },
            ),
            // 2. maddr: unicast IP, multicast with ttl, multicast default ttl, name, IPv6.
            (
                "SIP/2.0/UDP 10.0.0.1:5070;maddr=192.0.2.99",
                "192.0.2.4:1",
                Udp,
                Addr(sa("192.0.2.99:5070")),
            ),
            (
                "SIP/2.0/UDP 10.0.0.1;maddr=239.255.255.1;ttl=4",
                "192.0.2.4:1",
                Udp,
                Multicast {
                    addr: sa("239.255.255.1:5060"),
                    ttl: 4,
                },
            ),
            (
                "SIP/2.0/UDP 10.0.0.1;maddr=224.0.1.75",
                "192.0.2.4:1",
                Udp,
                Multicast {
                    addr: sa("224.0.1.75:5060"),
                    ttl: 1,
                },
            ),
            (
                "SIP/2.0/UDP 10.0.0.1:5080;maddr=proxy.example.com",
                "192.0.2.4:1",
                Udp,
                Resolve {
                    host: "proxy.example.com",
                    port: Some(5080),
                    transport: Udp,
                },
            ),
            (
                "SIP/2.0/UDP 10.0.0.1;maddr=[2001:db8::7]",
                "192.0.2.4:1",
                Udp,
                Addr(sa("[2001:db8::7]:5060")),
            ),
            // 3. received (name or differing IP): source IP, sent-by port or 5060.
            (
                "SIP/2.0/UDP bobspc.biloxi.com:5060",
                "192.0.2.4:33000",
                Udp,
                Addr(sa("192.0.2.4:5060")),
            ),
            (
                "SIP/2.0/UDP bobspc.biloxi.com",
                "192.0.2.4:33000",
                Udp,
                Addr(sa("192.0.2.4:5060")),
            ),
            (
                "SIP/2.0/UDP 10.0.0.1:5072",
                "192.0.2.4:33000",
                Udp,
                Addr(sa("192.0.2.4:5072")),
            ),
            // Sent-by equals source: the sent-by.
            (
                "SIP/2.0/UDP 192.0.2.4:5062",
                "192.0.2.4:33000",
                Udp,
                Addr(sa("192.0.2.4:5062")),
            ),
            // rport asked: the source port (RFC 3581 §4).
            (
                "SIP/2.0/UDP 10.1.1.1:4540;rport",
                "192.0.2.1:9988",
                Udp,
                Addr(sa("192.0.2.1:9988")),
            ),
            (
                "SIP/2.0/UDP pc.example.com;rport",
                "192.0.2.1:9988",
                Udp,
                Addr(sa("192.0.2.1:9988")),
            ),
            // An rport the client filled in itself is honoured.
            (
                "SIP/2.0/UDP 10.1.1.1:4540;rport=7000",
                "192.0.2.1:9988",
                Udp,
                Addr(sa("192.0.2.1:7000")),
            ),
            // A forged received does not steer the response.
            (
                "SIP/2.0/UDP 10.1.1.1;received=203.0.113.1",
                "192.0.2.1:9988",
                Udp,
                Addr(sa("192.0.2.1:5060")),
            ),
            // IPv6.
            (
                "SIP/2.0/UDP [2001:db8::9]:5070",
                "[2001:db8::1]:4000",
                Udp,
                Addr(sa("[2001:db8::1]:5070")),
            ),
            (
                "SIP/2.0/UDP [2001:db8::1];rport",
                "[2001:db8::1]:4000",
                Udp,
                Addr(sa("[2001:db8::1]:4000")),
            ),
            // IPv4 peer on a dual-stack socket: stays mapped.
            (
                "SIP/2.0/UDP 192.0.2.4",
                "[::ffff:192.0.2.4]:4000",
                Udp,
                Addr(sa("[::ffff:192.0.2.4]:5060")),
            ),
        ] {
            assert_eq!(
                target(via, source, transport),
                expected,
                "{via} from {source} over {transport}"
            );
        }
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn scope_id_kept() {
        let via = Via::parse(b"SIP/2.0/UDP [fe80::1]:5060;rport").expect("parses");
        let src = SocketAddr::V6(core::net::SocketAddrV6::new(
            "fe80::1".parse().expect("ip"),
            4000,
            0,
            3,
        ));
        let ResponseTarget::Addr(SocketAddr::V6(a)) = response_target(&via, src, Transport::Udp)
        else {
            panic!("not an IPv6 address");
        };
        assert_eq!((a.port(), a.scope_id()), (4000, 3));
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn from_via_table() {
        use ResponseTarget::*;
        use Transport::*;
        for (via, expected) in [
            // Reliable.
            (
                "SIP/2.0/TCP pc.example.com:5070;received=192.0.2.4;rport=40000",
                Connection {
                    fallback: Some(sa("192.0.2.4:5070")),
                },
            ),
            (
                "SIP/2.0/TLS 192.0.2.9",
                Connection {
                    fallback: Some(sa("192.0.2.9:5061")),
                },
            ),
            ("SIP/2.0/TCP pc.example.com", Connection { fallback: None }),
            (
                "SIP/2.0/WS x.invalid;received=192.0.2.4",
                Connection { fallback: None },
            ),
            // maddr.
            (
                "SIP/2.0/UDP 10.0.0.1;maddr=239.1.1.1;received=192.0.2.4",
                Multicast {
                    addr: sa("239.1.1.1:5060"),
                    ttl: 1,
                },
            ),
            // received, with and without rport.
            (
                "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff",
                Addr(sa("192.0.2.1:9988")),
            ),
            (
                "SIP/2.0/UDP bobspc.biloxi.com:5060;received=192.0.2.4",
                Addr(sa("192.0.2.4:5060")),
            ),
            (
                "SIP/2.0/UDP bobspc.biloxi.com;received=2001:db8::4",
                Addr(sa("[2001:db8::4]:5060")),
            ),
            // An empty rport (nobody filled it) is ignored.
            (
                "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport",
                Addr(sa("192.0.2.1:4540")),
            ),
            // No received: the sent-by IP.
            ("SIP/2.0/UDP 192.0.2.7:5090", Addr(sa("192.0.2.7:5090"))),
            ("SIP/2.0/UDP [2001:db8::7]", Addr(sa("[2001:db8::7]:5060"))),
            // No received, sent-by name: RFC 3263 §5.
            (
                "SIP/2.0/UDP pc.example.com",
                Resolve {
                    host: "pc.example.com",
                    port: None,
                    transport: Udp,
                },
            ),
            (
                "SIP/2.0/UDP pc.example.com:5070",
                Resolve {
                    host: "pc.example.com",
                    port: Some(5070),
                    transport: Udp,
                },
            ),
        ] {
            assert_eq!(from_via(via), expected, "{via}");
        }
    }

    #[test]
    fn both_agree_after_rewrite() {
        use crate::message::Writer;
        use crate::transport::write_top_via;
        for (via, source) in [
            (
                "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bK1",
                "192.0.2.1:9988",
            ),
            (
                "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
                "192.0.2.1:9988",
            ),
            (
                "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1",
                "192.0.2.1:9988",
            ),
            (
                "SIP/2.0/UDP 10.0.0.1;received=10.9.9.9;rport=5",
                "192.0.2.1:9988",
            ),
            ("SIP/2.0/TCP pc.example.com:5070;rport", "192.0.2.1:9988"),
        ] {
            let parsed = Via::parse(via.as_bytes()).expect("parses");
            let t = Transport::from_token(parsed.transport).expect("known");
            let direct = response_target(&parsed, sa(source), t);
            let mut buf = [0u8; 256];
            let mut w = Writer::new(&mut buf);
            write_top_via(&mut w, via.as_bytes(), &via_received(&parsed, sa(source)))
                .expect("fits");
            let rewritten = Via::parse(w.as_bytes()).expect("rewritten parses");
            assert_eq!(
                response_target_from_via(&rewritten, t),
                direct,
                "{via} from {source}"
            );
        }
    }
}
