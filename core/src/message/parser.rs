//! The message parser: start line, header lines into caller slots, and the body framed by
//! Content-Length (RFC 3261 §7, §18.3).

use super::error::ParseError;
#[cfg(not(feature = "small-code"))]
use super::header::lookup_words;
use super::header::{lookup_in, Header, HeaderName};
use super::lex::{self, TOKEN};
use super::uri::Uri;

/// The result of parsing from a stream: a whole message, or a need for more bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message was read.
    Complete(T),
    /// The bytes end before the message does: read more and parse again from the start.
    Partial,
}

impl<T> Status<T> {
    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// How the bytes were carried, which decides how the body is framed (§18.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One message per datagram (UDP). Content-Length is optional (absent: the body is the
    /// rest of the datagram); octets after the body are ignored; a datagram shorter than its
    /// Content-Length is an error.
    Datagram,
    /// A byte stream (TCP, TLS). Content-Length is mandatory, and a message may arrive in
    /// pieces ([`Status::Partial`]). CRLFs before the start line are skipped (§7.5).
    Stream,
}

/// A SIP-Version (`SIP/2.0`). Versions other than 2.0 parse, so that they can be answered
/// 505 (RFC 4475 §3.1.2.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u8,
    /// Minor number.
    pub minor: u8,
}

impl Version {
    /// SIP/2.0.
    pub const SIP_2_0: Version = Version { major: 2, minor: 0 };
}

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'b> {
    /// Request-Line (§7.1).
    Request {
        /// The method, a token, case-sensitive (§7.1).
        method: &'b str,
        /// The Request-URI.
        uri: Uri<'b>,
        /// The SIP-Version.
        version: Version,
    },
    /// Status-Line (§7.2).
    Response {
        /// The SIP-Version.
        version: Version,
        /// The Status-Code (100–699).
        code: u16,
        /// The Reason-Phrase as written (UTF-8 allowed, may be empty).
        reason: &'b [u8],
    },
}

/// A parsed message: borrowed views into the caller's buffer and header slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'b, 'h> {
    pub(crate) start: StartLine<'b>,
    pub(crate) headers: &'h [Header<'b>],
    pub(crate) body: &'b [u8],
    pub(crate) head: &'b [u8],
    pub(crate) raw: &'b [u8],
    pub(crate) len: usize,
}

/// The start line and header lines of a message, split but not judged: see
/// [`Parser::parse_head`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'b, 'h> {
    /// The start line as received, without its line end.
    pub start_line: &'b [u8],
    /// Whether the start line is not a Status-Line (it does not start with `SIP/`).
    pub is_request: bool,
    /// The header lines.
    pub headers: &'h [Header<'b>],
}

/// Where the parts of a message lie in the buffer.
struct Split {
    msg_start: usize,
    line: (usize, usize),
    count: usize,
    content_length: Option<usize>,
    body_start: usize,
}

/// Parses SIP messages with a framing rule and a size limit.
///
/// ```
/// use sipwire_core::message::{Header, Parser, Status};
/// let mut slots = [Header::EMPTY; 8];
/// let half = b"SIP/2.0 200 OK\r\nContent-Length: 4\r\n\r\nab";
/// assert_eq!(Parser::stream().parse(half, &mut slots), Ok(Status::Partial));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parser {
    framing: Framing,
    max_size: usize,
}

/// The default limit on a whole message, in bytes (headers and body).
pub const DEFAULT_MAX_SIZE: usize = 65_535;

