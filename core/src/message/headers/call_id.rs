//! Call-ID (§20.8).

use crate::message::lex::{self, WORD};

/// Validates a Call-ID value, `callid = word [ "@" word ]` (§25.1), and returns it.
pub fn call_id(value: &[u8]) -> Option<&str> {
    let v = lex::trim(value);
    // One pass: every byte is a `word` character but at most one `@`, which is neither
    // first nor last.
    let mut at = None;
    for (i, &b) in v.iter().enumerate() {
        if !lex::is(b, WORD) {
            if b != b'@' || at.is_some() {
                return None;
            }
            at = Some(i);
        }
    }
    if v.is_empty() || at == Some(0) || at == Some(v.len() - 1) {
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
        assert_eq!(call_id(b"b@"), None);
        assert_eq!(call_id(b"@"), None);
        assert_eq!(call_id(b" a@b "), Some("a@b"));
    }
}
