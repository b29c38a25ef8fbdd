//! Writing session descriptions into a caller buffer, without allocating (RFC 4566 §5).
//!
//! [`SdpWriter`] writes the session-level lines first, then attributes and media
//! descriptions in the order §5 requires; each field is checked with the parser's own
//! grammar, so what it writes parses back to the same values.

use super::attr::{is_attribute_name, Direction, RtpMap};
use super::error::EmitError;
use super::line::{is_format, is_proto, is_text, is_token, non_ws};
use super::model::{Connection, Origin, Timing};
use crate::message::Writer;

/// The session-level lines every description starts with: `v=0`, `o=`, `s=`, an optional
/// `c=` and `t=` (§5.1, §5.2, §5.3, §5.7, §5.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionHeader<'a> {
    /// The `o=` line.
    pub origin: Origin<'a>,
    /// The `s=` text; `-` when the session has no name.
    pub session_name: &'a [u8],
    /// The session-level `c=` line.
    pub connection: Option<Connection<'a>>,
    /// The `t=` line; `0 0` for a SIP call (RFC 3264 §5).
    pub timing: Timing,
}

/// The `m=` line of a media description and its optional `c=` (§5.14, §5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaHeader<'a> {
    /// The media type, such as `audio`.
    pub media: &'a str,
    /// The port; 0 rejects or disables the stream.
    pub port: u16,
    /// The number of ports, written as `<port>/<count>` when set.
    pub port_count: Option<u16>,
    /// The transport, such as `RTP/AVP`.
    pub proto: &'a str,
    /// The media-level `c=` line.
    pub connection: Option<Connection<'a>>,
}

/// One entry of an `m=` line's format list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format<'a> {
    /// An RTP payload type number, 0–127.
    Pt(u8),
    /// A format token as written (for other transports, or copied from a parsed line).
    Token(&'a str),
}

/// Decimal digits of a `u64`, on the stack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    /// The digits of `n`.
    pub(crate) fn new(mut n: u64) -> Self {
        let mut buf = [b'0'; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Digits { buf, start }
    }

    /// The digits as text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits were written, so this is always valid UTF-8.
        core::str::from_utf8(self.buf.get(self.start..).unwrap_or(&[])).unwrap_or("0")
    }
}

/// Writes a session description into a caller buffer.
///
/// ```
/// use sipwire_core::sdp::{Connection, Direction, Format, MediaHeader, Origin, RtpMap};
/// use sipwire_core::sdp::{SdpWriter, SessionDescription, SessionHeader, Timing};
/// let c = Connection { nettype: "IN", addrtype: "IP4", address: "192.0.2.1" };
/// let header = SessionHeader {
///     origin: Origin { username: "-", session_id: "42", session_version: 1,
///                      nettype: "IN", addrtype: "IP4", address: "192.0.2.1" },
///     session_name: b"-", connection: Some(c), timing: Timing::default(),
/// };
/// let mut buf = [0u8; 256];
/// let mut w = SdpWriter::new(&mut buf, &header)?;
/// let m = MediaHeader { media: "audio", port: 4000, port_count: None, proto: "RTP/AVP",
///                       connection: None };
/// w.media(&m, [Format::Pt(0), Format::Pt(101)])?;
/// w.rtpmap(&RtpMap { payload_type: 101, encoding: "telephone-event", clock_rate: 8000,
///                    channels: 1 })?;
/// w.direction(Direction::SendRecv)?;
/// let sdp = SessionDescription::parse(w.finish()).unwrap();
/// assert!(sdp.media().next().unwrap().payload_types().eq([0, 101]));
/// # Ok::<(), sipwire_core::sdp::EmitError>(())
/// ```
#[derive(Debug)]
pub struct SdpWriter<'a> {
    w: Writer<'a>,
}

/// Fails with [`EmitError::InvalidField`] unless `ok`.
fn check(ok: bool) -> Result<(), EmitError> {
    if ok {
        Ok(())
    } else {
        Err(EmitError::InvalidField)
    }
}

