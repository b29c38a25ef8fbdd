//! The offer/answer model (RFC 3264) for a user agent: making offers, answering them,
//! checking an answer against its offer, and reading the outcome.

use core::fmt;

use super::attr::{Direction, RtpMap};
use super::codec::{find, Codec};
use super::emit::{Digits, Format, MediaHeader, SdpWriter, SessionHeader};
use super::error::EmitError;
use super::model::{Connection, Media, Origin, SessionDescription, Timing};

/// The transport offered and accepted: plain RTP (RFC 3551). Other profiles (SRTP, AVPF) are
/// rejected in answers. Compared exactly: SDP fields are case-significant (RFC 4566 §5), and
/// `is_rtp` (which decides whether formats are numbers) is too.
const RTP_AVP: &str = "RTP/AVP";

/// This UA's side of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalMedia<'a> {
    /// The `o=` user name; `-` when there is none (RFC 4566 §5.2).
    pub username: &'a str,
    /// The `o=` session id: chosen once per session, for example from the seeded generator
    /// (RFC 4566 §5.2), and kept for every later offer and answer (RFC 3264 §8).
    pub session_id: u64,
    /// The IPv4 or IPv6 address media is received on, for `o=` and `c=`.
    pub address: &'a str,
    /// The streams this UA can run, in the order it offers them.
    pub streams: &'a [LocalStream<'a>],
}

/// One stream this UA can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalStream<'a> {
    /// The media type, such as `audio`; codecs of the same media type go on its `m=` line.
    pub media: &'a str,
    /// The RTP port media is received on; 0 disables the stream.
    pub port: u16,
    /// What this UA is willing to do (its policy): `sendrecv` normally, `sendonly` or
    /// `inactive` to hold (RFC 3264 §8.4, see [`Direction::hold`]).
    pub direction: Direction,
    /// The `ptime` to ask for, if any.
    pub ptime: Option<u32>,
}

/// Why an answer could not be made, or an answer does not fit its offer.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferAnswerError {
    /// No offered stream can be accepted (no common codec, transport or media type); a UAS
    /// answers the offer with 488 Not Acceptable Here (RFC 3261 §13.3.1.3, §14.2, §21.4.26). From
    /// [`check_answer`]: the answer accepts no stream.
    NotAcceptable,
    /// The answer could not be written.
    Emit(EmitError),
    /// The answer does not have one `m=` line per offered one (RFC 3264 §6).
    MediaCount {
        /// `m=` lines in the offer.
        offered: usize,
        /// `m=` lines in the answer.
        answered: usize,
    },
    /// Answer `m=` line `index` (from 0) has another media type or transport than the
    /// offered one, or accepts a stream the offer disabled (RFC 3264 §6).
    MediaMismatch {
        /// The position of the `m=` line.
        index: usize,
    },
    /// Answer `m=` line `index` lists a format the offer did not (RFC 3264 §6.1).
    FormatNotOffered {
        /// The position of the `m=` line.
        index: usize,
    },
    /// Answer `m=` line `index` sends to an offerer that does not receive, or receives from
    /// one that does not send (RFC 3264 §6.1).
    DirectionMismatch {
        /// The position of the `m=` line.
        index: usize,
    },
}

impl OfferAnswerError {
    /// The status code a UAS answers an INVITE (or re-INVITE) with when [`answer`] fails:
    /// 488 when nothing is acceptable, 500 when the answer could not be written. `None` for
    /// the errors of [`check_answer`], which a UAC handles itself: there is no request left
    /// to reject, so it ends the session with BYE after the ACK (as RFC 3261 §13.2.2.4 has
    /// it do for an unacceptable offer in a 2xx).
    pub fn status_code(&self) -> Option<u16> {
        match self {
            OfferAnswerError::NotAcceptable => Some(488),
            OfferAnswerError::Emit(_) => Some(500),
            _ => None,
        }
    }
}

impl From<EmitError> for OfferAnswerError {
    fn from(e: EmitError) -> Self {
        OfferAnswerError::Emit(e)
    }
}