impl Parser {
    /// A parser for datagrams (UDP).
    pub const fn datagram() -> Parser {
        Parser {
            framing: Framing::Datagram,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    /// A parser for streams (TCP, TLS).
    pub const fn stream() -> Parser {
        Parser {
            framing: Framing::Stream,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    /// A parser for the given framing.
    pub const fn new(framing: Framing) -> Parser {
        Parser {
            framing,
            max_size: DEFAULT_MAX_SIZE,
        }
    }

    /// Sets the largest message accepted, in bytes; larger ones are
    /// [`ParseError::TooLarge`] (answered 513, §21.5.14).
    pub const fn max_size(mut self, bytes: usize) -> Parser {
        self.max_size = bytes;
        self
    }

    /// The framing this parser applies.
    pub const fn framing(&self) -> Framing {
        self.framing
    }

    /// Parses one message from the start of `buf`, storing header lines in `slots`.
    ///
    /// On a stream, [`Message::len`] tells how many bytes the message took, so the caller
    /// can drop them and parse the next one.
    pub fn parse<'b, 'h>(
        &self,
        buf: &'b [u8],
        slots: &'h mut [Header<'b>],
    ) -> Result<Status<Message<'b, 'h>>, ParseError> {
        self.parse_inner(buf, slots)
    }

    /// Splits the start line and the header lines only, without judging the start line or
    /// framing the body.
    ///
    /// This is how a server reads enough of a request it cannot parse (a malformed
    /// Request-Line, a missing, negative or conflicting Content-Length, a short datagram) to
    /// answer it 400 (§8.2, §16.3): the response copies Via, From, To, Call-ID and CSeq.
    pub fn parse_head<'b, 'h>(
        &self,
        buf: &'b [u8],
        slots: &'h mut [Header<'b>],
    ) -> Result<Status<Head<'b, 'h>>, ParseError> {
        let head = match self.split(buf, slots, false)? {
            Status::Complete(h) => h,
            Status::Partial => return Ok(Status::Partial),
        };
        let line = strip_cr(&buf[head.line.0..head.line.1]);
        Ok(Status::Complete(Head {
            start_line: line,
            is_request: !(line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/")),
            headers: &slots[..head.count],
        }))
    }

    fn parse_inner<'b, 'h>(
        &self,
        buf: &'b [u8],
        slots: &'h mut [Header<'b>],
    ) -> Result<Status<Message<'b, 'h>>, ParseError> {
        let head = match self.split(buf, slots, true)? {
            Status::Complete(h) => h,
            Status::Partial => return Ok(Status::Partial),
        };
        let start = parse_start_line(strip_cr(&buf[head.line.0..head.line.1]))?;
        let body_start = head.body_start;
        let msg_start = head.msg_start;
        // Body (§18.3).
        let available = buf.len() - body_start;
        let body_len = match (head.content_length, self.framing) {
            (Some(n), Framing::Datagram) if n > available => return Err(ParseError::Truncated),
            (Some(n), _) => n,
            (None, Framing::Datagram) => available,
            (None, Framing::Stream) => return Err(ParseError::MissingContentLength),
        };
        if body_start - msg_start + body_len > self.max_size {
            return Err(ParseError::TooLarge);
        }
        if body_len > available {
            return Ok(Status::Partial);
        }
        let end = body_start + body_len;
        Ok(Status::Complete(Message {
            start,
            headers: &slots[..head.count],
            body: &buf[body_start..end],
            head: &buf[msg_start..body_start],
            raw: &buf[msg_start..end],
            len: end,
        }))
    }

    /// Finds the start line and splits the header lines into `slots`.
    fn split<'b>(
        &self,
        buf: &'b [u8],
        slots: &mut [Header<'b>],
        frame_body: bool,
    ) -> Result<Status<Split>, ParseError> {
        let stream = self.framing == Framing::Stream;
        // §7.5: CRLFs before the start line are ignored on streams; a datagram holding a
        // keep-alive is handled before parsing, but skipping is harmless there too.
        let mut pos = 0;
        while let Some(b'\r' | b'\n') = buf.get(pos) {
            pos += 1;
        }
        let msg_start = pos;

        // Start line.
        let Some(lf) = find_lf(buf, pos) else {
            return self.need_more(buf.len() - msg_start);
        };
        let line = (pos, lf);
        pos = lf + 1;

        // Header lines (§7.3), each possibly folded over several lines (§7.3.1).
        let mut count = 0;
        let mut content_length: Option<usize> = None;
        let body_start = loop {
            let line = buf.get(pos..).unwrap_or_default();
            // The end of the line, looked for from its start, so that the search does not
            // wait for the name to be read (no name or colon holds a LF; a line whose name
            // is malformed is an error below all the same).
            let mut end = find_lf(buf, pos);
            // The name: a token (§7.3, §25.1 `field-name`), then HCOLON = *( SP / HTAB ) ":"
            // SWS (§25.1).
            // `known_name` is for speed (the same answer): `small-code` leaves it out.
            #[cfg(feature = "small-code")]
            let known = None;
            #[cfg(not(feature = "small-code"))]
            let known = known_name(line);
            let (name_len, name) = match known {
                Some(known) => known,
                None => {
                    let n = token_len(line);
                    (n, lookup_in(line, n))
                }
            };
            if name_len == 0 {
                // A line that starts with no token character is the blank line ending the
                // headers, or malformed.
                match line {
                    [b'\n', ..] => break pos + 1,
                    [b'\r', b'\n', ..] => break pos + 2,
                    [] | [b'\r'] => return self.need_more(buf.len() - msg_start),
                    _ => return Err(ParseError::BadHeaderLine),
                }
            }
            let mut colon = name_len;
            while let Some(b' ' | b'\t') = line.get(colon) {
                colon += 1;
            }
            match line.get(colon) {
                Some(b':') => {}
                None => return self.need_more(buf.len() - msg_start),
                Some(_) => return Err(ParseError::BadHeaderLine),
            }
            // The value runs to the end of the line, and on over continuation lines that
            // start with white space (§7.3.1).
            let value_start = pos + colon + 1;
            let next = loop {
                let Some(lf) = end else {
                    return self.need_more(buf.len() - msg_start);
                };
                match buf.get(lf + 1) {
                    Some(b' ' | b'\t') => end = find_lf(buf, lf + 1),
                    Some(_) => break lf + 1,
                    None if stream => return self.need_more(buf.len() - msg_start),
                    None => break lf + 1,
                }
                if lf + 1 - msg_start > self.max_size {
                    return Err(ParseError::TooLarge);
                }
            };
            let value = trim_value(buf.get(value_start..next).unwrap_or_default());
            if name == HeaderName::ContentLength && frame_body {
                // §20.14: Content-Length = 1*DIGIT; several differing values cannot frame.
                let n = lex::parse_u64(value, u64::from(u32::MAX))
                    .ok_or(ParseError::BadHeaderValue(HeaderName::ContentLength))?
                    as usize;
                match content_length {
                    Some(prev) if prev != n => return Err(ParseError::ConflictingContentLength),
                    Some(_) => {}
                    None => content_length = Some(n),
                }
            }
            let slot = slots.get_mut(count).ok_or(ParseError::TooManyHeaders)?;
            *slot = Header {
                name,
                raw_name: line.get(..name_len).unwrap_or_default(),
                value,
            };
            count += 1;
            pos = next;
            if pos - msg_start > self.max_size {
                return Err(ParseError::TooLarge);
            }
        };

        Ok(Status::Complete(Split {
            msg_start,
            line,
            count,
            content_length,
            body_start,
        }))
    }

    fn need_more<T>(&self, have: usize) -> Result<Status<T>, ParseError> {
        match self.framing {
            Framing::Stream if have <= self.max_size => Ok(Status::Partial),
            Framing::Stream => Err(ParseError::TooLarge),
            // A datagram is all there is: a message cut short is malformed.
            Framing::Datagram => Err(ParseError::Truncated),
        }
    }
}

/// The length of the run of `token` characters at the start of `line`.
#[cfg_attr(not(feature = "small-code"), inline(always))]
fn token_len(line: &[u8]) -> usize {
    line.iter()
        .position(|&b| !lex::is(b, TOKEN))
        .unwrap_or(line.len())
}

/// The length and name of a header name SIP knows at the start of `line`, found without a
/// byte loop: the name would end at the first `:`, SP, HTAB or other control byte of the
/// first 16 bytes (two words tested the SWAR way), and a known name there is all `token`
/// characters, so this is what [`token_len`] and [`lookup_in`] would give (the test
/// `known_name_agrees_with_the_byte_loop` checks it). `None` for anything else (an unknown
/// or long name, a short line), which the caller then scans byte by byte.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
fn known_name(line: &[u8]) -> Option<(usize, HeaderName)> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // The lowest flagged byte of each is exact; flags above it may be false positives (a
    // borrow), so only the lowest flag of the union is used.
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    // A name ends at `:` or at a byte below `!` (SP and HTAB, and the controls, which end it
    // just as well: none is a `token` character, so the colon check after it fails either
    // way). Bytes of 0x80 and up are not flagged, being no name's end.
    let ends = |w: u64| zero(w ^ (LO * u64::from(b':'))) | (w.wrapping_sub(LO * 0x21) & !w & HI);
    let words = line.first_chunk::<16>()?;
    let (a, b) = words.split_at(8);
    let a = u64::from_le_bytes(a.try_into().ok()?);
    let b = u64::from_le_bytes(b.try_into().ok()?);
    // The name's words, the bytes past it cleared (`len` is at most 15).
    let (len, first, second) = match ends(a) {
        0 => match ends(b) {
            0 => return None,
            f => {
                let n = f.trailing_zeros() / 8;
                (8 + n as usize, a, b & ((1u64 << (8 * n)) - 1))
            }
        },
        f => {
            let n = f.trailing_zeros() / 8;
            (n as usize, a & ((1u64 << (8 * n)) - 1), 0)
        }
    };
    let name = match len {
        0 => return None,
        1 => lookup_in(line, 1),
        _ => lookup_words(first, second, len),
    };
    match name {
        HeaderName::Other => None,
        name => Some((len, name)),
    }
}

/// A header value without the `LWS` around it. The common shape, one SP before and CRLF
/// after, is recognised without a loop (every `LWS` byte is at most 0x20).
#[inline(always)]
fn trim_value(v: &[u8]) -> &[u8] {
    if cfg!(feature = "small-code") {
        return lex::trim(v);
    }
    match v {
        [b' ', first, .., last, b'\r', b'\n'] if *first > b' ' && *last > b' ' => {
            v.get(1..v.len() - 2).unwrap_or_default()
        }
        _ => lex::trim(v),
    }
}

#[inline]
fn strip_cr(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => line,
    }
}

