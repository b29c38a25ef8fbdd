//! Writing messages into a caller buffer without allocating.

use core::fmt;

use super::header::Header;
use super::parser::{Message, StartLine};

/// The buffer is too small for what was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteError;

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("output buffer full")
    }
}

impl core::error::Error for WriteError {}

/// Appends bytes to a caller-provided buffer; every write fails cleanly once it is full.
///
/// ```
/// use sipwire_core::message::Writer;
/// let mut buf = [0u8; 64];
/// let mut w = Writer::new(&mut buf);
/// w.header("Max-Forwards", b"70")?;
/// assert_eq!(w.as_bytes(), b"Max-Forwards: 70\r\n");
/// # Ok::<(), sipwire_core::message::WriteError>(())
/// ```
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What has been written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Ends writing, giving back the written prefix with the buffer's lifetime.
    pub fn finish(self) -> &'a [u8] {
        let Writer { buf, len } = self;
        &buf[..len]
    }

    /// Removes a trailing CRLF, if the output ends with one.
    pub(crate) fn truncate_crlf(&mut self) {
        if self.as_bytes().ends_with(b"\r\n") {
            self.len -= 2;
        }
    }

    /// Appends raw bytes.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        let end = self.len.checked_add(bytes.len()).ok_or(WriteError)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(WriteError)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends a decimal number.
    pub fn put_u32(&mut self, mut n: u32) -> Result<(), WriteError> {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[i..])
    }

    /// Appends `name: value CRLF`.
    pub fn header(&mut self, name: &str, value: &[u8]) -> Result<(), WriteError> {
        self.put(name.as_bytes())?;
        self.put(b": ")?;
        self.put(value)?;
        self.put(b"\r\n")
    }

    /// Appends `name: ` followed by formatted text and CRLF.
    pub fn header_fmt(&mut self, name: &str, value: fmt::Arguments<'_>) -> Result<(), WriteError> {
        self.put(name.as_bytes())?;
        self.put(b": ")?;
        fmt::Write::write_fmt(self, value).map_err(|_| WriteError)?;
        self.put(b"\r\n")
    }

    /// Appends `Request-Line` (§7.1).
    pub fn request_line(&mut self, method: &str, uri: &str) -> Result<(), WriteError> {
        self.put(method.as_bytes())?;
        self.put(b" ")?;
        self.put(uri.as_bytes())?;
        self.put(b" SIP/2.0\r\n")
    }

    /// Appends `Status-Line` (§7.2).
    pub fn status_line(&mut self, code: u16, reason: &[u8]) -> Result<(), WriteError> {
        self.put(b"SIP/2.0 ")?;
        self.put_u32(u32::from(code))?;
        self.put(b" ")?;
        self.put(reason)?;
        self.put(b"\r\n")
    }

    /// Appends Content-Length, the blank line and the body (§20.14: always written, 0 when
    /// there is no body, so the message frames on streams too).
    pub fn body(&mut self, body: &[u8]) -> Result<(), WriteError> {
        self.put(b"Content-Length: ")?;
        let len = u32::try_from(body.len()).map_err(|_| WriteError)?;
        self.put_u32(len)?;
        self.put(b"\r\n\r\n")?;
        self.put(body)
    }
}

impl fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

impl Message<'_, '_> {
    /// Writes the message back out: the start line in canonical form, every header line as
    /// `name: value` (names and values as received; the body is exactly Content-Length long),
    /// then the body. Parsing the output gives an equal message.
    pub fn write_to(&self, w: &mut Writer<'_>) -> Result<(), WriteError> {
        match self.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => {
                w.put(method.as_bytes())?;
                w.put(b" ")?;
                w.put(uri.raw().as_bytes())?;
                w.put(b" SIP/")?;
                w.put_u32(u32::from(version.major))?;
                w.put(b".")?;
                w.put_u32(u32::from(version.minor))?;
                w.put(b"\r\n")?;
            }
            StartLine::Response {
                version,
                code,
                reason,
            } => {
                w.put(b"SIP/")?;
                w.put_u32(u32::from(version.major))?;
                w.put(b".")?;
                w.put_u32(u32::from(version.minor))?;
                w.put(b" ")?;
                w.put_u32(u32::from(code))?;
                w.put(b" ")?;
                w.put(reason)?;
                w.put(b"\r\n")?;
            }
        }
        for h in self.headers {
            write_header(w, h)?;
        }
        w.put(b"\r\n")?;
        w.put(self.body)
    }
}

/// Writes one header line as it was received.
pub(crate) fn write_header(w: &mut Writer<'_>, h: &Header<'_>) -> Result<(), WriteError> {
    w.put(h.raw_name)?;
    w.put(b": ")?;
    w.put(h.value)?;
    w.put(b"\r\n")
}
