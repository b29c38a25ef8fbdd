//! `name-addr / addr-spec` with parameters: From, To, Contact, Route, Record-Route, Reply-To
//! (§20.10, §20.20, §20.30, §20.34, §20.39; grammar in §25.1).

use crate::message::lex::{self, Cursor, TOKEN};
use crate::message::params::{self, Params};
use crate::message::uri::Uri;

/// An address with an optional display name and header parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'b> {
    /// The display name as written: a quoted string with its quotes and escapes, or a run of
    /// tokens. `None` if absent.
    pub display: Option<&'b [u8]>,
    /// The URI.
    pub uri: Uri<'b>,
    /// Whether the URI was enclosed in `<>` (name-addr form).
    pub bracketed: bool,
    /// The header parameters after the address (tag, expires, q, lr on Route is a URI param).
    pub params: Params<'b>,
}

impl<'b> NameAddr<'b> {
    /// Parses one value of From, To, Contact (not `*`), Route, Record-Route or Reply-To.
    pub fn parse(value: &'b [u8]) -> Option<NameAddr<'b>> {
        let mut c = Cursor::new(value);
        let n = Self::parse_at(&mut c)?;
        c.skip_lws();
        c.at_end().then_some(n)
    }

    /// Parses the first value of a comma-separated header line (Contact, Route,
    /// Record-Route, §7.3.1) and returns it with the rest of the line after the comma (empty
    /// if it was the only value). Reading the first Route this way does not split the whole
    /// line first.
    pub fn parse_first(value: &'b [u8]) -> Option<(NameAddr<'b>, &'b [u8])> {
        let mut c = Cursor::new(value);
        let n = Self::parse_at(&mut c)?;
        Some((n, list_rest(&mut c)?))
    }

    /// One value from the cursor (at the start of its buffer), which is left after its
    /// parameters.
    #[cfg_attr(not(feature = "small-code"), inline(always))]
    fn parse_at(c: &mut Cursor<'b>) -> Option<NameAddr<'b>> {
        let value = c.buf();
        c.skip_lws();
        let start = c.pos();
        // name-addr = [ display-name ] LAQUOT addr-spec RAQUOT; display-name = *(token LWS)
        // / quoted-string. A token followed by `:` is a URI scheme: the addr-spec form.
        let mut display = None;
        let bracketed = match c.peek() {
            Some(b'"') => {
                c.quoted_string()?;
                display = Some(&value[start..c.pos()]);
                c.skip_lws();
                true
            }
            Some(b'<') => true,
            _ => {
                let mut end = start;
                loop {
                    let t = c.take_class(TOKEN);
                    if t.is_empty() {
                        break;
                    }
                    if c.peek() == Some(b':') && end == start {
                        break;
                    }
                    end = c.pos();
                    c.skip_lws();
                }
                if c.peek() == Some(b'<') {
                    display = (end > start).then(|| &value[start..end]);
                    true
                } else {
                    *c = Cursor::new(value);
                    c.skip_lws();
                    false
                }
            }
        };
        let uri = if bracketed {
            if !c.eat(b'<') {
                return None;
            }
            // No URI character is `>` (§25.1), so the first one closes the address.
            let open = c.pos();
            let close = lex::find_byte(value, open, b'>')?;
            c.advance(close + 1 - open);
            Uri::parse(value.get(open..close)?).ok()?
        } else {
            // addr-spec alone: a URI with `;`, `?` or `,` must be bracketed (§20.10), so the
            // URI ends at the first `;`, `,` or white space, and `?` may not appear.
            let inner = c.take_while(|b| b != b';' && b != b',' && !lex::is(b, lex::LWS));
            if lex::find_byte(inner, 0, b'?').is_some() {
                return None;
            }
            Uri::parse(inner).ok()?
        };
        let params_start = c.pos();
        params::scan(c)?;
        let params = Params::new(&value[params_start..c.pos()]);
        Some(NameAddr {
            display,
            uri,
            bracketed,
            params,
        })
    }

    /// The `tag` parameter of one From or To value (§19.3), found without parsing the URI:
    /// `None` if the value is malformed, `Some(None)` if it has no tag.
    ///
    /// Checked as [`NameAddr::parse`] checks them: a quoted display name, the `<>` around the
    /// address, and the header parameters (`*( SEMI generic-param )`, §25.1) with nothing
    /// after them. Skipped: the URI, which ends at the first `>` (no URI character is `>`),
    /// or in the addr-spec form at the first `;` (§20.10: an addr-spec holding a `;` must be
    /// bracketed), and a display name made of tokens. So whenever `NameAddr::parse`
    /// succeeds, this gives the same answer as its [`tag`](NameAddr::tag); it accepts more
    /// (a bad URI or token display name inside a well-shaped value).
    #[inline]
    pub fn find_tag(value: &'b [u8]) -> Option<Option<&'b str>> {
        Self::tag_or_empty(value).map(|tag| (!tag.is_empty()).then_some(tag))
    }

    /// [`NameAddr::find_tag`] in two words, so that it comes back in registers: `Some("")`
    /// for no tag (a tag is never empty: a `gen-value` has at least one character). Three
    /// words come back through memory, and the caller's copy of them stalls on the stores.
    pub(crate) fn tag_or_empty(value: &'b [u8]) -> Option<&'b str> {
        let mut c = Cursor::new(value);
        c.skip_lws();
        if c.peek() == Some(b'"') {
            // A quoted display name may hold `<`, `>`, `;` and `,`; skip it first.
            c.quoted_string()?;
            c.skip_lws();
            if c.peek() != Some(b'<') {
                return None;
            }
        }
        // A token display name holds neither `<` nor `;`, and neither does an addr-spec up
        // to its parameters, so the first of them decides the form.
        let from = c.pos();
        let rest = value.get(from..)?;
        match rest.iter().position(|&b| b == b'<' || b == b';') {
            Some(i) if rest.get(i) == Some(&b'<') => {
                let close = lex::find_byte(value, from + i + 1, b'>')?;
                c.advance(close + 1 - from);
            }
            Some(i) => c.advance(i),
            None => c.advance(rest.len()),
        }
        let tag = params::scan_for(&mut c, b"tag")?;
        c.skip_lws();
        if !c.at_end() {
            return None;
        }
        Some(tag.flatten().and_then(lex::ascii).unwrap_or_default())
    }

    /// The `tag` parameter (§19.3).
    pub fn tag(&self) -> Option<&'b str> {
        self.params.get("tag")?.and_then(lex::ascii)
    }

    /// The `expires` parameter of a Contact (§20.10), in seconds; `None` if absent or not a
    /// valid delta-seconds.
    pub fn expires(&self) -> Option<u32> {
        let v = self.params.get("expires")??;
        super::scalar::delta_seconds(v)
    }

    /// The `q` parameter of a Contact in thousandths (`q=0.7` is 700), per §20.10 `qvalue`.
    pub fn q(&self) -> Option<u16> {
        parse_qvalue(self.params.get("q")??)
    }

    /// The display name with its quotes and escapes removed, written into `out`.
    pub fn display_name<'o>(&self, out: &'o mut [u8]) -> Option<&'o [u8]> {
        match self.display? {
            [b'"', inner @ .., b'"'] => lex::unescape_quoted(inner, out),
            raw => {
                let dst = out.get_mut(..raw.len())?;
                dst.copy_from_slice(raw);
                Some(dst)
            }
        }
    }
}

/// After a list element: the rest of the line past the next comma (§7.3.1), empty at the
/// end; `None` if something else follows the element.
fn list_rest<'b>(c: &mut Cursor<'b>) -> Option<&'b [u8]> {
    c.skip_lws();
    if c.eat(b',') {
        c.skip_lws();
        c.buf().get(c.pos()..)
    } else if c.at_end() {
        Some(&[])
    } else {
        None
    }
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
pub(crate) fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (&v[..dot], &v[dot + 1..]),
        None => (v, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// One Contact value: an address, or `*` (only in a REGISTER removing all bindings,
/// §10.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact<'b> {
    /// `Contact: *`.
    Star,
    /// An address.
    Addr(NameAddr<'b>),
}

impl<'b> Contact<'b> {
    /// Parses one Contact value.
    pub fn parse(value: &'b [u8]) -> Option<Contact<'b>> {
        if lex::trim(value) == b"*" {
            Some(Contact::Star)
        } else {
            NameAddr::parse(value).map(Contact::Addr)
        }
    }

    /// Parses the first value of a Contact line and returns it with the rest of the line
    /// after the comma, like [`NameAddr::parse_first`].
    pub fn parse_first(value: &'b [u8]) -> Option<(Contact<'b>, &'b [u8])> {
        let mut c = Cursor::new(value);
        c.skip_lws();
        if c.eat(b'*') {
            if let Some(rest) = list_rest(&mut c) {
                return Some((Contact::Star, rest));
            }
        }
        NameAddr::parse_first(value).map(|(n, rest)| (Contact::Addr(n), rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.display, Some(&b"\"J Rosenberg \\\\\\\"\""[..]));
        assert_eq!(n.tag(), Some("98asjd8"));
        let mut out = [0u8; 64];
        assert_eq!(n.display_name(&mut out), Some(&b"J Rosenberg \\\""[..]));
        assert_eq!(n.uri.raw(), "sip:jdrosen@example.com");

        let n =
            NameAddr::parse(b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(n.tag(), Some("1918181833n"));
        assert!(!n.bracketed && n.display.is_none());

        let n = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display, Some(&b"caller"[..]));
        let n = NameAddr::parse(b"A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe").unwrap();
        assert_eq!(n.display, Some(&b"A. Bell"[..]));
        let n = NameAddr::parse(b"<sip:user@example.com>;expires=60;q=0.5").unwrap();
        assert_eq!((n.expires(), n.q()), (Some(60), Some(500)));
        assert_eq!(Contact::parse(b" * "), Some(Contact::Star));
    }

    #[test]
    fn rejects() {
        for bad in [
            &b"\"Mr. J. User <sip:j.user@example.com>"[..],
            b"Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43",
            b"\"Watson, Thomas\" < sip:t.watson@example.org >",
            b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            b"<sip:a@b>;;;",
            b"<sip:a@b> junk",
            b"<sip:a@b",
            b"<sip:a@b>,",
            b"sip:a@b, <sip:c@d>",
        ] {
            assert!(
                NameAddr::parse(bad).is_none(),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue(b"0"), Some(0));
        assert_eq!(parse_qvalue(b"0.7"), Some(700));
        assert_eq!(parse_qvalue(b"0.125"), Some(125));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"1.5"), None);
        assert_eq!(parse_qvalue(b"0.1234"), None);
    }
}
