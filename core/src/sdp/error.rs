//! Errors of the SDP parser and writer.

use core::fmt;

/// Why a session description was rejected, and on which line (1-based).
///
/// A UA that receives an offer it cannot parse answers 488 Not Acceptable Here (RFC 3261
/// §21.4.26); see [`OfferAnswerError::status_code`](super::OfferAnswerError::status_code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdpError {
    /// The line the error was found on, counting from 1. For a missing line, the line where
    /// it was due (one past the last line at the end of the text).
    pub line: usize,
    /// What was wrong.
    pub kind: SdpErrorKind,
}

/// What was wrong with a session description (RFC 4566 §5).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SdpErrorKind {
    /// The first line is not `v=` (§5: a description starts with `v=`).
    MissingVersion,
    /// `v=` holds something other than `0` (§5.1).
    BadVersion,
    /// Not a `<type>=<value>` line: empty in the middle of the text, white space around `=`,
    /// or a NUL or lone CR inside.
    BadLine,
    /// A type letter RFC 4566 does not define. §5: "an SDP parser MUST completely ignore any
    /// session description that contains a type letter that it does not understand".
    UnknownType(u8),
    /// A known line out of the order of §5 (for example `a=` before `c=`, or `o=` inside a
    /// media description).
    OutOfOrder(u8),
    /// A line that may appear only once at its level appears again.
    Repeated(u8),
    /// A required line (`o=`, `s=`, `t=`) is missing.
    Missing(u8),
    /// The value of the line does not follow its grammar (§5.x, §9).
    Malformed(u8),
    /// A media description that is not rejected (port 0) has no `c=`, and there is no
    /// session-level `c=` (§5.7).
    MissingConnection,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |b: &u8| char::from(*b);
        write!(f, "SDP line {}: ", self.line)?;
        match &self.kind {
            SdpErrorKind::MissingVersion => f.write_str("does not start with v="),
            SdpErrorKind::BadVersion => f.write_str("version is not 0"),
            SdpErrorKind::BadLine => f.write_str("not a <type>=<value> line"),
            SdpErrorKind::UnknownType(b) => write!(f, "unknown type {:?}", letter(b)),
            SdpErrorKind::OutOfOrder(b) => write!(f, "{}= out of order", letter(b)),
            SdpErrorKind::Repeated(b) => write!(f, "{}= repeated", letter(b)),
            SdpErrorKind::Missing(b) => write!(f, "missing {}=", letter(b)),
            SdpErrorKind::Malformed(b) => write!(f, "malformed {}=", letter(b)),
            SdpErrorKind::MissingConnection => f.write_str("media without c="),
        }
    }
}

impl core::error::Error for SdpError {}

/// Why a session description could not be written.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The output buffer is too small.
    BufferFull,
    /// A field would not parse back: a line break or NUL in text, a space or separator in a
    /// token, a media line without formats, or a non-numeric format on an RTP media line.
    InvalidField,
}

impl From<crate::message::WriteError> for EmitError {
    fn from(_: crate::message::WriteError) -> Self {
        EmitError::BufferFull
    }
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmitError::BufferFull => "SDP output buffer full",
            EmitError::InvalidField => "SDP field would not parse back",
        })
    }
}

impl core::error::Error for EmitError {}