fn is_non_ws(s: &str) -> bool {
    non_ws(s.as_bytes()).is_some()
}

impl<'a> SdpWriter<'a> {
    /// Starts a description in `buf` with its session-level lines.
    pub fn new(buf: &'a mut [u8], h: &SessionHeader<'_>) -> Result<Self, EmitError> {
        let o = &h.origin;
        check(
            is_non_ws(o.username)
                && is_non_ws(o.session_id)
                && is_token(o.nettype.as_bytes())
                && is_token(o.addrtype.as_bytes())
                && is_non_ws(o.address)
                && is_text(h.session_name),
        )?;
        let mut s = SdpWriter {
            w: Writer::new(buf),
        };
        let w = &mut s.w;
        w.put(b"v=0\r\no=")?;
        w.put(o.username.as_bytes())?;
        w.put(b" ")?;
        w.put(o.session_id.as_bytes())?;
        w.put(b" ")?;
        w.put(Digits::new(o.session_version).as_str().as_bytes())?;
        for field in [o.nettype, o.addrtype, o.address] {
            w.put(b" ")?;
            w.put(field.as_bytes())?;
        }
        w.put(b"\r\ns=")?;
        w.put(h.session_name)?;
        w.put(b"\r\n")?;
        if let Some(c) = &h.connection {
            s.connection(c)?;
        }
        let w = &mut s.w;
        w.put(b"t=")?;
        w.put(Digits::new(h.timing.start).as_str().as_bytes())?;
        w.put(b" ")?;
        w.put(Digits::new(h.timing.stop).as_str().as_bytes())?;
        w.put(b"\r\n")?;
        Ok(s)
    }

    fn connection(&mut self, c: &Connection<'_>) -> Result<(), EmitError> {
        check(
            is_token(c.nettype.as_bytes())
                && is_token(c.addrtype.as_bytes())
                && is_non_ws(c.address),
        )?;
        self.w.put(b"c=")?;
        self.w.put(c.nettype.as_bytes())?;
        self.w.put(b" ")?;
        self.w.put(c.addrtype.as_bytes())?;
        self.w.put(b" ")?;
        self.w.put(c.address.as_bytes())?;
        self.w.put(b"\r\n")?;
        Ok(())
    }

    /// Appends `a=<name>` or `a=<name>:<value>` to the current level (the session before the
    /// first media description, else the last media description).
    pub fn attribute(&mut self, name: &str, value: Option<&[u8]>) -> Result<(), EmitError> {
        check(is_attribute_name(name) && value.is_none_or(is_text))?;
        self.w.put(b"a=")?;
        self.w.put(name.as_bytes())?;
        if let Some(v) = value {
            self.w.put(b":")?;
            self.w.put(v)?;
        }
        self.w.put(b"\r\n")?;
        Ok(())
    }

    /// Appends a direction attribute (RFC 3264 §5.1).
    pub fn direction(&mut self, d: Direction) -> Result<(), EmitError> {
        self.attribute(d.as_str(), None)
    }

    /// Appends `a=rtpmap:` (RFC 4566 §6); the channels are written only when not 1.
    pub fn rtpmap(&mut self, m: &RtpMap<'_>) -> Result<(), EmitError> {
        check(m.payload_type <= 127 && is_token(m.encoding.as_bytes()) && m.channels != 0)?;
        let w = &mut self.w;
        w.put(b"a=rtpmap:")?;
        w.put_u32(u32::from(m.payload_type))?;
        w.put(b" ")?;
        w.put(m.encoding.as_bytes())?;
        w.put(b"/")?;
        w.put_u32(m.clock_rate)?;
        if m.channels != 1 {
            w.put(b"/")?;
            w.put_u32(u32::from(m.channels))?;
        }
        w.put(b"\r\n")?;
        Ok(())
    }

