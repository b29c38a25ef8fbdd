//! Token lists: Require, Proxy-Require, Supported, Unsupported (§20.32, §20.29, §20.37,
//! §20.40), Allow (§20.5), and the like.

use crate::message::lex::{self, CommaValues};

/// The tokens of one comma-separated header value, in order. Elements that are not tokens
/// are skipped; [`Tokens::validate`] rejects them instead.
#[derive(Clone, Debug)]
pub struct Tokens<'b> {
    inner: CommaValues<'b>,
}

impl<'b> Tokens<'b> {
    /// The tokens of a comma-separated value.
    pub fn new(value: &'b [u8]) -> Self {
        Tokens {
            inner: CommaValues::new(value),
        }
    }

    /// Whether every element is a token.
    pub fn validate(value: &[u8]) -> bool {
        CommaValues::new(value).all(lex::is_token)
    }

    /// Whether the list holds `token`, compared case-insensitively (option tags and methods
    /// compare case-sensitively per §19.2 and §7.1; use [`Tokens::contains_exact`] there).
    pub fn contains_ignore_case(value: &[u8], token: &str) -> bool {
        Tokens::new(value).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Whether the list holds exactly `token`.
    pub fn contains_exact(value: &[u8], token: &str) -> bool {
        Tokens::new(value).any(|t| t == token)
    }
}

impl<'b> Iterator for Tokens<'b> {
    type Item = &'b str;

    fn next(&mut self) -> Option<&'b str> {
        loop {
            let t = self.inner.next()?;
            if lex::is_token(t) {
                return lex::ascii(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let v = b"nothingSupportsThis, nothingSupportsThisEither";
        assert!(Tokens::validate(v));
        assert_eq!(Tokens::new(v).count(), 2);
        assert!(Tokens::contains_exact(v, "nothingSupportsThis"));
        assert!(!Tokens::validate(b"a, b c"));
        assert!(Tokens::contains_ignore_case(b"INVITE, ACK", "ack"));
    }
}
