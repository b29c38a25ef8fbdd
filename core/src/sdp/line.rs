//! Lines of a session description and the character classes of its grammar
//! (RFC 4566 §5 and §9).
//!
//! Shared by the parser, the lazy accessors and the writer, so that what the writer accepts
//! is exactly what the parser reads back.

/// Splits text into lines at LF, dropping one CR before it (RFC 4566 §5: "the line ending is
/// CRLF, parsers SHOULD be tolerant and also accept records terminated with a single newline
/// character"). A last line without a terminator is still a line.
///
/// Yields `(offset, line)`, the offset being where the line starts in the text.
#[derive(Clone, Debug)]
pub(crate) struct Lines<'b> {
    text: &'b [u8],
    pos: usize,
}

impl<'b> Lines<'b> {
    /// The lines of `text`.
    pub(crate) fn new(text: &'b [u8]) -> Self {
        Lines { text, pos: 0 }
    }
}

impl<'b> Iterator for Lines<'b> {
    type Item = (usize, &'b [u8]);

    fn next(&mut self) -> Option<(usize, &'b [u8])> {
        let start = self.pos;
        let rest = self.text.get(start..).filter(|r| !r.is_empty())?;
        let (mut line, used) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        self.pos = start + used;
        Some((start, line))
    }
}

/// Splits `<type>=<value>` (§5: the type is exactly one character and no white space is
/// allowed on either side of `=`; the value side is checked by each field's grammar).
#[inline]
pub(crate) fn split(line: &[u8]) -> Option<(u8, &[u8])> {
    match line {
        [kind, b'=', value @ ..] => Some((*kind, value)),
        _ => None,
    }
}

/// The values of the `kind=` lines of a section, in order (lazy attribute reading).
pub(crate) fn values_of(text: &[u8], kind: u8) -> impl Iterator<Item = &[u8]> + Clone {
    Lines::new(text)
        .filter_map(|(_, l)| split(l))
        .filter(move |(k, _)| *k == kind)
        .map(|(_, v)| v)
}

/// `token-char` (§9): visible ASCII except `"` `(` `)` `,` `/` `:` `;` `<` `=` `>` `?` `@`
/// `[` `\` `]`.
#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

/// A non-empty `token` (§9).
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token_char(b))
}

/// `proto = token *("/" token)` (§9), such as `RTP/AVP`.
pub(crate) fn is_proto(s: &[u8]) -> bool {
    s.split(|&b| b == b'/').all(is_token)
}

/// A non-empty `non-ws-string` (§9: visible characters and octets above 0x7F), as UTF-8.
pub(crate) fn non_ws(s: &[u8]) -> Option<&str> {
    if s.is_empty() || s.iter().any(|&b| b <= b' ' || b == 0x7F) {
        return None;
    }
    core::str::from_utf8(s).ok()
}

/// `byte-string` content (§9) allowed anywhere in a line: no NUL, CR or LF. (Emptiness is
/// each field's concern.)
#[inline]
pub(crate) fn is_text(s: &[u8]) -> bool {
    !s.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
}

/// Views a validated token as `str`; tokens are ASCII, so this only fails on bytes the
/// caller has not validated, and then gives `None` rather than a panic.
#[inline]
pub(crate) fn token_str(s: &[u8]) -> Option<&str> {
    if is_token(s) {
        core::str::from_utf8(s).ok()
    } else {
        None
    }
}

/// Parses `1*DIGIT` up to `max` without overflow.
pub(crate) fn number(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// Whether `fmt` is a valid format for a media line with transport `proto`: a `token`, and
/// for the RTP profiles a payload type number 0–127 (RFC 4566 §5.14, RFC 3550 §5.1).
pub(crate) fn is_format(proto: &[u8], fmt: &[u8]) -> bool {
    if proto.starts_with(b"RTP/") {
        number(fmt, 127).is_some()
    } else {
        is_token(fmt)
    }
}

/// The space-separated fields of a structured value (§5: "fields delimited by a single space
/// character"). Trailing spaces and tabs are tolerated; anything else that is not exactly one
/// space between fields yields an empty field, which no field grammar accepts.
#[derive(Clone, Debug)]
pub(crate) struct Fields<'b> {
    rest: Option<&'b [u8]>,
}

impl<'b> Fields<'b> {
    /// The fields of `value`.
    pub(crate) fn new(mut value: &'b [u8]) -> Self {
        while let [head @ .., b' ' | b'\t'] = value {
            value = head;
        }
        Fields { rest: Some(value) }
    }

    /// What is left, from the next field to the end (trailing white space removed).
    pub(crate) fn rest(&self) -> &'b [u8] {
        self.rest.unwrap_or(&[])
    }
}

impl<'b> Iterator for Fields<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        let s = self.rest?;
        match s.iter().position(|&b| b == b' ') {
            Some(i) => {
                self.rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_crlf_lf_and_last() {
        let mut l = Lines::new(b"v=0\r\no=x\ns=y");
        assert_eq!(l.next(), Some((0, &b"v=0"[..])));
        assert_eq!(l.next(), Some((5, &b"o=x"[..])));
        assert_eq!(l.next(), Some((9, &b"s=y"[..])));
        assert_eq!(l.next(), None);
        assert_eq!(Lines::new(b"").next(), None);
        assert_eq!(Lines::new(b"\n").next(), Some((0, &b""[..])));
    }

    #[test]
    fn fields() {
        let f: [&[u8]; 3] = [b"a", b"b", b"c"];
        assert!(Fields::new(b"a b c \t").eq(f.iter().copied()));
        assert!(Fields::new(b"a  b").any(|x| x.is_empty()));
        assert!(Fields::new(b" a").any(|x| x.is_empty()));
        let mut it = Fields::new(b"audio 0 RTP/AVP 0 8 ");
        it.nth(2);
        assert_eq!(it.rest(), b"0 8");
    }

    #[test]
    fn classes() {
        assert!(is_token(b"telephone-event"));
        assert!(!is_token(b"a/b") && !is_token(b""));
        assert!(is_proto(b"RTP/AVP") && !is_proto(b"RTP//AVP") && !is_proto(b"/x"));
        assert!(is_format(b"RTP/AVP", b"127") && !is_format(b"RTP/AVP", b"128"));
        assert!(is_format(b"udp", b"t38") && !is_format(b"RTP/SAVP", b"x"));
        assert_eq!(number(b"18446744073709551615", u64::MAX), Some(u64::MAX));
        assert_eq!(number(b"18446744073709551616", u64::MAX), None);
    }
}