impl fmt::Display for OfferAnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfferAnswerError::NotAcceptable => f.write_str("no acceptable media stream"),
            OfferAnswerError::Emit(e) => write!(f, "{e}"),
            OfferAnswerError::MediaCount { offered, answered } => {
                write!(f, "{answered} m= lines answer {offered} offered")
            }
            OfferAnswerError::MediaMismatch { index } => write!(f, "m= line {index} mismatched"),
            OfferAnswerError::FormatNotOffered { index } => {
                write!(f, "m= line {index} has a format that was not offered")
            }
            OfferAnswerError::DirectionMismatch { index } => {
                write!(f, "m= line {index} has an incompatible direction")
            }
        }
    }
}

impl core::error::Error for OfferAnswerError {}

/// Starts a description with this UA's `o=`, `s=-`, session `c=` and `t=`.
fn start<'o>(
    local: &LocalMedia<'_>,
    version: u64,
    timing: Timing,
    out: &'o mut [u8],
) -> Result<SdpWriter<'o>, EmitError> {
    let id = Digits::new(local.session_id);
    let addrtype = if local.address.contains(':') {
        "IP6"
    } else {
        "IP4"
    };
    let header = SessionHeader {
        origin: Origin {
            username: local.username,
            session_id: id.as_str(),
            session_version: version,
            nettype: "IN",
            addrtype,
            address: local.address,
        },
        session_name: b"-",
        connection: Some(Connection {
            nettype: "IN",
            addrtype,
            address: local.address,
        }),
        timing,
    };
    SdpWriter::new(out, &header)
}

/// The codecs of `media` numbered for an offer: static ones by their number, dynamic ones
/// from 96 upwards in table order (at most 32 of them).
fn numbered<'c>(
    codecs: &'c [Codec],
    media: &'c str,
) -> impl Iterator<Item = (u8, &'c Codec)> + Clone {
    codecs
        .iter()
        .filter(move |c| c.media.eq_ignore_ascii_case(media))
        .scan(96u8, |next, c| {
            Some(match c.static_pt {
                Some(pt) if pt < 96 => Some((pt, c)),
                _ if *next > 127 => None,
                _ => {
                    *next += 1;
                    Some((*next - 1, c))
                }
            })
        })
        .flatten()
}

/// Writes the attributes of an accepted or offered stream: `rtpmap` where the number is not
/// the codec's static one, `fmtp`, `ptime` and the direction.
fn stream_attributes<'c>(
    w: &mut SdpWriter<'_>,
    formats: impl Iterator<Item = (u8, &'c Codec)>,
    ptime: Option<u32>,
    direction: Direction,
) -> Result<(), EmitError> {
    for (pt, c) in formats {
        if c.static_pt != Some(pt) {
            w.rtpmap(&c.rtpmap(pt))?;
        }
        if let Some(params) = c.fmtp {
            w.fmtp(pt, params.as_bytes())?;
        }
    }
    if let Some(ms) = ptime {
        w.ptime(ms)?;
    }
    w.direction(direction)
}

/// Writes an offer (RFC 3264 §5): one `RTP/AVP` `m=` line per local stream with every codec
/// of its media type, `rtpmap` for dynamic payload types, `fmtp` where set, and the stream's
/// direction.
///
/// `version` is the `o=` session version: a new offer in the same session must use the
/// previous description's version plus one when anything changed (RFC 3264 §8), for example
/// to put the call on hold with [`Direction::hold`] (§8.4). A stream whose media type has no
/// codec is [`EmitError::InvalidField`].
pub fn offer<'o>(
    local: &LocalMedia<'_>,
    codecs: &[Codec],
    version: u64,
    out: &'o mut [u8],
) -> Result<&'o [u8], EmitError> {
    let mut w = start(local, version, Timing::default(), out)?;
    for s in local.streams {
        let formats = numbered(codecs, s.media);
        let header = MediaHeader {
            media: s.media,
            port: s.port,
            port_count: None,
            proto: RTP_AVP,
            connection: None,
        };
        w.media(&header, formats.clone().map(|(pt, _)| Format::Pt(pt)))?;
        stream_attributes(&mut w, formats, s.ptime, s.direction)?;
    }
    Ok(w.finish())
}

