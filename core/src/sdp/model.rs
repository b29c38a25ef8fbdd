//! Zero-copy views of a session description (RFC 4566 §5).
//!
//! [`SessionDescription::parse`](SessionDescription::parse) validates every line once; the
//! views then read media descriptions and attributes lazily from the validated text, so a
//! description has no capacity limit and needs no slots.

use super::attr::{ptime, Attribute, Direction, Fmtp, RtpMap};
use super::line::{number, values_of, Lines};
use super::parse;

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (§5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin<'b> {
    /// The originator's login, `-` when there is none.
    pub username: &'b str,
    /// The session id, a string of digits (kept as text: its size is not bounded by §5.2).
    pub session_id: &'b str,
    /// The version of this session description, incremented on every change (RFC 3264 §8).
    pub session_version: u64,
    /// The network type, `IN`.
    pub nettype: &'b str,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: &'b str,
    /// The originator's address.
    pub address: &'b str,
}

/// `c=<nettype> <addrtype> <connection-address>` (§5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection<'b> {
    /// The network type, `IN`.
    pub nettype: &'b str,
    /// The address type, `IP4` or `IP6`.
    pub addrtype: &'b str,
    /// The address as written, including any multicast `/ttl/count` suffix.
    pub address: &'b str,
}

impl<'b> Connection<'b> {
    /// The address without a multicast `/ttl` or `/count` suffix.
    pub fn host(&self) -> &'b str {
        self.address.split('/').next().unwrap_or(self.address)
    }

    /// Whether this is the RFC 2543 way of putting a call on hold, `0.0.0.0` (RFC 3264
    /// §8.4: to be understood as "do not send to me").
    pub fn is_null(&self) -> bool {
        self.host() == "0.0.0.0"
    }
}

/// `t=<start-time> <stop-time>` (§5.9): NTP seconds, `0 0` for an unbounded session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// The start time, 0 when unbounded.
    pub start: u64,
    /// The stop time, 0 when unbounded.
    pub stop: u64,
}

/// A parsed session description: a view over the caller's bytes.
///
/// ```
/// use sipwire_core::sdp::{Direction, SessionDescription};
/// let sdp = SessionDescription::parse(b"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\n\
/// c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 101\r\n\
/// a=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n")?;
/// assert_eq!(sdp.origin().session_version, 2);
/// let audio = sdp.media().next().unwrap();
/// assert_eq!((audio.media(), audio.port()), ("audio", 49170));
/// assert!(audio.payload_types().eq([0, 101]));
/// assert_eq!(audio.rtpmap(101).unwrap().encoding, "telephone-event");
/// assert_eq!(audio.direction(), Direction::SendOnly);
/// # Ok::<(), sipwire_core::sdp::SdpError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionDescription<'b> {
    pub(crate) text: &'b [u8],
    /// The session-level lines (everything before the first `m=`).
    pub(crate) session: &'b [u8],
    /// From the first `m=` line to the end.
    pub(crate) media_text: &'b [u8],
    pub(crate) media_count: usize,
    pub(crate) origin: Origin<'b>,
    pub(crate) session_name: &'b [u8],
    pub(crate) connection: Option<Connection<'b>>,
    pub(crate) timing: Timing,
}

impl<'b> SessionDescription<'b> {
    /// The protocol version, always 0 (§5.1: anything else is rejected by the parser).
    pub fn version(&self) -> u8 {
        0
    }

    /// The whole text that was parsed.
    pub fn as_bytes(&self) -> &'b [u8] {
        self.text
    }

    /// The `o=` line.
    pub fn origin(&self) -> Origin<'b> {
        self.origin
    }

    /// The `s=` text, as received (any bytes but NUL, CR, LF; `-` or a space by convention).
    pub fn session_name(&self) -> &'b [u8] {
        self.session_name
    }

    /// The session-level `c=` line, if any.
    pub fn connection(&self) -> Option<Connection<'b>> {
        self.connection
    }

    /// The first `t=` line (further time descriptions and `r=`/`z=` are validated and then
    /// ignored).
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The session-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'b>> + Clone {
        values_of(self.session, b'a').filter_map(Attribute::parse)
    }

    /// The session-level direction attribute, if any (the default for every media).
    pub fn direction(&self) -> Option<Direction> {
        direction_in(self.session)
    }

    /// How many media descriptions (`m=` lines) there are.
    pub fn media_count(&self) -> usize {
        self.media_count
    }

    /// The media descriptions, in order.
    pub fn media(&self) -> MediaIter<'b> {
        MediaIter {
            rest: self.media_text,
            session: self.session,
            session_connection: self.connection,
        }
    }
}

/// The first direction attribute of a section.
fn direction_in(section: &[u8]) -> Option<Direction> {
    values_of(section, b'a')
        .filter_map(Attribute::parse)
        .find_map(|a| Direction::from_attribute(&a))
}

