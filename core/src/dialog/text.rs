//! A fixed-size inline text store: strings appended once and named by spans.

/// A range of a [`TextBuf`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    start: u16,
    len: u16,
}

impl Span {
    /// The empty span.
    pub const EMPTY: Span = Span { start: 0, len: 0 };
}

/// The text does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextFull;

/// `N` bytes of inline storage for short strings, appended and never moved.
#[derive(Clone, Debug)]
pub struct TextBuf<const N: usize> {
    bytes: [u8; N],
    used: usize,
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TextBuf<N> {
    /// An empty store.
    pub const fn new() -> Self {
        TextBuf {
            bytes: [0; N],
            used: 0,
        }
    }

    /// Appends `s` and names it.
    pub fn push(&mut self, s: &[u8]) -> Result<Span, TextFull> {
        push_into(&mut self.bytes, &mut self.used, s)
    }

    /// The bytes of a span (empty for a span from another store).
    pub fn get(&self, span: Span) -> &[u8] {
        get_in(&self.bytes, span)
    }

    /// The text of a span; spans are only ever made from `&str` or validated ASCII, so a
    /// non-UTF-8 span reads as empty rather than failing.
    pub fn str(&self, span: Span) -> &str {
        str_in(&self.bytes, span)
    }

    /// Everything stored so far.
    pub fn prefix(&self) -> &[u8] {
        &self.bytes[..self.used]
    }

    /// Forgets everything from byte `len` on (spans into it must not be used any more);
    /// nothing if `len` is past what is stored. Used by a redirected call (feature
    /// `follow-redirects`).
    #[cfg(any(test, feature = "follow-redirects"))]
    pub(crate) fn truncate(&mut self, len: usize) {
        self.used = self.used.min(len);
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.used
    }
}

// The work of `push`, `get` and `str` on a plain slice: one copy in the program for every
// buffer size `N` (each `TextBuf<N>` would otherwise have its own).

fn push_into(bytes: &mut [u8], used: &mut usize, s: &[u8]) -> Result<Span, TextFull> {
    let end = used.checked_add(s.len()).ok_or(TextFull)?;
    if end > u16::MAX as usize {
        return Err(TextFull);
    }
    bytes
        .get_mut(*used..end)
        .ok_or(TextFull)?
        .copy_from_slice(s);
    let span = Span {
        start: *used as u16,
        len: s.len() as u16,
    };
    *used = end;
    Ok(span)
}

fn get_in(bytes: &[u8], span: Span) -> &[u8] {
    let start = span.start as usize;
    bytes.get(start..start + span.len as usize).unwrap_or(&[])
}

fn str_in(bytes: &[u8], span: Span) -> &str {
    core::str::from_utf8(get_in(bytes, span)).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_full() {
        let mut t = TextBuf::<8>::new();
        let a = t.push(b"abc").unwrap();
        let b = t.push(b"defgh").unwrap();
        assert_eq!(t.str(a), "abc");
        assert_eq!(t.str(b), "defgh");
        assert_eq!(t.push(b"x"), Err(TextFull));
        assert_eq!(t.used(), 8);
    }
}