/// The offered formats of `m` this UA supports, in the offer's order, without repeats.
fn accepted<'c, 'b: 'c>(
    m: Media<'b>,
    codecs: &'c [Codec],
) -> impl Iterator<Item = (u8, &'c Codec)> + Clone + 'c {
    m.payload_types()
        .scan(0u128, |seen, pt| {
            let bit = 1u128 << (pt & 127);
            let fresh = *seen & bit == 0;
            *seen |= bit;
            Some(fresh.then_some(pt))
        })
        .flatten()
        .filter_map(move |pt| find(codecs, &m, pt).map(|c| (pt, c)))
}

/// Writes an answer to `offer` (RFC 3264 §6).
///
/// - One `m=` line per offered one, in the same order (§6). A stream is accepted when it is
///   `RTP/AVP` on a non-zero port, a local stream of its media type is free (each local
///   stream answers one offered stream), and at least one of its formats is a codec other
///   than telephone-event; otherwise it is rejected with port 0 and the offered formats.
/// - An accepted stream keeps the offer's format order restricted to `supported`, reusing
///   the offer's payload type numbers (§6.1); telephone-event only comes with a real codec.
/// - Its direction is what the local policy allows of the reverse of the offered one:
///   `sendonly` → `recvonly`, `recvonly` → `sendonly`, `inactive` → `inactive` (§6.1). An
///   offer with `c=` 0.0.0.0 does not want to receive (the RFC 2543 hold, §8.4).
/// - `o=` carries this UA's session id and `version`; `t=` is the offer's (§6).
///
/// [`OfferAnswerError::NotAcceptable`] when the offer has media and none can be accepted:
/// answer the request with 488 ([`OfferAnswerError::status_code`]).
pub fn answer<'o>(
    offer: &SessionDescription<'_>,
    supported: &[Codec],
    local: &LocalMedia<'_>,
    version: u64,
    out: &'o mut [u8],
) -> Result<&'o [u8], OfferAnswerError> {
    let mut w = start(local, version, offer.timing(), out)?;
    let mut used = 0u32;
    let mut any = false;
    for m in offer.media() {
        let pick = local
            .streams
            .iter()
            .take(32)
            .enumerate()
            .find(|(i, s)| {
                used & (1 << i) == 0 && s.port != 0 && s.media.eq_ignore_ascii_case(m.media())
            })
            .filter(|_| m.port() != 0 && m.proto() == RTP_AVP)
            .filter(|_| accepted(m, supported).any(|(_, c)| !c.is_telephone_event()));
        let Some((i, s)) = pick else {
            // Rejected (§6): port 0, the offered formats, no attributes.
            let header = MediaHeader {
                media: m.media(),
                port: 0,
                port_count: None,
                proto: m.proto(),
                connection: None,
            };
            w.media(&header, m.formats().map(Format::Token))?;
            continue;
        };
        used |= 1 << i;
        any = true;
        let mut offered = m.direction();
        if m.effective_connection().is_some_and(|c| c.is_null()) {
            offered = Direction::from_flags(offered.sends(), false);
        }
        let direction = Direction::from_flags(
            s.direction.sends() && offered.receives(),
            s.direction.receives() && offered.sends(),
        );
        let header = MediaHeader {
            media: m.media(),
            port: s.port,
            port_count: None,
            proto: m.proto(),
            connection: None,
        };
        w.media(
            &header,
            accepted(m, supported).map(|(pt, _)| Format::Pt(pt)),
        )?;
        stream_attributes(&mut w, accepted(m, supported), s.ptime, direction)?;
    }
    if !any && offer.media_count() > 0 {
        return Err(OfferAnswerError::NotAcceptable);
    }
    Ok(w.finish())
}

/// Whether payload type `pt` of answer stream `am` was offered in `om`: the same number
/// (for a dynamic one, with the same encoding when both say), or a dynamic format the answer
/// renumbered (RFC 3264 §6.1 only says SHOULD about keeping the numbers).
fn offered(om: &Media<'_>, am: &Media<'_>, pt: u8) -> bool {
    let amap = am.rtpmap(pt);
    let same = |o: &RtpMap<'_>| amap.is_some_and(|a| o.is(a.encoding, a.clock_rate, a.channels));
    (om.has_payload_type(pt)
        && (pt < 96 || amap.is_none() || om.rtpmap(pt).is_none_or(|o| same(&o))))
        || om
            .rtpmaps()
            .any(|o| om.has_payload_type(o.payload_type) && same(&o))
}

