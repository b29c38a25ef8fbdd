//! The transport layer's rules (RFC 3261 §18), sans-IO.
//!
//! The core opens no sockets: the adapters move the bytes, and this module holds the rules
//! they and the layers above must follow.
//!
//! - [`select`]: the UDP→TCP switch for large requests (§18.1.1).
//! - [`via_received`] and [`write_top_via`]: the `received` and `rport` parameters a server
//!   adds to the top Via of a request it receives (§18.2.1, RFC 3581 §4).
//! - [`response_target`]: where a response goes (§18.2.2, RFC 3581 §4).
//! - [`StreamBuffer`]: framing messages and CRLF keep-alives on a byte stream (§18.3, §7.5,
//!   RFC 5626 §4.4.1) inside a caller-provided buffer.
//! - [`is_keepalive`]: datagrams that hold only CR/LF are keep-alives, not messages.

mod datagram;
mod received;
mod response_target;
mod select;
mod stream;

pub use datagram::is_keepalive;
pub use received::{via_received, write_top_via, ViaReceived};
pub use response_target::{response_target, response_target_from_via, ResponseTarget};
pub use select::{select, CONGESTION_MARGIN, UNKNOWN_MTU_LIMIT};
pub use stream::{Frame, Overflow, StreamBuffer, DEFAULT_HEADER_SLOTS};

use core::fmt;

/// A transport protocol SIP runs over: the `transport` token of a Via's sent-protocol
/// (§20.42, §25.1 `transport = "UDP" / "TCP" / "TLS" / "SCTP" / other-transport`) and of the
/// `transport` URI parameter (§19.1.1), plus WebSocket (RFC 7118 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP (RFC 768): unreliable, one message per datagram.
    Udp,
    /// TCP (RFC 793): reliable stream.
    Tcp,
    /// TLS over TCP (§26.2): reliable, secure stream.
    Tls,
    /// SCTP (RFC 4168): reliable.
    Sctp,
    /// WebSocket (RFC 7118): reliable, one message per WebSocket message.
    Ws,
    /// Secure WebSocket (RFC 7118): WebSocket over TLS.
    Wss,
}

impl Transport {
    /// Every transport, in declaration order.
    pub const ALL: [Transport; 6] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Sctp,
        Transport::Ws,
        Transport::Wss,
    ];

    /// Whether the transport is reliable: §17.1.1.2 and §17.1.2.2 skip retransmissions, and
    /// §18.2.2 answers on the request's connection. Only UDP is unreliable.
    pub const fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// Whether the transport is secured by TLS (§26.2; RFC 7118 for WSS).
    pub const fn is_secure(self) -> bool {
        matches!(self, Transport::Tls | Transport::Wss)
    }

    /// The token written in a Via's sent-protocol (`SIP/2.0/UDP`), upper case as in
    /// RFC 3261 §25.1 and RFC 7118 §5.1.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Reads a Via transport token or a `transport=` URI parameter value, ignoring ASCII case
    /// (§7.3.1: the tokens compare case-insensitively). Unknown tokens give `None`.
    pub fn from_token(token: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }

    /// The port to use when a sent-by or URI gives none: 5060 for UDP, TCP and SCTP, 5061 for
    /// TLS (§18.2.2, §19.1.2); 80 for WS and 443 for WSS, the WebSocket URI defaults
    /// (RFC 6455 §3) that RFC 7118 §7 (`sip:...;transport=ws`) relies on.
    pub const fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp | Transport::Sctp => 5060,
            Transport::Tls => 5061,
            Transport::Ws => 80,
            Transport::Wss => 443,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for t in Transport::ALL {
            assert_eq!(Transport::from_token(t.as_str()), Some(t));
        }
        assert_eq!(Transport::from_token("udp"), Some(Transport::Udp));
        assert_eq!(Transport::from_token("Tls"), Some(Transport::Tls));
        assert_eq!(Transport::from_token("wss"), Some(Transport::Wss));
        assert_eq!(Transport::from_token("DTLS"), None);
        assert_eq!(Transport::from_token("TLS-SCTP"), None);
        assert_eq!(Transport::from_token(""), None);
    }

    #[test]
    fn properties() {
        use Transport::*;
        for (t, reliable, secure, port) in [
            (Udp, false, false, 5060),
            (Tcp, true, false, 5060),
            (Tls, true, true, 5061),
            (Sctp, true, false, 5060),
            (Ws, true, false, 80),
            (Wss, true, true, 443),
        ] {
            assert_eq!(t.is_reliable(), reliable, "{t}");
            assert_eq!(t.is_secure(), secure, "{t}");
            assert_eq!(t.default_port(), port, "{t}");
        }
    }
}
