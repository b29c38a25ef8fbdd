//! Datagrams that carry no message (RFC 3261 §18.3, §7.5; RFC 5626 §3.5.1).

/// Whether a datagram is a keep-alive to ignore rather than a message to parse: it holds
/// only CR and LF bytes (the `CRLF CRLF` some user agents send over UDP to keep a NAT binding
/// open), or nothing at all.
///
/// RFC 5626 §4.4.2 keeps UDP flows alive with STUN instead; those packets are not CR/LF and
/// need their own demultiplexing (RFC 7983: a first byte of 0–3).
///
/// ```
/// use sipwire_core::transport::is_keepalive;
/// assert!(is_keepalive(b"\r\n\r\n"));
/// assert!(!is_keepalive(b"\r\nOPTIONS sip:a@b SIP/2.0\r\n"));
/// ```
pub fn is_keepalive(datagram: &[u8]) -> bool {
    datagram.iter().all(|&b| b == b'\r' || b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalives() {
        for (d, expected) in [
            (&b""[..], true),
            (b"\r\n", true),
            (b"\r\n\r\n", true),
            (b"\n", true),
            (b"\r\n\r\n\r\n\r\n", true),
            (b"\r\n \r\n", false),
            (b"\0", false),
            (b"\r\n\r\nSIP/2.0 200 OK\r\n\r\n", false),
            (b"OPTIONS sip:a@b SIP/2.0\r\n\r\n", false),
        ] {
            assert_eq!(is_keepalive(d), expected, "{d:?}");
        }
    }
}
