//! Errors of the message parser, each mapped to the answer RFC 3261 asks for.

use core::fmt;

use super::header::HeaderName;

/// Why a message could not be parsed.
///
/// A request that fails to parse is answered with [`ParseError::status_code`] when enough of
/// it was read to build a response (see [`Parser::parse_head`](super::Parser::parse_head));
/// a response that fails to parse is dropped (RFC 3261 §18.1.2, RFC 4475 §3.1.2.19).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The start line is neither a Request-Line nor a Status-Line (§7.1, §7.2), for example
    /// several spaces between its elements or a space at its end.
    BadStartLine,
    /// The method is not a `token`.
    BadMethod,
    /// The Request-URI is not a valid URI (for example it has `<>` or white space around it).
    BadRequestUri(super::uri::UriError),
    /// The SIP-Version is not `SIP/1*DIGIT "." 1*DIGIT` (§25.1). A well-formed but unsupported
    /// version such as `SIP/7.0` parses, and [`validate`](super::validate) answers it 505.
    BadVersion,
    /// The Status-Code is not three digits.
    BadStatusCode,
    /// The Reason-Phrase holds a control character.
    BadReasonPhrase,
    /// A header line has no colon, or its name is not a `token`.
    BadHeaderLine,
    /// More headers than the slots the caller provided.
    TooManyHeaders,
    /// The header section or the whole message is larger than the configured limit.
    TooLarge,
    /// The value of a header the parser must read to frame the message is malformed.
    BadHeaderValue(HeaderName),
    /// A header that the operation needs is absent.
    MissingHeader(HeaderName),
    /// A stream message has no Content-Length (§18.3: it is mandatory on streams).
    MissingContentLength,
    /// Content-Length appears more than once with different values (RFC 4475 §3.3.9).
    ConflictingContentLength,
    /// A datagram is shorter than its Content-Length says (§18.3, RFC 4475 §3.1.2.2).
    Truncated,
}

impl ParseError {
    /// The status code to answer a request that failed this way with (§8.2, §16.3,
    /// §21.5.14), or `None` if no answer can be built.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            ParseError::TooLarge => Some(513),
            ParseError::TooManyHeaders => Some(513),
            _ => Some(400),
        }
    }

    /// A short reason phrase for the answer, naming what was wrong. Without feature
    /// `detailed-reasons`, the status code's own phrase (§21.4.1 "Bad Request", §21.5.14
    /// "Message Too Large").
    pub fn reason(&self) -> &'static str {
        if !cfg!(feature = "detailed-reasons") {
            return match self.status_code() {
                Some(513) => "Message Too Large",
                _ => "Bad Request",
            };
        }
        let i = match self {
            ParseError::BadStartLine => 0,
            ParseError::BadMethod => 1,
            ParseError::BadRequestUri(_) => 2,
            ParseError::BadVersion => 3,
            ParseError::BadStatusCode => 4,
            ParseError::BadReasonPhrase => 5,
            ParseError::BadHeaderLine => 6,
            ParseError::TooManyHeaders => 7,
            ParseError::TooLarge => 8,
            ParseError::BadHeaderValue(h) => return h.bad_value_reason(),
            ParseError::MissingHeader(h) => return h.missing_reason(),
            ParseError::MissingContentLength => 9,
            ParseError::ConflictingContentLength => 10,
            ParseError::Truncated => 11,
        };
        // One string and an index: smaller than a `match` of string constants.
        crate::bytes::nth_phrase(
            "Bad Request Line|Bad Method|Bad Request-URI|Bad SIP-Version|Bad Status Code|\
             Bad Reason Phrase|Bad Header Line|Too Many Headers|Message Too Large|\
             Missing Content-Length|Conflicting Content-Length|Body Shorter Than Content-Length",
            i,
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::BadRequestUri(e) => write!(f, "bad Request-URI: {e}"),
            ParseError::BadHeaderValue(h) => write!(f, "malformed {} header", h.as_str()),
            ParseError::MissingHeader(h) => write!(f, "missing {} header", h.as_str()),
            other => f.write_str(other.reason()),
        }
    }
}

impl core::error::Error for ParseError {}
