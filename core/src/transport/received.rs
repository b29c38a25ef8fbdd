//! The `received` and `rport` Via parameters a server adds to a request it receives
//! (RFC 3261 §18.2.1, RFC 3581 §4).

use core::net::{IpAddr, SocketAddr};

use crate::message::headers::Via;
use crate::message::{ip, Host, WriteError, Writer};

/// What a server adds to the top Via of a request it received, decided by [`via_received`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ViaReceived {
    /// The `received` parameter to set: the packet's source IP (§18.2.1). `None` when the
    /// Via is left as it is.
    pub received: Option<IpAddr>,
    /// The value to give an empty `rport` parameter: the packet's source port (RFC 3581 §4).
    /// `None` when the client did not ask for it.
    pub rport: Option<u16>,
}

impl ViaReceived {
    /// Whether nothing is added, so the Via can be copied unchanged.
    pub fn is_empty(&self) -> bool {
        self.received.is_none() && self.rport.is_none()
    }
}

/// Decides the `received` and `rport` parameters for the top Via of a request that arrived
/// from `source` (RFC 3261 §18.2.1, RFC 3581 §4).
///
/// - `received` is set to the source IP when the sent-by host is a domain name or an IP
///   address that differs from the source (§18.2.1); always when the client asks for `rport`
///   (RFC 3581 §4: "even if it is identical to the value of the sent-by component"); and
///   whenever the Via already carries a `received`, so that a stale or forged value cannot
///   steer the response elsewhere.
/// - `rport` is set to the source port when the Via has `rport` without a value
///   (RFC 3581 §4). An `rport` that already has a value is left alone.
///
/// An IPv4-mapped IPv6 source (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4
/// peers) is compared, and written, as the IPv4 address it stands for.
///
/// ```
/// use core::net::{IpAddr, Ipv4Addr, SocketAddr};
/// use sipwire_core::message::headers::Via;
/// use sipwire_core::transport::via_received;
///
/// let via = Via::parse(b"SIP/2.0/UDP bobspc.biloxi.com:5060;branch=z9hG4bK74bf9").unwrap();
/// let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4)), 5060);
/// let add = via_received(&via, source);
/// assert_eq!(add.received, Some(source.ip()));
/// assert_eq!(add.rport, None);
/// ```
pub fn via_received(via: &Via<'_>, source: SocketAddr) -> ViaReceived {
    let ip = source.ip().to_canonical();
    let rport_requested = matches!(via.rport(), Some(None));
    let differs = match via.host {
        Host::Name(_) => true,
        Host::Ipv4(a) => IpAddr::V4(a) != ip,
        Host::Ipv6(a) => IpAddr::V6(a).to_canonical() != ip,
    };
    let has_received = via.params.contains("received");
    ViaReceived {
        received: (differs || rport_requested || has_received).then_some(ip),
        rport: rport_requested.then_some(source.port()),
    }
}

