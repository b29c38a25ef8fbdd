//! Short names of SIP messages, for the ladder diagram.

/// The longest label; longer reason phrases are cut and end in `...`.
const MAX_LABEL: usize = 28;

/// The short form of a packet's SIP start line, as RFC 3665's figures label arrows:
/// the method of a request (`"INVITE"`), the status code and reason phrase of a response
/// (`"180 Ringing"`).
///
/// Bytes that are only CR and LF are a keep-alive (`"CRLF"`, RFC 5626 §3.5.1); anything else
/// that is not a SIP start line is shown by its size (`"<12 bytes>"`). A TCP packet holding
/// several messages is labelled by the first.
pub fn start_line_label(bytes: &[u8]) -> String {
    if !bytes.is_empty() && bytes.iter().all(|&b| b == b'\r' || b == b'\n') {
        return "CRLF".to_owned();
    }
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len());
    let line = match std::str::from_utf8(&bytes[..line_end]) {
        Ok(line) => line,
        Err(_) => return bytes_label(bytes),
    };
    let label = if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2)
        let code = rest
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()));
        match code {
            Some(_) => rest.trim().to_owned(),
            None => return bytes_label(bytes),
        }
    } else {
        // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1)
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(method), Some(_uri), Some("SIP/2.0"), None) if is_token(method) => {
                method.to_owned()
            }
            _ => return bytes_label(bytes),
        }
    };
    shorten(label)
}

fn bytes_label(bytes: &[u8]) -> String {
    format!("<{} bytes>", bytes.len())
}

/// RFC 3261 §25.1 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

fn shorten(label: String) -> String {
    if label.chars().count() <= MAX_LABEL {
        return label;
    }
    let mut cut: String = label.chars().take(MAX_LABEL - 3).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
mod tests {
    use super::start_line_label as label;

    #[test]
    fn labels() {
        assert_eq!(
            label(b"INVITE sip:bob@b.example SIP/2.0\r\nVia: x\r\n\r\n"),
            "INVITE"
        );
        assert_eq!(label(b"SIP/2.0 180 Ringing\r\n\r\n"), "180 Ringing");
        assert_eq!(label(b"SIP/2.0 200 OK\r\n"), "200 OK");
        assert_eq!(label(b"ACK sip:b SIP/2.0"), "ACK");
        assert_eq!(label(b"\r\n\r\n"), "CRLF");
        assert_eq!(label(b"hello"), "<5 bytes>");
        assert_eq!(label(b""), "<0 bytes>");
        assert_eq!(label(b"SIP/2.0 abc\r\n"), "<13 bytes>");
        assert_eq!(label(&[0xff, 0xfe]), "<2 bytes>");
        assert_eq!(
            label(b"SIP/2.0 488 Not Acceptable Here Because Of Reasons\r\n"),
            "488 Not Acceptable Here B..."
        );
    }
}
