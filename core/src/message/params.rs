//! Parameter lists: `;name[=value]` sequences after URIs (§19.1.1 `uri-parameters`) and
//! header values (§25.1 `generic-param`), read lazily from the raw text.

use super::lex::{self, Cursor};

/// One parameter: a name and an optional value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'b> {
    /// The name as written (compare with [`Param::is`], names are case-insensitive).
    pub name: &'b str,
    /// The value as written, quotes included for a `quoted-string`; `None` for `;lr`.
    pub value: Option<&'b [u8]>,
}

impl<'b> Param<'b> {
    /// Whether this parameter is called `name` (ASCII case-insensitive).
    #[inline]
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value with surrounding quotes removed (escapes are kept as written).
    pub fn unquoted(&self) -> Option<&'b [u8]> {
        self.value.map(|v| match v {
            [b'"', inner @ .., b'"'] => inner,
            other => other,
        })
    }

    /// The value as `str`, if it is valid UTF-8.
    pub fn value_str(&self) -> Option<&'b str> {
        self.unquoted().and_then(|v| core::str::from_utf8(v).ok())
    }
}

/// A lazily parsed parameter list. The raw text starts at the first `;` (or is empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Params<'b> {
    raw: &'b [u8],
}

impl<'b> Params<'b> {
    /// A list over `raw`, which is either empty or starts with `;`, possibly after white space.
    /// The text is assumed to be validated by whoever produced it (the URI or header parser).
    pub const fn new(raw: &'b [u8]) -> Self {
        Params { raw }
    }

    /// The raw text, from the first `;`.
    pub fn as_bytes(&self) -> &'b [u8] {
        self.raw
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        lex::trim(self.raw).is_empty()
    }

    /// Iterates over the parameters in order.
    pub fn iter(&self) -> ParamIter<'b> {
        ParamIter {
            cur: Cursor::new(self.raw),
        }
    }

    /// The first parameter called `name` (case-insensitive): `Some(None)` when it is present
    /// without a value, `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&'b [u8]>> {
        let mut cur = Cursor::new(self.raw);
        while let Some((n, v)) = next_raw(&mut cur) {
            if n.eq_ignore_ascii_case(name.as_bytes()) {
                return Some(v);
            }
        }
        None
    }

    /// Whether a parameter called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<'b> IntoIterator for Params<'b> {
    type Item = Param<'b>;
    type IntoIter = ParamIter<'b>;
    fn into_iter(self) -> ParamIter<'b> {
        self.iter()
    }
}

/// Iterator over a [`Params`] list.
#[derive(Clone, Debug)]
pub struct ParamIter<'b> {
    cur: Cursor<'b>,
}

impl<'b> Iterator for ParamIter<'b> {
    type Item = Param<'b>;

    fn next(&mut self) -> Option<Param<'b>> {
        let (name, value) = next_raw(&mut self.cur)?;
        Some(Param {
            name: lex::ascii(name)?,
            value,
        })
    }
}

/// The next `;name[=value]` at the cursor, names as bytes (empty `;;` skipped).
#[inline]
fn next_raw<'b>(cur: &mut Cursor<'b>) -> Option<(&'b [u8], Option<&'b [u8]>)> {
    loop {
        if !cur.eat_sep(b';') {
            return None;
        }
        // Parameter names in URIs may hold escapes and `[]/:&+$()` (§19.1.1 `paramchar`).
        let name = cur.take_class(lex::PNAME);
        if name.is_empty() {
            continue;
        }
        let value = if cur.eat_sep(b'=') {
            let start = cur.pos();
            if cur.peek() == Some(b'"') {
                cur.quoted_string()?;
            } else {
                cur.take_class(lex::PVALUE);
            }
            Some(&cur.buf()[start..cur.pos()])
        } else {
            None
        };
        return Some((name, value));
    }
}

/// Validates a header's parameter list (`*( SEMI generic-param )`, §25.1) and leaves the
/// cursor just past it. Used by typed header parsers so that garbage after a value is an
/// error.
#[inline]
pub(crate) fn scan(cur: &mut Cursor<'_>) -> Option<()> {
    scan_with(cur, |_, _| {})
}

/// Like [`scan`], and also returns the first parameter called `name` (lowercase letters,
/// matched in any case): `Some(None)` when absent, `Some(Some(None))` when present without a
/// value.
#[inline]
pub(crate) fn scan_for<'b, const N: usize>(
    cur: &mut Cursor<'b>,
    name: &[u8; N],
) -> Option<Option<Option<&'b [u8]>>> {
    let mut found = None;
    scan_with(cur, |n, v| {
        if found.is_none() && lex::eq_letters(n, name) {
            found = Some(v);
        }
    })?;
    Some(found)
}

/// `*( SEMI generic-param )` with `generic-param = token [ EQUAL gen-value ]` and
/// `gen-value = token / host / quoted-string` (§25.1), calling `each` with every name and
/// value (quotes kept) in order.
#[inline(always)]
fn scan_with<'b>(
    cur: &mut Cursor<'b>,
    mut each: impl FnMut(&'b [u8], Option<&'b [u8]>),
) -> Option<()> {
    loop {
        if !cur.eat_sep(b';') {
            return Some(());
        }
        let name = cur.take_class(lex::TOKEN);
        if name.is_empty() {
            return None;
        }
        let value = if cur.eat_sep(b'=') {
            if cur.peek() == Some(b'"') {
                let start = cur.pos();
                cur.quoted_string()?;
                cur.buf().get(start..cur.pos())
            } else {
                // gen-value = token / host / quoted-string; host adds `[ : ]` for IPv6.
                let v = cur.take_class(lex::GENVALUE);
                if v.is_empty() {
                    return None;
                }
                Some(v)
            }
        } else {
            None
        };
        each(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterate_and_lookup() {
        let p = Params::new(b" ;  tag    = 1918181833n;lr; q=0.7 ;x=\"a;b\"");
        let mut it = p.iter();
        assert_eq!(
            it.next(),
            Some(Param {
                name: "tag",
                value: Some(b"1918181833n")
            })
        );
        assert_eq!(
            it.next(),
            Some(Param {
                name: "lr",
                value: None
            })
        );
        assert_eq!(it.next().and_then(|p| p.value), Some(&b"0.7"[..]));
        assert_eq!(it.next().and_then(|p| p.unquoted()), Some(&b"a;b"[..]));
        assert_eq!(it.next(), None);
        assert_eq!(p.get("TAG"), Some(Some(&b"1918181833n"[..])));
        assert_eq!(p.get("lr"), Some(None));
        assert!(p.get("maddr").is_none());
    }

    #[test]
    fn scan_rejects_garbage() {
        let mut c = Cursor::new(b";a=b;c");
        assert!(scan(&mut c).is_some() && c.at_end());
        let mut c = Cursor::new(b";=b");
        assert!(scan(&mut c).is_none());
    }
}
