//! Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate (§20.7, §20.27,
//! §20.28, §20.44): a scheme and a comma-separated list of `auth-param`s.

use crate::message::lex::{Cursor, TOKEN};

/// `auth-scheme LWS auth-param *(COMMA auth-param)`: credentials or a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials<'b> {
    /// The scheme, e.g. `Digest` (compare case-insensitively).
    pub scheme: &'b str,
    /// The parameters.
    pub params: AuthParams<'b>,
}

impl<'b> Credentials<'b> {
    /// Parses an Authorization-style value, validating every parameter.
    pub fn parse(value: &'b [u8]) -> Option<Credentials<'b>> {
        let mut c = Cursor::new(value);
        c.skip_lws();
        let scheme = c.token()?;
        let before = c.pos();
        c.skip_lws();
        if c.pos() == before && !c.at_end() {
            return None;
        }
        let params = AuthParams {
            raw: &value[c.pos()..],
        };
        // Walk once to validate: every element is name=value.
        let mut it = params.iter();
        for _ in it.by_ref() {}
        if !it.cur.at_end() {
            return None;
        }
        Some(Credentials { scheme, params })
    }
}

/// The comma-separated `auth-param` list, read lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthParams<'b> {
    raw: &'b [u8],
}

impl<'b> AuthParams<'b> {
    /// Iterates over `(name, value)`; quoted values come without their quotes.
    pub fn iter(&self) -> AuthParamIter<'b> {
        AuthParamIter {
            cur: Cursor::new(self.raw),
            first: true,
        }
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'b [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Iterator over [`AuthParams`].
#[derive(Clone, Debug)]
pub struct AuthParamIter<'b> {
    cur: Cursor<'b>,
    first: bool,
}

impl<'b> Iterator for AuthParamIter<'b> {
    type Item = (&'b str, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let save = self.cur;
        if !self.first && !self.cur.eat_sep(b',') {
            return None;
        }
        self.cur.skip_lws();
        let Some(name) = self.cur.token() else {
            self.cur = save;
            return None;
        };
        if !self.cur.eat_sep(b'=') {
            self.cur = save;
            return None;
        }
        let value = if self.cur.peek() == Some(b'"') {
            match self.cur.quoted_string() {
                Some(v) => v,
                None => {
                    self.cur = save;
                    return None;
                }
            }
        } else {
            let v = self.cur.take_class(TOKEN);
            if v.is_empty() {
                self.cur = save;
                return None;
            }
            v
        };
        self.first = false;
        self.cur.skip_lws();
        Some((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_unknown() {
        let c = Credentials::parse(
            b"Digest username=\"bob\", realm=\"biloxi.com\",\r\n nonce=\"dcd98b\", uri=\"sip:bob@biloxi.com\", response=\"6629fae4\", algorithm=MD5",
        )
        .unwrap();
        assert_eq!(c.scheme, "Digest");
        assert_eq!(c.params.get("realm"), Some(&b"biloxi.com"[..]));
        assert_eq!(c.params.get("ALGORITHM"), Some(&b"MD5"[..]));
        assert_eq!(c.params.iter().count(), 6);
        let c = Credentials::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(c.scheme, "NoOneKnowsThisScheme");
        assert_eq!(c.params.get("opaque-data"), Some(&b"here"[..]));
        assert!(Credentials::parse(b"Digest realm=\"x\",,").is_none());
        assert!(Credentials::parse(b"Digest realm").is_none());
    }
}
