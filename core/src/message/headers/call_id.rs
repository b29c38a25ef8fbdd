//! Call-ID (§20.8).

use crate::message::lex::{self, WORD};

/// Validates a Call-ID value, `callid = word [ "@" word ]`, and returns it.
pub fn call_id(value: &[u8]) -> Option<&str> {
    let v = lex::trim(value);
    let (left, right) = match v.iter().position(|&b| b == b'@') {
        Some(at) => (&v[..at], Some(&v[at + 1..])),
        None => (v, None),
    };
    let word = |w: &[u8]| !w.is_empty() && w.iter().all(|&b| lex::is(b, WORD));
    if !word(left) || right.is_some_and(|r| !word(r)) {
        return None;
    }
    lex::ascii(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            call_id(b"a84b4c76e66710@pc33.atlanta.com"),
            Some("a84b4c76e66710@pc33.atlanta.com")
        );
        assert_eq!(
            call_id(b"wsinv.ndaksdj@192.0.2.1"),
            Some("wsinv.ndaksdj@192.0.2.1")
        );
        assert_eq!(call_id(b"a b"), None);
        assert_eq!(call_id(b"a@b@c"), None);
        assert_eq!(call_id(b"@b"), None);
        assert_eq!(call_id(b""), None);
    }
}