/// The index of the first `\n` at or after `from`.
#[inline]
fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    lex::find_byte(buf, from, b'\n')
}

/// Request-Line = Method SP Request-URI SP SIP-Version (§7.1); Status-Line = SIP-Version SP
/// Status-Code SP Reason-Phrase (§7.2). Exactly one SP between elements (RFC 4475 §3.1.2.9,
/// §3.1.2.10).
fn parse_start_line(line: &[u8]) -> Result<StartLine<'_>, ParseError> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let sp = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(ParseError::BadStartLine)?;
        let version = parse_version(&line[..sp])?;
        let rest = &line[sp + 1..];
        let (code, reason) = match rest {
            [a, b, c] => ([*a, *b, *c], &rest[3..]),
            [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
            _ => return Err(ParseError::BadStatusCode),
        };
        if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
            return Err(ParseError::BadStatusCode);
        }
        let code = u16::from(code[0] - b'0') * 100
            + u16::from(code[1] - b'0') * 10
            + u16::from(code[2] - b'0');
        // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT /
        // SP / HTAB): no control characters.
        if reason.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(ParseError::BadReasonPhrase);
        }
        return Ok(StartLine::Response {
            version,
            code,
            reason,
        });
    }
    // The method is a token, so the first SP follows it at once in a well-formed line.
    let method_len = token_len(line);
    let sp1 = if method_len > 0 && line.get(method_len) == Some(&b' ') {
        method_len
    } else {
        let sp1 = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(ParseError::BadStartLine)?;
        if !lex::is_token(&line[..sp1]) {
            return Err(ParseError::BadMethod);
        }
        sp1
    };
    let method = &line[..sp1];
    let rest = &line[sp1 + 1..];
    let sp2 = lex::find_byte(rest, 0, b' ').ok_or(ParseError::BadStartLine)?;
    let uri_bytes = &rest[..sp2];
    let version_bytes = &rest[sp2 + 1..];
    // Exactly one SP each side of the Request-URI, none after the version.
    if uri_bytes.is_empty()
        || version_bytes.is_empty()
        || lex::find_byte(version_bytes, 0, b' ').is_some()
    {
        return Err(ParseError::BadStartLine);
    }
    let version = match version_bytes {
        b"SIP/2.0" => Version::SIP_2_0,
        _ => parse_version(version_bytes)?,
    };
    let uri = Uri::parse(uri_bytes).map_err(ParseError::BadRequestUri)?;
    Ok(StartLine::Request {
        method: lex::token_str(method).ok_or(ParseError::BadMethod)?,
        uri,
        version,
    })
}

/// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (§25.1; case-insensitive per §7.1).
fn parse_version(v: &[u8]) -> Result<Version, ParseError> {
    if v.len() < 4 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(ParseError::BadVersion);
    }
    let v = &v[4..];
    let dot = v
        .iter()
        .position(|&b| b == b'.')
        .ok_or(ParseError::BadVersion)?;
    let major = lex::parse_u64(&v[..dot], 255).ok_or(ParseError::BadVersion)?;
    let minor = lex::parse_u64(&v[dot + 1..], 255).ok_or(ParseError::BadVersion)?;
    Ok(Version {
        major: major as u8,
        minor: minor as u8,
    })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    #[cfg(not(feature = "small-code"))]
    use std::vec::Vec;

    const OPTIONS: &[u8] = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 63104 OPTIONS\r\n\
Content-Length: 4\r\n\r\nbody";

    #[test]
    fn find_lf_every_offset() {
        let mut buf = [b'a'; 40];
        for i in 0..40 {
            buf.fill(b'a');
            buf[i] = b'\n';
            for from in 0..=i {
                assert_eq!(find_lf(&buf, from), Some(i), "lf at {i} from {from}");
            }
            assert_eq!(find_lf(&buf, i + 1), None);
        }
    }

    #[test]
    fn request_parses() {
        let mut slots = [Header::EMPTY; 16];
        let m = Parser::datagram()
            .parse(OPTIONS, &mut slots)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(m.headers.len(), 7);
        assert_eq!(m.body, b"body");
        assert_eq!(m.len, OPTIONS.len());
        match m.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                assert_eq!(method, "OPTIONS");
                assert_eq!(uri.raw(), "sip:bob@biloxi.example.com");
                assert_eq!(version, Version::SIP_2_0);
            }
            _ => panic!("not a request"),
        }
    }

    #[test]
    fn stream_partial_at_every_cut() {
        let mut slots = [Header::EMPTY; 16];
        for cut in 0..OPTIONS.len() {
            assert_eq!(
                Parser::stream().parse(&OPTIONS[..cut], &mut slots),
                Ok(Status::Partial),
                "cut at {cut}"
            );
        }
        // Leading CRLFs (§7.5), one message, and the start of the next.
        let mut two = [0u8; OPTIONS.len() + 12];
        two[..2].copy_from_slice(b"\r\n");
        two[2..2 + OPTIONS.len()].copy_from_slice(OPTIONS);
        two[2 + OPTIONS.len()..].copy_from_slice(&OPTIONS[..10]);
        let m = Parser::stream()
            .parse(&two, &mut slots)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(m.len, OPTIONS.len() + 2);
    }

    #[test]
    fn too_many_headers_and_too_large() {
        let mut slots = [Header::EMPTY; 3];
        assert_eq!(
            Parser::datagram().parse(OPTIONS, &mut slots),
            Err(ParseError::TooManyHeaders)
        );
        let mut slots = [Header::EMPTY; 16];
        assert_eq!(
            Parser::datagram().max_size(100).parse(OPTIONS, &mut slots),
            Err(ParseError::TooLarge)
        );
        assert_eq!(
            Parser::stream()
                .max_size(10)
                .parse(b"OPTIONS sip:a@b SIP/2.0\r\n", &mut slots),
            Err(ParseError::TooLarge)
        );
    }

    #[test]
    fn stream_needs_content_length() {
        let mut slots = [Header::EMPTY; 4];
        let m = b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n";
        assert_eq!(
            Parser::stream().parse(m, &mut slots),
            Err(ParseError::MissingContentLength)
        );
        let d = Parser::datagram()
            .parse(m, &mut slots)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(d.body, b"");
    }

    #[test]
    fn start_line_errors() {
        for (line, err) in [
            (&b"INVITE  sip:a@b SIP/2.0"[..], ParseError::BadStartLine),
            (b"INVITE sip:a@b SIP/2.0 ", ParseError::BadStartLine),
            (b"INV(TE sip:a@b SIP/2.0", ParseError::BadMethod),
            (b"SIP/2.0 4294967301 big", ParseError::BadStatusCode),
            (b"SIP/2.0 20 short", ParseError::BadStatusCode),
            (b"SIP/2.0 099 low", ParseError::BadStatusCode),
            (b"SIP/2.x 200 OK", ParseError::BadVersion),
            (b"HTTP/1.1 sip:a@b SIP/2.0", ParseError::BadMethod),
        ] {
            assert_eq!(
                parse_start_line(line),
                Err(err),
                "{:?}",
                core::str::from_utf8(line)
            );
        }
        assert!(matches!(
            parse_start_line(b"SIP/2.0 100 "),
            Ok(StartLine::Response {
                code: 100,
                reason: b"",
                ..
            })
        ));
        assert!(matches!(
            parse_start_line(b"OPTIONS sip:a@b SIP/7.0"),
            Ok(StartLine::Request {
                version: Version { major: 7, minor: 0 },
                ..
            })
        ));
    }

    /// A header line's first bytes: a name (a known one in any case, with a byte changed or
    /// its `-` turned into CR, or random bytes), then a byte that may end it (`:`, SP, HTAB,
    /// CR, LF, NUL, controls, bytes of 0x80 and up) or not, then enough bytes for the
    /// word-wise reader to run.
    #[cfg(not(feature = "small-code"))]
    fn line_start_s() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let names = proptest::sample::select(crate::message::header::CANONICAL);
        let name = prop_oneof![
            (names.clone(), any::<u64>()).prop_map(|(n, case)| {
                n.bytes()
                    .enumerate()
                    .map(|(i, b)| {
                        if case >> (i % 64) & 1 == 1 {
                            b.to_ascii_uppercase()
                        } else {
                            b.to_ascii_lowercase()
                        }
                    })
                    .collect::<Vec<u8>>()
            }),
            (names.clone(), any::<proptest::sample::Index>(), any::<u8>()).prop_map(
                |(n, at, b)| {
                    let mut v = n.as_bytes().to_vec();
                    let i = at.index(v.len());
                    v[i] = b;
                    v
                }
            ),
            // CR is `-` with bit 0x20 cleared: a case-insensitive compare that folds every
            // byte would take it for one.
            names.prop_map(|n| n
                .bytes()
                .map(|b| if b == b'-' { b'\r' } else { b })
                .collect()),
            proptest::collection::vec(any::<u8>(), 0..20),
        ];
        let end = prop_oneof![
            Just(b':'),
            Just(b' '),
            Just(b'\t'),
            Just(b'\r'),
            Just(b'\n'),
            Just(0u8),
            0x01u8..0x20,
            0x80u8..=0xff,
            any::<u8>(),
        ];
        let rest = proptest::collection::vec(any::<u8>(), 16..24);
        (name, end, rest).prop_map(|(mut n, e, r)| {
            n.push(e);
            n.extend(r);
            n
        })
    }

    /// The word-wise reader answers for every known name short enough for it (up to 15
    /// bytes, ended within the first 16), compact forms too, in any case, and for nothing
    /// one letter off.
    #[cfg(not(feature = "small-code"))]
    #[test]
    fn known_name_finds_every_short_name() {
        let compact = crate::message::header::CANONICAL
            .iter()
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).compact())
            .map(|c| std::string::String::from(c as char));
        let names: Vec<std::string::String> = crate::message::header::CANONICAL
            .iter()
            .map(|n| std::string::String::from(*n))
            .chain(compact)
            .filter(|n| n.len() <= 15)
            .collect();
        assert!(names.len() > 50);
        for name in &names {
            let want = HeaderName::from_bytes(name.as_bytes());
            assert_ne!(want, HeaderName::Other, "{name}");
            for cased in [
                name.to_ascii_lowercase(),
                name.to_ascii_uppercase(),
                name.clone(),
            ] {
                for end in [": v\r\n", " : v\r\n", ":\r\n x\r\n"] {
                    let line = std::format!("{cased}{end}padding-to-sixteen");
                    assert_eq!(
                        known_name(line.as_bytes()),
                        Some((name.len(), want)),
                        "{line:?}"
                    );
                }
                let mut off = cased.clone().into_bytes();
                let mid = off.len() / 2;
                off[mid] ^= 0x01;
                off.extend_from_slice(b": v\r\npadding-to-sixteen");
                assert_ne!(known_name(&off).map(|(_, n)| n), Some(want), "{off:?}");
            }
        }
    }

    #[cfg(not(feature = "small-code"))]
    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// The word-wise name reader is only a shortcut: whenever it answers, the byte loop
        /// (`token_len`, then `lookup_in`) answers the same.
        #[test]
        fn known_name_agrees_with_the_byte_loop(line in line_start_s()) {
            if let Some(got) = known_name(&line) {
                let n = token_len(&line);
                proptest::prop_assert_eq!(got, (n, lookup_in(&line, n)), "{:?}", line);
            }
        }
    }
}
