//! Choosing the transport for a request by its size (RFC 3261 §18.1.1).

use super::Transport;

/// The headroom kept between a UDP request and the path MTU (§18.1.1: "within 200 bytes of
/// the path MTU"), so that the larger response (Record-Route added, for example) still fits
/// in one IP packet.
pub const CONGESTION_MARGIN: u16 = 200;

/// The largest request sent over UDP when the path MTU is unknown (§18.1.1: 1300 bytes,
/// assuming a 1500-byte Ethernet MTU).
pub const UNKNOWN_MTU_LIMIT: usize = 1300;

/// The transport to send a request of `message_len` bytes over, per RFC 3261 §18.1.1.
///
/// A request that would go over UDP (`preferred`) is sent over TCP, a congestion-controlled
/// transport (RFC 2914), when it is within [`CONGESTION_MARGIN`] bytes of the path MTU, or
/// larger than [`UNKNOWN_MTU_LIMIT`] bytes when the MTU is unknown. Any other transport is
/// kept. "Within 200 bytes" is read so that both rules agree at a 1500-byte MTU: a request of
/// exactly `mtu - 200` bytes stays on UDP, one byte more goes over TCP.
///
/// When the answer differs from the transport in the top Via, the caller must rewrite the
/// Via (§18.1.1). If the TCP connection is refused (ICMP Protocol Not Supported or a reset),
/// the caller SHOULD retry over UDP (§18.1.1, for RFC 2543 peers). The rule is for unicast
/// requests: a request to a multicast `maddr` stays on UDP, and a response always uses the
/// transport its request came on (§18.2.2), so neither should be passed here.
///
/// ```
/// use sipwire_core::transport::{select, Transport};
/// assert_eq!(select(1300, None, Transport::Udp), Transport::Udp);
/// assert_eq!(select(1301, None, Transport::Udp), Transport::Tcp);
/// assert_eq!(select(1301, Some(9000), Transport::Udp), Transport::Udp);
/// assert_eq!(select(5000, None, Transport::Tls), Transport::Tls);
/// ```
pub fn select(message_len: usize, path_mtu: Option<u16>, preferred: Transport) -> Transport {
    if preferred != Transport::Udp {
        return preferred;
    }
    let limit = match path_mtu {
        Some(mtu) => usize::from(mtu.saturating_sub(CONGESTION_MARGIN)),
        None => UNKNOWN_MTU_LIMIT,
    };
    if message_len > limit {
        Transport::Tcp
    } else {
        Transport::Udp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Transport::*;

    #[test]
    fn boundaries() {
        for (len, mtu, preferred, expected) in [
            // Unknown MTU: 1300 bytes is the limit.
            (0, None, Udp, Udp),
            (1299, None, Udp, Udp),
            (1300, None, Udp, Udp),
            (1301, None, Udp, Tcp),
            (65_535, None, Udp, Tcp),
            // Ethernet MTU: the same boundary.
            (1300, Some(1500), Udp, Udp),
            (1301, Some(1500), Udp, Tcp),
            // Jumbo frames allow larger UDP requests.
            (8800, Some(9000), Udp, Udp),
            (8801, Some(9000), Udp, Tcp),
            // IPv6 minimum MTU.
            (1080, Some(1280), Udp, Udp),
            (1081, Some(1280), Udp, Tcp),
            // A small MTU (PPPoE, tunnels).
            (1292, Some(1492), Udp, Udp),
            (1293, Some(1492), Udp, Tcp),
            // An MTU below the margin: everything goes over TCP except an empty message.
            (0, Some(100), Udp, Udp),
            (1, Some(100), Udp, Tcp),
            (1, Some(0), Udp, Tcp),
            // Other transports are never changed.
            (65_535, None, Tcp, Tcp),
            (65_535, Some(576), Tls, Tls),
            (65_535, None, Sctp, Sctp),
            (65_535, None, Ws, Ws),
            (65_535, None, Wss, Wss),
            (usize::MAX, None, Udp, Tcp),
        ] {
            assert_eq!(
                select(len, mtu, preferred),
                expected,
                "len {len} mtu {mtu:?} preferred {preferred}"
            );
        }
    }
}