/// Writes one Via value (one element of the comma-separated list, without the header name)
/// with the parameters of `add` applied, for the request passed up or forwarded and for the
/// responses that copy its Via (§8.2.6.2, §16.6 step 8 keeps the received Via as rewritten
/// here).
///
/// - `received=IP` replaces the first existing `received` (later duplicates are dropped);
///   when there is none it is inserted before the `rport` parameter (as in RFC 3581 §4's
///   example, `;received=192.0.2.1;rport=9988;branch=...`), or appended at the end.
///   An IPv6 address is written without brackets (§25.1 `via-received = "received" EQUAL
///   (IPv4address / IPv6address)`).
/// - `rport=PORT` fills the first `rport` parameter; if the Via has none, it is appended.
/// - Everything else is written as `SIP/2.0/UDP host:port;name=value...`: the sent-protocol
///   and sent-by from the parsed Via, the other parameters in order with the white space
///   around `;` and `=` dropped (equivalent by §7.3.1).
///
/// With nothing to add, or when `raw_via_value` is not a well-formed Via (the request is then
/// answered 400 and never forwarded), the value is copied unchanged.
///
/// The only error is a full output buffer.
///
/// ```
/// use core::net::{IpAddr, Ipv4Addr};
/// use sipwire_core::message::Writer;
/// use sipwire_core::transport::{write_top_via, ViaReceived};
///
/// let mut buf = [0u8; 128];
/// let mut w = Writer::new(&mut buf);
/// let add = ViaReceived {
///     received: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
///     rport: Some(9988),
/// };
/// write_top_via(&mut w, b"SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff", &add)?;
/// assert_eq!(
///     w.as_bytes(),
///     b"SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff"
/// );
/// # Ok::<(), sipwire_core::message::WriteError>(())
/// ```
pub fn write_top_via(
    w: &mut Writer<'_>,
    raw_via_value: &[u8],
    add: &ViaReceived,
) -> Result<(), WriteError> {
    let via = match Via::parse(raw_via_value) {
        Some(via) if !add.is_empty() => via,
        _ => return w.put(trim(raw_via_value)),
    };

    // sent-protocol LWS sent-by (§25.1), in canonical form.
    w.put(via.protocol.as_bytes())?;
    w.put(b"/")?;
    w.put(via.version.as_bytes())?;
    w.put(b"/")?;
    w.put(via.transport.as_bytes())?;
    w.put(b" ")?;
    match via.host {
        Host::Name(n) => w.put(n.as_bytes())?,
        Host::Ipv4(a) => ip::write_ipv4(w, a)?,
        // §25.1 `IPv6reference = "[" IPv6address "]"`.
        Host::Ipv6(a) => ip::write_host_ip(w, IpAddr::V6(a))?,
    }
    if let Some(port) = via.port {
        w.put(b":")?;
        w.put_u32(u32::from(port))?;
    }

    let had_received = via.params.contains("received");
    let mut received_done = add.received.is_none();
    let mut rport_done = false;
    for p in via.params.iter() {
        if p.is("received") && add.received.is_some() {
            if !received_done {
                put_received(w, add.received)?;
                received_done = true;
            }
            continue;
        }
        if p.is("rport") && !rport_done {
            rport_done = true;
            if let Some(port) = add.rport {
                if !had_received && !received_done {
                    put_received(w, add.received)?;
                    received_done = true;
                }
                w.put(b";rport=")?;
                w.put_u32(u32::from(port))?;
                continue;
            }
            if !had_received && !received_done {
                put_received(w, add.received)?;
                received_done = true;
            }
        }
        w.put(b";")?;
        w.put(p.name.as_bytes())?;
        if let Some(value) = p.value {
            w.put(b"=")?;
            w.put(value)?;
        }
    }
    if !received_done {
        put_received(w, add.received)?;
    }
    if let (Some(port), false) = (add.rport, rport_done) {
        w.put(b";rport=")?;
        w.put_u32(u32::from(port))?;
    }
    Ok(())
}

/// Writes `;received=IP` (IPv6 without brackets, §25.1 `via-received`).
fn put_received(w: &mut Writer<'_>, ip: Option<IpAddr>) -> Result<(), WriteError> {
    let Some(ip) = ip else {
        return Ok(());
    };
    w.put(b";received=")?;
    match ip {
        IpAddr::V4(a) => ip::write_ipv4(w, a),
        IpAddr::V6(a) => ip::write_ipv6(w, a),
    }
}

