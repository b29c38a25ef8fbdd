//! The parser (RFC 4566 §5): one pass over the lines, checking each against its grammar
//! (§9) and against the order of §5.
//!
//! What is accepted beyond the letter of the RFC, on purpose: LF line ends (§5 asks for
//! that), a last line without a line end, blank lines at the very end, trailing spaces after
//! structured fields, an empty `s=`, a session id that is not all digits, and a rejected media description (port 0) without any
//! `c=`. Everything else that breaks §5 or §9 is an [`SdpError`] naming the line.

use super::attr::Attribute;
use super::error::{SdpError, SdpErrorKind};
use super::line::{is_format, is_proto, is_text, is_token, non_ws, number, split, token_str};
use super::line::{Fields, Lines};
use super::model::{Connection, Origin, SessionDescription, Timing};

/// The fields of an `m=` line (§5.14).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MediaLine<'b> {
    pub(crate) media: &'b str,
    pub(crate) port: u16,
    pub(crate) port_count: Option<u16>,
    pub(crate) proto: &'b str,
    /// The format list as written (validated: tokens separated by single spaces).
    pub(crate) formats: &'b str,
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (§5.14). On the RTP profiles the
/// formats must be payload type numbers.
pub(crate) fn media_line(v: &[u8]) -> Option<MediaLine<'_>> {
    let mut f = Fields::new(v);
    let media = token_str(f.next()?)?;
    let port_field = f.next()?;
    let (port, count) = match port_field.iter().position(|&b| b == b'/') {
        Some(i) => (&port_field[..i], Some(&port_field[i + 1..])),
        None => (port_field, None),
    };
    let port = u16::try_from(number(port, 65535)?).ok()?;
    let port_count = match count {
        Some(c) => Some(u16::try_from(number(c, 65535)?).ok()?),
        None => None,
    };
    let proto = f.next()?;
    if !is_proto(proto) {
        return None;
    }
    let formats = f.rest();
    let mut any = false;
    for fmt in f {
        if !is_format(proto, fmt) {
            return None;
        }
        any = true;
    }
    if !any {
        return None;
    }
    Some(MediaLine {
        media,
        port,
        port_count,
        proto: core::str::from_utf8(proto).ok()?,
        formats: core::str::from_utf8(formats).ok()?,
    })
}

/// `c=<nettype> <addrtype> <connection-address>` (§5.7).
pub(crate) fn connection(v: &[u8]) -> Option<Connection<'_>> {
    let mut f = Fields::new(v);
    let c = Connection {
        nettype: token_str(f.next()?)?,
        addrtype: token_str(f.next()?)?,
        address: non_ws(f.next()?)?,
    };
    f.next().is_none().then_some(c)
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (§5.2).
/// The session id is only compared, never interpreted, so any `non-ws-string` is taken
/// rather than only the `1*DIGIT` of §9.
fn parse_origin(v: &[u8]) -> Option<Origin<'_>> {
    let mut f = Fields::new(v);
    let o = Origin {
        username: non_ws(f.next()?)?,
        session_id: non_ws(f.next()?)?,
        session_version: number(f.next()?, u64::MAX)?,
        nettype: token_str(f.next()?)?,
        addrtype: token_str(f.next()?)?,
        address: non_ws(f.next()?)?,
    };
    f.next().is_none().then_some(o)
}

/// `t=<start-time> <stop-time>` (§5.9).
fn parse_timing(v: &[u8]) -> Option<Timing> {
    let mut f = Fields::new(v);
    let t = Timing {
        start: number(f.next()?, u64::MAX)?,
        stop: number(f.next()?, u64::MAX)?,
    };
    f.next().is_none().then_some(t)
}

/// `b=<bwtype>:<bandwidth>` (§5.8).
fn bandwidth(v: &[u8]) -> bool {
    match v.iter().position(|&b| b == b':') {
        Some(i) => is_token(&v[..i]) && number(&v[i + 1..], u64::MAX).is_some(),
        None => false,
    }
}

/// `r=` (§5.10, at least three typed times) and `z=` (§5.11, pairs of adjustment time and
/// signed typed offset): fields of digits with an optional `d`/`h`/`m`/`s` unit.
fn times(v: &[u8], min: usize, signed: bool) -> bool {
    let mut n = 0;
    for field in Fields::new(v) {
        let field = match field {
            [b'-', rest @ ..] if signed => rest,
            f => f,
        };
        let digits = match field {
            [d @ .., b'd' | b'h' | b'm' | b's'] => d,
            d => d,
        };
        if number(digits, u64::MAX).is_none() {
            return false;
        }
        n += 1;
    }
    n >= min && (!signed || n % 2 == 0)
}

/// The position of a line type in the order of §5, and whether it may repeat there. `None`
/// for a known type that has no place at this level, or an unknown one.
fn rank(kind: u8, in_media: bool) -> Option<(u8, bool)> {
    Some(match (kind, in_media) {
        (b'm', _) => (13, true),
        (b'i', true) => (14, false),
        (b'c', true) => (15, true),
        (b'b', true) => (16, true),
        (b'k', true) => (17, false),
        (b'a', true) => (18, true),
        (_, true) => return None,
        (b'v', false) => (0, false),
        (b'o', false) => (1, false),
        (b's', false) => (2, false),
        (b'i', false) => (3, false),
        (b'u', false) => (4, false),
        (b'e', false) => (5, true),
        (b'p', false) => (6, true),
        (b'c', false) => (7, false),
        (b'b', false) => (8, true),
        // A time description is `t=` followed by its `r=` lines, repeated (§5).
        (b't' | b'r', false) => (9, true),
        (b'z', false) => (10, false),
        (b'k', false) => (11, false),
        (b'a', false) => (12, true),
        _ => return None,
    })
}

