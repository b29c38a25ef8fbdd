//! Call-ID (§20.8).

use crate::message::lex::{self, WORD};

/// Validates a Call-ID value, `callid = word [ "@" word ]` (§25.1), and returns it.
pub fn call_id(value: &[u8]) -> Option<&str> {
    let v = lex::trim(value);
    // `@` is not a `word` character: the words are what lies either side of the first one,
    // and a second `@` fails the check of the second word.
    let word = |w: &[u8]| !w.is_empty() && lex::all(w, WORD);
    let valid = match lex::find_byte(v, 0, b'@') {
        Some(at) => word(v.get(..at)?) && word(v.get(at + 1..)?),
        None => word(v),
    };
    if !valid {
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