/// Strips leading and trailing white space (SP, HTAB, CR, LF).
fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use core::net::Ipv4Addr;
    #[cfg(feature = "ipv6")]
    use core::net::Ipv6Addr;
    use std::string::String;

    fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port)
    }

    fn decide(via: &str, source: SocketAddr) -> ViaReceived {
        via_received(
            &Via::parse(via.as_bytes()).expect("test Via parses"),
            source,
        )
    }

    fn rewrite(via: &str, add: &ViaReceived) -> String {
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        write_top_via(&mut w, via.as_bytes(), add).expect("fits");
        String::from_utf8(w.as_bytes().to_vec()).expect("ASCII")
    }

    /// Decides from `source` and rewrites: what a server passes up.
    fn stamp(via: &str, source: SocketAddr) -> String {
        rewrite(via, &decide(via, source))
    }

    #[test]
    fn hostname_sent_by_gets_received() {
        // The §18.2.1 example.
        let src = v4(192, 0, 2, 4, 5060);
        let add = decide("SIP/2.0/UDP bobspc.biloxi.com:5060", src);
        assert_eq!(add.received, Some(src.ip()));
        assert_eq!(add.rport, None);
        assert_eq!(
            stamp("SIP/2.0/UDP bobspc.biloxi.com:5060", src),
            "SIP/2.0/UDP bobspc.biloxi.com:5060;received=192.0.2.4"
        );
    }

    #[test]
    fn same_ip_adds_nothing() {
        let src = v4(192, 0, 2, 4, 33000);
        let via = "SIP/2.0/UDP 192.0.2.4:5060 ;branch=z9hG4bK1";
        assert!(decide(via, src).is_empty());
        // Copied unchanged, spacing included.
        assert_eq!(stamp(via, src), via);
        // The port does not matter to `received`.
        assert!(decide("SIP/2.0/TCP 192.0.2.4", src).is_empty());
    }

    #[test]
    fn different_ip_gets_received() {
        let src = v4(203, 0, 113, 7, 5060);
        assert_eq!(
            stamp("SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1", src),
            "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1;received=203.0.113.7"
        );
    }

    #[test]
    fn rport_requested() {
        // RFC 3581 §4's example.
        let src = v4(192, 0, 2, 1, 9988);
        let via = "SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff";
        assert_eq!(
            decide(via, src),
            ViaReceived {
                received: Some(src.ip()),
                rport: Some(9988)
            }
        );
        assert_eq!(
            stamp(via, src),
            "SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff"
        );
        // `received` is added even when the sent-by equals the source (RFC 3581 §4).
        let src = v4(10, 1, 1, 1, 4540);
        assert_eq!(
            stamp("SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bK2;rport", src),
            "SIP/2.0/UDP 10.1.1.1:4540;branch=z9hG4bK2;received=10.1.1.1;rport=4540"
        );
        // An rport that already has a value is kept.
        let add = decide("SIP/2.0/UDP 10.1.1.1;rport=1234", v4(10, 1, 1, 1, 4540));
        assert!(add.is_empty());
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn ipv6_written_without_brackets() {
        let src = SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            5060,
        );
        assert_eq!(
            stamp("SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bK1", src),
            "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bK1;received=2001:db8::1"
        );
        // Same IPv6 address: nothing to add.
        assert!(decide("SIP/2.0/UDP [2001:db8::1]:5070", src).is_empty());
        // And the result parses back.
        let out = stamp("SIP/2.0/TCP [2001:db8::9:1]:5070;rport", src);
        let via = Via::parse(out.as_bytes()).expect("parses");
        assert_eq!(via.received(), Some(src.ip()));
        assert_eq!(via.rport(), Some(Some(5060)));
    }

    #[test]
    fn ipv4_mapped_source() {
        let mapped = Ipv4Addr::new(192, 0, 2, 4).to_ipv6_mapped();
        let src = SocketAddr::new(IpAddr::V6(mapped), 5062);
        assert!(decide("SIP/2.0/UDP 192.0.2.4", src).is_empty());
        assert_eq!(
            stamp("SIP/2.0/UDP pc.example.com", src),
            "SIP/2.0/UDP pc.example.com;received=192.0.2.4"
        );
    }

    #[test]
    fn existing_received_replaced() {
        let src = v4(198, 51, 100, 9, 5060);
        // A forged `received` is replaced, even when the sent-by matches the source.
        assert_eq!(
            stamp(
                "SIP/2.0/UDP 198.51.100.9;received=192.0.2.66;branch=z9hG4bK1;received=192.0.2.67",
                src
            ),
            "SIP/2.0/UDP 198.51.100.9;received=198.51.100.9;branch=z9hG4bK1"
        );
        // With rport after it, received stays in place.
        assert_eq!(
            stamp("SIP/2.0/UDP a.example;received=192.0.2.66;rport", src),
            "SIP/2.0/UDP a.example;received=198.51.100.9;rport=5060"
        );
    }

    #[test]
    fn other_params_kept_in_order() {
        let add = ViaReceived {
            received: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            rport: None,
        };
        assert_eq!(
            rewrite(
                "SIP / 2.0 / TLS  h.example.com:5061 ; branch = z9hG4bK1;ttl=3;x=\"a;b\";lr",
                &add
            ),
            "SIP/2.0/TLS h.example.com:5061;branch=z9hG4bK1;ttl=3;x=\"a;b\";lr;received=192.0.2.1"
        );
        // rport forced by the server's policy when the client did not ask.
        let add = ViaReceived {
            received: None,
            rport: Some(7000),
        };
        assert_eq!(
            rewrite("SIP/2.0/UDP h.example.com;branch=z9hG4bK1", &add),
            "SIP/2.0/UDP h.example.com;branch=z9hG4bK1;rport=7000"
        );
    }

    #[test]
    fn malformed_copied_unchanged() {
        let add = ViaReceived {
            received: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            rport: Some(1),
        };
        assert_eq!(rewrite("  not a via  ", &add), "not a via");
        assert_eq!(rewrite("", &add), "");
    }

    #[test]
    fn full_buffer_is_an_error() {
        let src = v4(192, 0, 2, 4, 5060);
        let via = b"SIP/2.0/UDP bobspc.biloxi.com:5060;rport;branch=z9hG4bK1";
        let add = via_received(&Via::parse(via).expect("parses"), src);
        let full = rewrite(core::str::from_utf8(via).expect("ASCII"), &add);
        for size in 0..full.len() {
            let mut buf = [0u8; 128];
            let mut w = Writer::new(&mut buf[..size]);
            assert_eq!(
                write_top_via(&mut w, via, &add),
                Err(WriteError),
                "size {size}"
            );
        }
    }
}