/// One media description: its `m=` line (§5.14), its own `c=` and lazily read attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Media<'b> {
    pub(crate) media: &'b str,
    pub(crate) port: u16,
    pub(crate) port_count: Option<u16>,
    pub(crate) proto: &'b str,
    pub(crate) formats: &'b str,
    pub(crate) connection: Option<Connection<'b>>,
    /// The lines after the `m=` line, up to the next `m=`.
    pub(crate) section: &'b [u8],
    /// The session-level lines, for the default direction.
    pub(crate) session: &'b [u8],
    pub(crate) session_connection: Option<Connection<'b>>,
}

impl<'b> Media<'b> {
    /// The media type: `audio`, `video`, `text`, `application`, `message`, or another token.
    pub fn media(&self) -> &'b str {
        self.media
    }

    /// The transport port; 0 means the stream is rejected or disabled (RFC 3264 §6, §8.2).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The number of ports after `/` in `<port>/<number of ports>`, if given.
    pub fn port_count(&self) -> Option<u16> {
        self.port_count
    }

    /// The transport protocol, such as `RTP/AVP`.
    pub fn proto(&self) -> &'b str {
        self.proto
    }

    /// Whether the transport is an RTP profile, so the formats are payload type numbers.
    pub fn is_rtp(&self) -> bool {
        self.proto.starts_with("RTP/")
    }

    /// The media formats in order of preference (§5.14).
    pub fn formats(&self) -> impl Iterator<Item = &'b str> + Clone {
        let formats: &'b str = self.formats;
        formats.split(' ').filter(|f| !f.is_empty())
    }

    /// The formats that are RTP payload type numbers (all of them on an RTP media line).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + Clone + 'b {
        let formats: &'b str = self.formats;
        formats
            .split(' ')
            .filter_map(|f| number(f.as_bytes(), 127))
            // number() bounded it to 127.
            .filter_map(|n| u8::try_from(n).ok())
    }

    /// Whether `pt` is one of the formats.
    pub fn has_payload_type(&self, pt: u8) -> bool {
        self.payload_types().any(|p| p == pt)
    }

    /// The media-level `c=` line, if any (the first one when there are several).
    pub fn connection(&self) -> Option<Connection<'b>> {
        self.connection
    }

    /// Where to send this stream's media: the media-level `c=`, or else the session-level one
    /// (§5.7).
    pub fn effective_connection(&self) -> Option<Connection<'b>> {
        self.connection.or(self.session_connection)
    }

    /// The media-level attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'b>> + Clone {
        values_of(self.section, b'a').filter_map(Attribute::parse)
    }

    /// The values of the attributes called `name`.
    fn values(&self, name: &'static str) -> impl Iterator<Item = &'b [u8]> {
        self.attributes()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value)
    }

    /// The stream's direction: the media-level attribute, else the session-level one, else
    /// `sendrecv` (RFC 4566 §6, RFC 3264 §5.1).
    pub fn direction(&self) -> Direction {
        direction_in(self.section)
            .or_else(|| direction_in(self.session))
            .unwrap_or_default()
    }

    /// The well-formed `rtpmap` attributes.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap<'b>> {
        self.values("rtpmap").filter_map(RtpMap::parse)
    }

    /// The first well-formed `rtpmap` for payload type `pt`, if any (static payload types
    /// often have none, RFC 3551 §6).
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<'b>> {
        self.rtpmaps().find(|m| m.payload_type == pt)
    }

    /// The well-formed `fmtp` attributes.
    pub fn fmtps(&self) -> impl Iterator<Item = Fmtp<'b>> {
        self.values("fmtp").filter_map(Fmtp::parse)
    }

    /// The parameters of the first `fmtp` for payload type `pt`, if any.
    pub fn fmtp(&self, pt: u8) -> Option<&'b [u8]> {
        self.fmtps()
            .find(|f| number(f.format.as_bytes(), 127) == Some(u64::from(pt)))
            .map(|f| f.params)
    }

    /// The `ptime` attribute: milliseconds of media per packet.
    pub fn ptime(&self) -> Option<u32> {
        self.values("ptime").find_map(ptime)
    }
}

/// The media descriptions of a [`SessionDescription`], read lazily from its text.
#[derive(Clone, Debug)]
pub struct MediaIter<'b> {
    rest: &'b [u8],
    session: &'b [u8],
    session_connection: Option<Connection<'b>>,
}

impl<'b> Iterator for MediaIter<'b> {
    type Item = Media<'b>;

    fn next(&mut self) -> Option<Media<'b>> {
        let text = core::mem::take(&mut self.rest);
        let mut lines = Lines::new(text);
        let (_, first) = lines.next()?;
        let line = parse::media_line(first.strip_prefix(b"m=")?)?;
        // The section ends where the next line starting with `m=` begins.
        let mut end = text.len();
        for (at, l) in lines.clone() {
            if l.starts_with(b"m=") {
                end = at;
                break;
            }
        }
        let body_start = lines.next().map_or(end, |(at, _)| at).min(end);
        let section = text.get(body_start..end).unwrap_or(&[]);
        self.rest = text.get(end..).unwrap_or(&[]);
        let connection = values_of(section, b'c').find_map(parse::connection);
        Some(Media {
            media: line.media,
            port: line.port,
            port_count: line.port_count,
            proto: line.proto,
            formats: line.formats,
            connection,
            section,
            session: self.session,
            session_connection: self.session_connection,
        })
    }
}
