//! CSeq (§20.16, §8.1.1.5).

use crate::message::lex::Cursor;

/// `CSeq = 1*DIGIT LWS Method`; the number is below 2**31 (§8.1.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'b> {
    /// The sequence number.
    pub seq: u32,
    /// The method, which must match the request's (RFC 4475 §3.1.2.17).
    pub method: &'b str,
}

impl<'b> CSeq<'b> {
    /// The largest sequence number a request may carry (§8.1.1.5: less than 2**31).
    pub const MAX: u32 = (1 << 31) - 1;

    /// Parses a CSeq value.
    pub fn parse(value: &'b [u8]) -> Option<CSeq<'b>> {
        let mut c = Cursor::new(value);
        c.skip_lws();
        let seq = c.number(Self::MAX)?;
        let before = c.pos();
        c.skip_lws();
        if c.pos() == before {
            return None;
        }
        let method = c.token()?;
        c.skip_lws();
        c.at_end().then_some(CSeq { seq, method })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(
            CSeq::parse(b"0009\r\n  INVITE"),
            Some(CSeq {
                seq: 9,
                method: "INVITE"
            })
        );
        assert_eq!(
            CSeq::parse(b"2147483647 ACK").map(|c| c.seq),
            Some(CSeq::MAX)
        );
        assert_eq!(CSeq::parse(b"2147483648 ACK"), None);
        assert_eq!(CSeq::parse(b"36893488147419103232 REGISTER"), None);
        assert_eq!(CSeq::parse(b"1INVITE"), None);
        assert_eq!(CSeq::parse(b"1 INVITE x"), None);
        assert_eq!(CSeq::parse(b"INVITE"), None);
    }
}