/// Checks an answer against the offer it answers (RFC 3264 §6, §6.1): as many `m=` lines,
/// the same media type and transport on each, formats of accepted streams among the offered
/// ones, compatible directions, and at least one accepted stream when anything was offered.
pub fn check_answer(
    offer: &SessionDescription<'_>,
    answer: &SessionDescription<'_>,
) -> Result<(), OfferAnswerError> {
    if offer.media_count() != answer.media_count() {
        return Err(OfferAnswerError::MediaCount {
            offered: offer.media_count(),
            answered: answer.media_count(),
        });
    }
    let mut any = false;
    for (index, (om, am)) in offer.media().zip(answer.media()).enumerate() {
        if !om.media().eq_ignore_ascii_case(am.media()) {
            return Err(OfferAnswerError::MediaMismatch { index });
        }
        if am.port() == 0 {
            continue;
        }
        if om.port() == 0 || om.proto() != am.proto() {
            return Err(OfferAnswerError::MediaMismatch { index });
        }
        let ok = if am.is_rtp() {
            am.payload_types().all(|pt| offered(&om, &am, pt))
        } else {
            am.formats().all(|f| om.formats().any(|o| o == f))
        };
        if !ok {
            return Err(OfferAnswerError::FormatNotOffered { index });
        }
        let (od, ad) = (om.direction(), am.direction());
        if (ad.sends() && !od.receives()) || (ad.receives() && !od.sends()) {
            return Err(OfferAnswerError::DirectionMismatch { index });
        }
        any = true;
    }
    if !any && offer.media_count() > 0 {
        return Err(OfferAnswerError::NotAcceptable);
    }
    Ok(())
}

/// Where one side receives a stream's RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpEndpoint<'b> {
    /// The `c=` address (without a multicast suffix).
    pub address: &'b str,
    /// The `m=` port.
    pub port: u16,
}

/// The outcome of an offer/answer exchange for the first stream that has a common codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated<'b> {
    /// The position of the stream's `m=` line, from 0.
    pub media_index: usize,
    /// The codec: the first of the answer's formats that is supported and was offered.
    pub codec: Codec,
    /// Its payload type number in the answer (the offer's number when the answer reused it,
    /// as [`answer`] does).
    pub payload_type: u8,
    /// The payload type of telephone-event if both sides agreed on it.
    pub telephone_event: Option<u8>,
    /// Where the offerer receives: the remote end for the answerer.
    pub offerer: RtpEndpoint<'b>,
    /// Where the answerer receives: the remote end for the offerer.
    pub answerer: RtpEndpoint<'b>,
    /// The stream's direction as the answerer sees it (the offerer's is its
    /// [`reverse`](Direction::reverse)).
    pub direction: Direction,
}

/// Reads what an offer and its answer agreed on: the first accepted stream whose answer
/// lists a supported, offered codec other than telephone-event. `None` when there is none.
pub fn negotiated<'b>(
    offer: &SessionDescription<'b>,
    answer: &SessionDescription<'b>,
    supported: &[Codec],
) -> Option<Negotiated<'b>> {
    for (media_index, (om, am)) in offer.media().zip(answer.media()).enumerate() {
        if om.port() == 0 || am.port() == 0 {
            continue;
        }
        let mut chosen = None;
        let mut telephone_event = None;
        for pt in am.payload_types().filter(|&pt| offered(&om, &am, pt)) {
            match find(supported, &am, pt) {
                Some(c) if c.is_telephone_event() => {
                    telephone_event = telephone_event.or(Some(pt));
                }
                Some(c) => chosen = chosen.or(Some((pt, *c))),
                None => {}
            }
        }
        let (Some((payload_type, codec)), Some(oc), Some(ac)) =
            (chosen, om.effective_connection(), am.effective_connection())
        else {
            continue;
        };
        return Some(Negotiated {
            media_index,
            codec,
            payload_type,
            telephone_event,
            offerer: RtpEndpoint {
                address: oc.host(),
                port: om.port(),
            },
            answerer: RtpEndpoint {
                address: ac.host(),
                port: am.port(),
            },
            direction: am.direction(),
        });
    }
    None
}
