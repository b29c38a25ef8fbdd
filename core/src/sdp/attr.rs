//! Attributes (`a=`, RFC 4566 §5.13 and §6) and the typed views of the ones a UA needs:
//! `rtpmap`, `fmtp`, `ptime` and the media direction.
//!
//! Attributes are not stored: they are read lazily from the text of their section. A typed
//! view of a malformed attribute is `None`; unknown attributes are skipped (§5.13: "If an
//! attribute is received that is not understood, it MUST be ignored by the receiver").

use super::line::{is_text, is_token, number, token_str, Fields};

/// One attribute line: `a=<name>` (a property) or `a=<name>:<value>` (a value attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'b> {
    /// The attribute name (`att-field`, a token).
    pub name: &'b str,
    /// The value after `:`, as received (`byte-string`), or `None` for a property attribute.
    pub value: Option<&'b [u8]>,
}

impl<'b> Attribute<'b> {
    /// Parses the value of an `a=` line.
    pub(crate) fn parse(v: &'b [u8]) -> Option<Self> {
        let (name, value) = match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], Some(&v[i + 1..])),
            None => (v, None),
        };
        if !value.is_none_or(is_text) {
            return None;
        }
        Some(Attribute {
            name: token_str(name)?,
            value,
        })
    }
}

/// The direction of a media stream (RFC 4566 §6, RFC 3264 §5.1), from the point of view of
/// the party whose description carries it. Without an attribute it is `sendrecv`, and a
/// media-level attribute overrides a session-level one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`: send and receive (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`: send only.
    SendOnly,
    /// `a=recvonly`: receive only.
    RecvOnly,
    /// `a=inactive`: neither.
    Inactive,
}

impl Direction {
    /// The direction that sends when `send` and receives when `recv`.
    pub const fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether this side sends media.
    pub const fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub const fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other side (`sendonly` ↔ `recvonly`).
    pub const fn reverse(self) -> Self {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// The direction to offer when putting this stream on hold (RFC 3264 §8.4): `sendrecv`
    /// becomes `sendonly`, `recvonly` becomes `inactive`.
    pub const fn hold(self) -> Self {
        Direction::from_flags(self.sends(), false)
    }

    /// The attribute name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an attribute names, if it is one of the four (a property attribute).
    pub fn from_attribute(a: &Attribute<'_>) -> Option<Self> {
        if a.value.is_some() {
            return None;
        }
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str() == a.name)
    }
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 4566 §6): what a payload type number stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpMap<'b> {
    /// The RTP payload type, 0–127.
    pub payload_type: u8,
    /// The encoding name, such as `PCMU` or `telephone-event` (compared case-insensitively,
    /// RFC 4855 §3).
    pub encoding: &'b str,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The number of audio channels: the encoding parameters, 1 when absent (§6).
    pub channels: u8,
}

impl<'b> RtpMap<'b> {
    /// Parses the value of an `rtpmap` attribute.
    pub fn parse(value: &'b [u8]) -> Option<Self> {
        let mut f = Fields::new(value);
        let pt = number(f.next()?, 127)?;
        let map = f.next()?;
        if f.next().is_some() {
            return None;
        }
        let mut parts = map.split(|&b| b == b'/');
        let encoding = token_str(parts.next()?)?;
        let clock_rate = u32::try_from(number(parts.next()?, u64::from(u32::MAX))?).ok()?;
        let channels = match parts.next() {
            Some(c) => u8::try_from(number(c, 255)?).ok()?,
            None => 1,
        };
        if parts.next().is_some() || channels == 0 {
            return None;
        }
        Some(RtpMap {
            // number() bounded it to 127.
            payload_type: u8::try_from(pt).ok()?,
            encoding,
            clock_rate,
            channels,
        })
    }

    /// Whether this maps the same encoding as `name`/`clock`/`channels` (RFC 3264 §6.1:
    /// encoding names compare case-insensitively).
    pub fn is(&self, name: &str, clock: u32, channels: u8) -> bool {
        self.encoding.eq_ignore_ascii_case(name)
            && self.clock_rate == clock
            && self.channels == channels
    }
}

/// `a=fmtp:<format> <format specific parameters>` (RFC 4566 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmtp<'b> {
    /// The format (payload type number for RTP) the parameters are for.
    pub format: &'b str,
    /// The parameters as received, such as `0-16` for telephone-event.
    pub params: &'b [u8],
}

impl<'b> Fmtp<'b> {
    /// Parses the value of an `fmtp` attribute.
    pub fn parse(value: &'b [u8]) -> Option<Self> {
        let i = value.iter().position(|&b| b == b' ')?;
        let format = token_str(&value[..i])?;
        let mut params = &value[i + 1..];
        while let [b' ', rest @ ..] = params {
            params = rest;
        }
        Some(Fmtp { format, params })
    }
}

/// Parses the value of a `ptime` attribute: whole milliseconds.
pub(crate) fn ptime(value: &[u8]) -> Option<u32> {
    u32::try_from(number(value, u64::from(u32::MAX))?).ok()
}

/// Whether `name` is usable as an attribute name by the writer.
pub(crate) fn is_attribute_name(name: &str) -> bool {
    is_token(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap() {
        let m = RtpMap::parse(b"97 iLBC/8000").unwrap();
        assert_eq!(
            (m.payload_type, m.encoding, m.clock_rate, m.channels),
            (97, "iLBC", 8000, 1)
        );
        assert!(m.is("ILBC", 8000, 1));
        let m = RtpMap::parse(b"98 L16/44100/2").unwrap();
        assert_eq!(m.channels, 2);
        for bad in [
            &b"31 LPC"[..],
            b"128 X/8000",
            b"9 G722/x",
            b"9 a b/8000",
            b"9 X/8000/0",
            b"",
        ] {
            assert_eq!(RtpMap::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fmtp_and_attributes() {
        let f = Fmtp::parse(b"101 0-16").unwrap();
        assert_eq!((f.format, f.params), ("101", &b"0-16"[..]));
        let a = Attribute::parse(b"rtpmap:0 PCMU/8000").unwrap();
        assert_eq!(a.name, "rtpmap");
        let a = Attribute::parse(b"recvonly").unwrap();
        assert_eq!(Direction::from_attribute(&a), Some(Direction::RecvOnly));
        assert_eq!(Attribute::parse(b"bad name"), None);
        assert_eq!(Attribute::parse(b":x"), None);
    }

    #[test]
    fn directions() {
        use Direction::*;
        assert_eq!(SendOnly.reverse(), RecvOnly);
        assert_eq!(Inactive.reverse(), Inactive);
        assert_eq!(SendRecv.hold(), SendOnly);
        assert_eq!(RecvOnly.hold(), Inactive);
    }
}
