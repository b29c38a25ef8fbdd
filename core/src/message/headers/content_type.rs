//! Content-Type (§20.15) and Accept (§20.1) media types.

use crate::message::lex::Cursor;
use crate::message::params::{self, Params};

/// `media-type = m-type SLASH m-subtype *(SEMI m-parameter)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaType<'b> {
    /// The type, e.g. `application`.
    pub ty: &'b str,
    /// The subtype, e.g. `sdp`.
    pub subtype: &'b str,
    /// Parameters such as `boundary` or `charset`.
    pub params: Params<'b>,
}

impl<'b> MediaType<'b> {
    /// Parses a Content-Type value.
    pub fn parse(value: &'b [u8]) -> Option<MediaType<'b>> {
        let (ty, subtype, params) = parse_range(value)?;
        (ty != "*" && subtype != "*").then_some(MediaType {
            ty,
            subtype,
            params,
        })
    }

    /// Whether this is `ty/subtype`, case-insensitively.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

/// One element of Accept: a media range with `*` wildcards and accept-params.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaRange<'b> {
    /// The type, or `*`.
    pub ty: &'b str,
    /// The subtype, or `*`.
    pub subtype: &'b str,
    /// Parameters, including `q`.
    pub params: Params<'b>,
}

impl<'b> MediaRange<'b> {
    /// Parses one Accept element.
    pub fn parse(value: &'b [u8]) -> Option<MediaRange<'b>> {
        let (ty, subtype, params) = parse_range(value)?;
        if ty == "*" && subtype != "*" {
            return None;
        }
        Some(MediaRange {
            ty,
            subtype,
            params,
        })
    }

    /// Whether `ty/subtype` falls in this range.
    pub fn matches(&self, ty: &str, subtype: &str) -> bool {
        (self.ty == "*" || self.ty.eq_ignore_ascii_case(ty))
            && (self.subtype == "*" || self.subtype.eq_ignore_ascii_case(subtype))
    }
}

fn parse_range(value: &[u8]) -> Option<(&str, &str, Params<'_>)> {
    let mut c = Cursor::new(value);
    c.skip_lws();
    let ty = c.token()?;
    if !c.eat_sep(b'/') {
        return None;
    }
    let subtype = c.token()?;
    let ps = c.pos();
    params::scan(&mut c)?;
    let params = Params::new(&value[ps..c.pos()]);
    c.skip_lws();
    c.at_end().then_some((ty, subtype, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        let t = MediaType::parse(b"multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert!(t.is("Multipart", "MIXED"));
        assert_eq!(
            t.params.get("boundary"),
            Some(Some(&b"7a9cbec02ceef655"[..]))
        );
        assert!(MediaType::parse(b"application/*").is_none());
        assert!(MediaType::parse(b"application").is_none());
        let r = MediaRange::parse(b"text/*;q=0.5").unwrap();
        assert!(r.matches("text", "plain") && !r.matches("application", "sdp"));
        assert!(MediaRange::parse(b"*/*").unwrap().matches("a", "b"));
        assert!(MediaRange::parse(b"*/sdp").is_none());
    }
}
