//! Call-ID (§20.8).

use crate::message::lex::{self, WORD};

/// Validates a Call-ID value, `callid = word [ "@" word ]` (§25.1), and returns it.
pub fn call_id(value: &[u8]) -> Option<&str> {
    let v = lex::trim(value);
    // One pass: every byte is a `word` character but at most one `@`, which is neither
    // first nor last.
    let mut at = None;
    let mut i = 0;
    loop {
        i = lex::class_end(v, i, WORD);
        match v.get(i) {
            None => break,
            Some(b'@') if at.is_none() => at = Some(i),
            Some(_) => return None,
        }
        i += 1;
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

    /// Values longer than the eight-byte steps of the scan: whatever the position of the
    /// `@` or of a bad byte relative to them, the answer is the byte-by-byte one.
    #[test]
    fn long_words_at_every_offset() {
        let base = *b"3848276298220188511x.pc33.atlanta.example.com";
        for at in 0..base.len() {
            let mut v = base;
            v[at] = b'@';
            let good = at != 0 && at != v.len() - 1;
            assert_eq!(call_id(&v).is_some(), good, "@ at {at}");
            for bad in [b' ', b';', b'#', 0x80] {
                let mut w = v;
                let other = (at + 9) % w.len();
                w[other] = bad;
                let ok = other == 0 || other == w.len() - 1;
                // A bad byte inside is refused; at either end, white space is trimmed.
                if !(ok && bad == b' ') {
                    assert_eq!(call_id(&w), None, "@ at {at}, {bad:#x} at {other}");
                }
            }
            let mut two = v;
            two[(at + 13) % two.len()] = b'@';
            if (at + 13) % two.len() != at {
                assert_eq!(call_id(&two), None, "two @");
            }
        }
    }
}