/// The required line (§5: `o=`, `s=`, at least one `t=`) that should have come before a
/// line of rank `r` and has not.
fn missing(r: u8, origin: bool, name: bool, time: bool) -> Option<u8> {
    [(1, origin, b'o'), (2, name, b's'), (9, time, b't')]
        .into_iter()
        .find(|&(at, present, _)| r > at && !present)
        .map(|(_, _, letter)| letter)
}

/// An `m=` line whose description is still being read.
struct OpenMedia {
    line: usize,
    port: u16,
    has_connection: bool,
}

impl OpenMedia {
    /// §5.7: a media description needs a `c=` unless the session has one. A rejected stream
    /// (port 0) carries no media, so its address is not needed.
    fn close(&self, session_connection: bool) -> Result<(), SdpError> {
        if self.port != 0 && !self.has_connection && !session_connection {
            return Err(SdpError {
                line: self.line,
                kind: SdpErrorKind::MissingConnection,
            });
        }
        Ok(())
    }
}

impl<'b> SessionDescription<'b> {
    /// Parses and validates a whole session description (for example a SIP body with
    /// Content-Type `application/sdp`).
    ///
    /// Every line is checked once, here; the accessors then read the validated text. There
    /// is no capacity limit: media descriptions and attributes are not stored.
    pub fn parse(text: &'b [u8]) -> Result<Self, SdpError> {
        use SdpErrorKind::*;
        let err = |line, kind| Err(SdpError { line, kind });
        let mut no = 0;
        let mut seen_version = false;
        let mut last = 0u8;
        let mut blank = None;
        let mut origin = None;
        let mut name = None;
        let mut session_connection = None;
        let mut time = None;
        let mut media_at = None;
        let mut media_count = 0usize;
        let mut open: Option<OpenMedia> = None;

        for (at, line) in Lines::new(text) {
            no += 1;
            if line.is_empty() {
                blank.get_or_insert(no);
                continue;
            }
            if let Some(b) = blank {
                return err(b, BadLine);
            }
            let parsed = split(line).filter(|_| is_text(line));
            if !seen_version {
                match parsed {
                    Some((b'v', v)) if Fields::new(v).eq([&b"0"[..]]) => {}
                    Some((b'v', _)) => return err(no, BadVersion),
                    _ => return err(no, MissingVersion),
                }
                seen_version = true;
                continue;
            }
            let Some((kind, value)) = parsed else {
                return err(no, BadLine);
            };
            let Some((r, repeats)) = rank(kind, open.is_some()) else {
                return err(
                    no,
                    if b"vosiuepcbtrzkam".contains(&kind) {
                        OutOfOrder(kind)
                    } else {
                        UnknownType(kind)
                    },
                );
            };
            // `m=` starts a media description after any line; the others keep §5's order.
            if (r < last && kind != b'm') || (kind == b'r' && last != 9) {
                return err(no, OutOfOrder(kind));
            }
            if r == last && !repeats {
                return err(no, Repeated(kind));
            }
            if let Some(letter) = missing(r, origin.is_some(), name.is_some(), time.is_some()) {
                return err(no, Missing(letter));
            }
            last = r;
            let ok = match kind {
                b'o' => {
                    origin = parse_origin(value);
                    origin.is_some()
                }
                b's' => {
                    name = Some(value);
                    true
                }
                b'c' => match (connection(value), open.as_mut()) {
                    (None, _) => false,
                    (Some(_), Some(m)) => {
                        m.has_connection = true;
                        true
                    }
                    (Some(c), None) => {
                        session_connection = Some(c);
                        true
                    }
                },
                b'b' => bandwidth(value),
                b't' => {
                    let t = parse_timing(value);
                    time = time.or(t);
                    t.is_some()
                }
                b'r' => times(value, 3, false),
                b'z' => times(value, 2, true),
                b'a' => Attribute::parse(value).is_some(),
                b'm' => {
                    match &open {
                        Some(m) => m.close(session_connection.is_some())?,
                        None => media_at = Some(at),
                    }
                    media_count += 1;
                    let m = media_line(value);
                    open = m.map(|m| OpenMedia {
                        line: no,
                        port: m.port,
                        has_connection: false,
                    });
                    m.is_some()
                }
                // i= u= e= p= k=: free text, already checked for NUL and CR.
                _ => true,
            };
            if !ok {
                return err(no, Malformed(kind));
            }
        }

        if !seen_version {
            return err(1, MissingVersion);
        }
        let (Some(origin), Some(session_name), Some(timing)) = (origin, name, time) else {
            let letter = missing(u8::MAX, origin.is_some(), name.is_some(), time.is_some());
            return err(no + 1, Missing(letter.unwrap_or(b'o')));
        };
        if let Some(m) = &open {
            m.close(session_connection.is_some())?;
        }
        let split_at = media_at.unwrap_or(text.len());
        Ok(SessionDescription {
            text,
            session: text.get(..split_at).unwrap_or(text),
            media_text: text.get(split_at..).unwrap_or(&[]),
            media_count,
            origin,
            session_name,
            connection: session_connection,
            timing,
        })
    }
}
