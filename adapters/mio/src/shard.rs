//! Which worker owns a message when the server runs several (see the crate documentation):
//! the one its Call-ID hashes to. Every message of a call — requests, their
//! retransmissions, CANCEL, ACK, responses, in-dialog requests — carries the same Call-ID
//! (RFC 3261 §8.1.1.4, §12), so one worker sees all of them and keeps their transactions.

/// The worker, of `workers`, that owns the message in `bytes`; worker 0 when there is no
/// Call-ID to read (the endpoint there answers or drops the message).
pub(crate) fn owner(bytes: &[u8], workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    match call_id(bytes) {
        Some(id) => (fnv1a(id) % workers as u64) as usize,
        None => 0,
    }
}

/// The Call-ID header value (`Call-ID` or compact `i`, any case, §7.3.1, §20.8), trimmed;
/// `None` if the header section has none.
pub(crate) fn call_id(bytes: &[u8]) -> Option<&[u8]> {
    let mut rest = bytes;
    // Skip the start line.
    let first = rest.iter().position(|&b| b == b'\n')?;
    rest = rest.get(first + 1..)?;
    loop {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = rest.get(..end)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None; // end of the header section
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = trim(&line[..colon]);
            if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
                return Some(trim(&line[colon + 1..]));
            }
        }
        rest = rest.get(end + 1..)?;
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_call_id_in_every_form() {
        let m = b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\ncall-id:  abc@h \r\n\r\nbody";
        assert_eq!(call_id(m), Some(&b"abc@h"[..]));
        let m = b"SIP/2.0 200 OK\r\nI: xyz\r\nCSeq: 1 INVITE\r\n\r\n";
        assert_eq!(call_id(m), Some(&b"xyz"[..]));
        let m = b"BYE sip:b@x SIP/2.0\r\nCSeq: 1 BYE\r\n\r\nCall-ID: in-body\r\n";
        assert_eq!(call_id(m), None);
        assert_eq!(call_id(b""), None);
        assert_eq!(call_id(b"garbage"), None);
    }

    #[test]
    fn a_call_has_one_owner() {
        let req = b"INVITE sip:b@x SIP/2.0\r\nCall-ID: c1\r\n\r\n";
        let resp = b"SIP/2.0 180 Ringing\r\ni: c1\r\n\r\n";
        for n in 1..8 {
            assert_eq!(owner(req, n), owner(resp, n));
            assert!(owner(req, n) < n);
        }
        // Call-IDs spread over the workers.
        let mut seen = [0usize; 2];
        for i in 0..1000 {
            let m = format!("INVITE sip:b@x SIP/2.0\r\nCall-ID: {i}-1234@127.0.0.1\r\n\r\n");
            seen[owner(m.as_bytes(), 2)] += 1;
        }
        assert!(seen[0] > 400 && seen[1] > 400, "{seen:?}");
    }
}