    /// Appends `a=fmtp:<pt> <params>` (RFC 4566 §6).
    pub fn fmtp(&mut self, pt: u8, params: &[u8]) -> Result<(), EmitError> {
        check(pt <= 127 && is_text(params) && !params.starts_with(b" "))?;
        self.w.put(b"a=fmtp:")?;
        self.w.put_u32(u32::from(pt))?;
        self.w.put(b" ")?;
        self.w.put(params)?;
        self.w.put(b"\r\n")?;
        Ok(())
    }

    /// Appends `a=ptime:<ms>` (RFC 4566 §6).
    pub fn ptime(&mut self, ms: u32) -> Result<(), EmitError> {
        self.w.put(b"a=ptime:")?;
        self.w.put_u32(ms)?;
        self.w.put(b"\r\n")?;
        Ok(())
    }

    /// Starts a media description: its `m=` line with `formats` (at least one), and its
    /// `c=` line. Its attributes follow with [`attribute`](Self::attribute) and friends.
    pub fn media<'f, I>(&mut self, m: &MediaHeader<'_>, formats: I) -> Result<(), EmitError>
    where
        I: IntoIterator<Item = Format<'f>>,
    {
        let proto = m.proto.as_bytes();
        check(is_token(m.media.as_bytes()) && is_proto(proto))?;
        let w = &mut self.w;
        w.put(b"m=")?;
        w.put(m.media.as_bytes())?;
        w.put(b" ")?;
        w.put_u32(u32::from(m.port))?;
        if let Some(n) = m.port_count {
            w.put(b"/")?;
            w.put_u32(u32::from(n))?;
        }
        w.put(b" ")?;
        w.put(proto)?;
        let mut any = false;
        for f in formats {
            let digits;
            let text = match f {
                Format::Pt(pt) => {
                    digits = Digits::new(u64::from(pt));
                    digits.as_str()
                }
                Format::Token(t) => t,
            };
            check(is_format(proto, text.as_bytes()))?;
            w.put(b" ")?;
            w.put(text.as_bytes())?;
            any = true;
        }
        check(any)?;
        w.put(b"\r\n")?;
        if let Some(c) = &m.connection {
            self.connection(c)?;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.w.len()
    }

    /// Whether nothing has been written (never true after [`new`](Self::new)).
    pub fn is_empty(&self) -> bool {
        self.w.is_empty()
    }

    /// Ends writing, giving back the description.
    pub fn finish(self) -> &'a [u8] {
        self.w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        assert_eq!(Digits::new(0).as_str(), "0");
        assert_eq!(Digits::new(u64::MAX).as_str(), "18446744073709551615");
    }

    fn header() -> SessionHeader<'static> {
        SessionHeader {
            origin: Origin {
                username: "-",
                session_id: "1",
                session_version: 1,
                nettype: "IN",
                addrtype: "IP4",
                address: "192.0.2.1",
            },
            session_name: b" ",
            connection: None,
            timing: Timing::default(),
        }
    }

    #[test]
    fn refuses_what_would_not_parse_back() {
        let mut buf = [0u8; 256];
        let mut h = header();
        h.session_name = b"a\r\nb";
        assert_eq!(
            SdpWriter::new(&mut buf, &h).err(),
            Some(EmitError::InvalidField)
        );
        let h = header();
        let mut w = SdpWriter::new(&mut buf, &h).unwrap();
        let m = MediaHeader {
            media: "audio",
            port: 0,
            port_count: None,
            proto: "RTP/AVP",
            connection: None,
        };
        assert_eq!(w.media(&m, []), Err(EmitError::InvalidField));
        assert_eq!(w.media(&m, [Format::Pt(128)]), Err(EmitError::InvalidField));
        assert_eq!(
            w.media(&m, [Format::Token("x")]),
            Err(EmitError::InvalidField)
        );
        assert_eq!(w.attribute("a b", None), Err(EmitError::InvalidField));
        assert_eq!(w.fmtp(1, b" x"), Err(EmitError::InvalidField));
    }

    #[test]
    fn buffer_full() {
        let mut buf = [0u8; 20];
        assert_eq!(
            SdpWriter::new(&mut buf, &header()).err(),
            Some(EmitError::BufferFull)
        );
    }
}
