//! The codecs a UA supports, and how an offered format is matched to one.
//!
//! Matching rules:
//! - A static payload type (RFC 3551 §6, numbers below 96) matches by its number, whether or
//!   not an `rtpmap` restates it (RFC 4566 §6 makes `rtpmap` optional for them).
//! - Any payload type with an `rtpmap` matches a codec of the same encoding name (compared
//!   case-insensitively, RFC 4855 §3), clock rate and channel count. A dynamic payload type
//!   (96–127, RFC 3551 §3) matches only that way.

use super::attr::RtpMap;
use super::model::Media;

/// A codec the UA can send and receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    /// The media type of the `m=` lines it goes on, such as `audio`.
    pub media: &'static str,
    /// The RTP encoding name, as in `rtpmap` (RFC 3551 §6, RFC 4733 §7).
    pub name: &'static str,
    /// The RTP clock rate in Hz.
    pub clock: u32,
    /// The number of channels (1 for telephony audio; 1 is also used for video).
    pub channels: u8,
    /// The static payload type of RFC 3551 §6, or `None` for a dynamic one. A dynamic codec
    /// gets the offerer's number in an answer, and the next free number from 96 in an offer.
    pub static_pt: Option<u8>,
    /// Parameters for `a=fmtp`, written in offers and answers when set.
    pub fmtp: Option<&'static str>,
}

impl Codec {
    /// G.711 µ-law, static payload type 0.
    pub const PCMU: Codec = Codec::audio("PCMU", Some(0), None);
    /// G.711 A-law, static payload type 8.
    pub const PCMA: Codec = Codec::audio("PCMA", Some(8), None);
    /// G.729, static payload type 18.
    pub const G729: Codec = Codec::audio("G729", Some(18), None);
    /// DTMF events (RFC 4733 §7.1.1), dynamic, digits and `*` `#` `A`–`D` and flash.
    pub const TELEPHONE_EVENT: Codec = Codec::audio("telephone-event", None, Some("0-16"));

    /// An 8 kHz mono audio codec.
    pub const fn audio(
        name: &'static str,
        static_pt: Option<u8>,
        fmtp: Option<&'static str>,
    ) -> Self {
        Codec {
            media: "audio",
            name,
            clock: 8000,
            channels: 1,
            static_pt,
            fmtp,
        }
    }

    /// Whether this is `telephone-event` (RFC 4733), which is only useful next to a real
    /// audio codec.
    pub fn is_telephone_event(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// Whether payload type `pt`, described by `rtpmap` if the media description has one,
    /// is this codec (the rules of the module documentation).
    pub fn matches(&self, pt: u8, rtpmap: Option<&RtpMap<'_>>) -> bool {
        (pt < 96 && self.static_pt == Some(pt))
            || rtpmap.is_some_and(|m| m.is(self.name, self.clock, self.channels))
    }

    /// The `rtpmap` describing this codec as payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> RtpMap<'static> {
        RtpMap {
            payload_type: pt,
            encoding: self.name,
            clock_rate: self.clock,
            channels: self.channels,
        }
    }
}

/// What a small SIP phone supports: PCMU, PCMA, G.729 and telephone-event.
pub const DEFAULT_CODECS: [Codec; 4] = [
    Codec::PCMU,
    Codec::PCMA,
    Codec::G729,
    Codec::TELEPHONE_EVENT,
];

/// The first codec of `codecs` that payload type `pt` of media description `m` is.
pub fn find<'c>(codecs: &'c [Codec], m: &Media<'_>, pt: u8) -> Option<&'c Codec> {
    let map = m.rtpmap(pt);
    codecs
        .iter()
        .find(|c| c.media.eq_ignore_ascii_case(m.media()) && c.matches(pt, map.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let te = RtpMap {
            payload_type: 101,
            encoding: "TELEPHONE-EVENT",
            clock_rate: 8000,
            channels: 1,
        };
        assert!(Codec::PCMU.matches(0, None));
        assert!(!Codec::PCMU.matches(8, None));
        assert!(Codec::TELEPHONE_EVENT.matches(101, Some(&te)));
        assert!(!Codec::TELEPHONE_EVENT.matches(101, None));
        let wideband = RtpMap {
            clock_rate: 16000,
            ..te
        };
        assert!(!Codec::TELEPHONE_EVENT.matches(101, Some(&wideband)));
        let pcmu_dynamic = RtpMap {
            encoding: "pcmu",
            ..te
        };
        assert!(Codec::PCMU.matches(101, Some(&pcmu_dynamic)));
        // A dynamic number never matches a codec by number.
        let odd = Codec {
            static_pt: Some(100),
            ..Codec::PCMU
        };
        assert!(!odd.matches(100, None));
    }
}
