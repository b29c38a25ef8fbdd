//! Numeric headers: Max-Forwards (§20.22), Content-Length (§20.14), Expires and Min-Expires
//! (§20.19, §20.23), Retry-After (§20.33).

use crate::message::lex::{self, Cursor};
use crate::message::params::{self, Params};

/// `delta-seconds = 1*DIGIT`, at most 2**32-1 (§20.19: larger values are invalid here, see
/// RFC 4475 §3.1.2.4).
pub fn delta_seconds(value: &[u8]) -> Option<u32> {
    lex::parse_u64(lex::trim(value), u64::from(u32::MAX)).map(|v| v as u32)
}

/// Max-Forwards: an integer 0–255 (§20.22; RFC 4475 §3.1.2.4 treats 300 as invalid).
pub fn max_forwards(value: &[u8]) -> Option<u8> {
    lex::parse_u64(lex::trim(value), 255).map(|v| v as u8)
}

/// Content-Length: octets of body, 0 to 2**32-1.
pub fn content_length(value: &[u8]) -> Option<u32> {
    delta_seconds(value)
}

/// Retry-After = delta-seconds \[ comment \] *( SEMI retry-param ) (§20.33).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter<'b> {
    /// Seconds to wait.
    pub seconds: u32,
    /// The comment in parentheses, without them.
    pub comment: Option<&'b [u8]>,
    /// Parameters such as `duration`.
    pub params: Params<'b>,
}

impl<'b> RetryAfter<'b> {
    /// Parses a Retry-After value.
    pub fn parse(value: &'b [u8]) -> Option<RetryAfter<'b>> {
        let mut c = Cursor::new(value);
        c.skip_lws();
        let seconds = delta_seconds(c.take_while(|b| b.is_ascii_digit()))?;
        c.skip_lws();
        let mut comment = None;
        if c.eat(b'(') {
            let start = c.pos();
            let mut depth = 1u32;
            while depth > 0 {
                match c.peek()? {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    b'\\' => c.advance(1),
                    _ => {}
                }
                c.advance(1);
            }
            comment = Some(&value[start..c.pos() - 1]);
        }
        let ps = c.pos();
        params::scan(&mut c)?;
        let params = Params::new(&value[ps..c.pos()]);
        c.skip_lws();
        c.at_end().then_some(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(max_forwards(b"0068"), Some(68));
        assert_eq!(max_forwards(b"300"), None);
        assert_eq!(max_forwards(b"-1"), None);
        assert_eq!(delta_seconds(b"4294967295"), Some(u32::MAX));
        assert_eq!(delta_seconds(b"4294967296"), None);
        assert_eq!(content_length(b"-999"), None);
    }

    #[test]
    fn retry_after() {
        let r = RetryAfter::parse(b"18000;duration=3600").unwrap();
        assert_eq!(r.seconds, 18000);
        assert_eq!(r.params.get("duration"), Some(Some(&b"3600"[..])));
        let r = RetryAfter::parse(b"120 (I'm in a meeting)").unwrap();
        assert_eq!(r.comment, Some(&b"I'm in a meeting"[..]));
        assert!(RetryAfter::parse(b"949302838503028349304023988").is_none());
        assert!(RetryAfter::parse(b"5 (unclosed").is_none());
    }
}
