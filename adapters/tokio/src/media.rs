//! The session descriptions a call sends (RFC 3264 offers and answers written by
//! [`sipwire_core::sdp`]) and what a finished exchange agreed on.

use std::net::{IpAddr, SocketAddr};

use sipwire_core::sdp::{
    self, Codec, Direction, LocalMedia, LocalStream, OfferAnswerError, SessionDescription,
    DEFAULT_CODECS,
};

/// What this user agent's media can do: where it receives RTP and which codecs it runs, in
/// order of preference. sipwire does SIP; the application (or nothing) handles RTP there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaConfig {
    /// The address written in `c=` and `o=`; `None`: the UA's own address.
    pub address: Option<IpAddr>,
    /// The RTP port written in `m=`.
    pub rtp_port: u16,
    /// The codecs, in the order offered (PCMU, PCMA, G.729, telephone-event by default).
    pub codecs: Vec<Codec>,
    /// The `ptime` asked for, in milliseconds.
    pub ptime: Option<u32>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            address: None,
            rtp_port: 40000,
            codecs: DEFAULT_CODECS.to_vec(),
            ptime: Some(20),
        }
    }
}

/// What an offer/answer exchange agreed on for the call's audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Media {
    /// The codec: the first supported one of the answer (RFC 3264 §6.1).
    pub codec: Codec,
    /// Its RTP payload type.
    pub payload_type: u8,
    /// telephone-event's payload type (RFC 4733), when both sides agreed on it.
    pub telephone_event: Option<u8>,
    /// Where the peer receives RTP, when its description names an address.
    pub remote_rtp: Option<SocketAddr>,
    /// The stream's direction from our side: `SendRecv` normally, `SendOnly` while we hold
    /// the peer, `RecvOnly` while the peer holds us (RFC 3264 §8.4).
    pub direction: Direction,
}

/// One call's session: its `o=` id and version (RFC 3264 §8: the version goes up with every
/// new description we send).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) version: u64,
}

impl Session {
    pub(crate) fn new(id: u64) -> Session {
        Session { id, version: id }
    }

    fn next_version(&mut self) -> u64 {
        let v = self.version;
        self.version += 1;
        v
    }
}

/// What the UA writes its descriptions from.
#[derive(Clone, Debug)]
pub(crate) struct LocalSide {
    pub(crate) config: MediaConfig,
    pub(crate) address: String,
}

impl LocalSide {
    pub(crate) fn new(config: MediaConfig, local: IpAddr) -> LocalSide {
        let address = config.address.unwrap_or(local).to_string();
        LocalSide { config, address }
    }

    fn with_media<R>(
        &self,
        session: &Session,
        direction: Direction,
        f: impl FnOnce(&LocalMedia<'_>) -> R,
    ) -> R {
        let streams = [LocalStream {
            media: "audio",
            port: self.config.rtp_port,
            direction,
            ptime: self.config.ptime,
        }];
        let local = LocalMedia {
            username: "-",
            session_id: session.id,
            address: &self.address,
            streams: &streams,
        };
        f(&local)
    }

    /// A new offer in `direction` (sendrecv; sendonly to hold, RFC 3264 §8.4).
    pub(crate) fn offer(&self, session: &mut Session, direction: Direction) -> Vec<u8> {
        let version = session.next_version();
        let mut buf = vec![0u8; 2048];
        self.with_media(session, direction, |local| {
            sdp::offer(local, &self.config.codecs, version, &mut buf).map(<[u8]>::to_vec)
        })
        // The buffer holds any offer of a handful of codecs; more is a configuration error
        // the first call reports as an empty offer, which the peer then answers in the 2xx.
        .unwrap_or_default()
    }

    /// Our answer to `offer`, willing to do `direction`; `NotAcceptable` → 488.
    pub(crate) fn answer(
        &self,
        session: &mut Session,
        offer: &[u8],
        direction: Direction,
    ) -> Result<Vec<u8>, OfferAnswerError> {
        let offer =
            SessionDescription::parse(offer).map_err(|_| OfferAnswerError::NotAcceptable)?;
        let version = session.next_version();
        let mut buf = vec![0u8; 2048];
        self.with_media(session, direction, |local| {
            sdp::answer(&offer, &self.config.codecs, local, version, &mut buf).map(<[u8]>::to_vec)
        })
    }

    /// What `offer` and `answer` agreed on; `we_answered` says whose our side is.
    pub(crate) fn negotiated(
        &self,
        offer: &[u8],
        answer: &[u8],
        we_answered: bool,
    ) -> Option<Media> {
        let o = SessionDescription::parse(offer).ok()?;
        let a = SessionDescription::parse(answer).ok()?;
        let n = sdp::negotiated(&o, &a, &self.config.codecs)?;
        let (remote, direction) = if we_answered {
            (n.offerer, n.direction)
        } else {
            (n.answerer, n.direction.reverse())
        };
        let remote_rtp = remote
            .address
            .parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, remote.port));
        Some(Media {
            codec: n.codec,
            payload_type: n.payload_type,
            telephone_event: n.telephone_event,
            remote_rtp,
            direction,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_answer_and_hold_round_trip() {
        let alice = LocalSide::new(MediaConfig::default(), "127.0.0.1".parse().unwrap());
        let bob = LocalSide::new(
            MediaConfig {
                codecs: vec![Codec::PCMA, Codec::TELEPHONE_EVENT],
                rtp_port: 50000,
                ..MediaConfig::default()
            },
            "127.0.0.2".parse().unwrap(),
        );
        let (mut sa, mut sb) = (Session::new(10), Session::new(20));
        let offer = alice.offer(&mut sa, Direction::SendRecv);
        let answer = bob.answer(&mut sb, &offer, Direction::SendRecv).unwrap();
        let at_alice = alice.negotiated(&offer, &answer, false).unwrap();
        let at_bob = bob.negotiated(&offer, &answer, true).unwrap();
        assert_eq!(at_alice.codec, Codec::PCMA);
        assert_eq!(at_alice.payload_type, 8);
        assert_eq!(at_alice.telephone_event, at_bob.telephone_event);
        assert!(at_alice.telephone_event.is_some());
        assert_eq!(
            at_alice.remote_rtp,
            Some("127.0.0.2:50000".parse().unwrap())
        );
        assert_eq!(at_bob.remote_rtp, Some("127.0.0.1:40000".parse().unwrap()));
        // Hold (RFC 3264 §8.4): Alice offers sendonly, Bob answers recvonly; o= version up.
        let hold = alice.offer(&mut sa, Direction::SendOnly);
        let o1 = SessionDescription::parse(&offer).unwrap().origin();
        let o2 = SessionDescription::parse(&hold).unwrap().origin();
        assert_eq!(o2.session_version, o1.session_version + 1);
        let held = bob.answer(&mut sb, &hold, Direction::SendRecv).unwrap();
        assert_eq!(
            alice.negotiated(&hold, &held, false).unwrap().direction,
            Direction::SendOnly
        );
        assert_eq!(
            bob.negotiated(&hold, &held, true).unwrap().direction,
            Direction::RecvOnly
        );
        // No common codec: NotAcceptable (the UA answers 488).
        let g729 = LocalSide::new(
            MediaConfig {
                codecs: vec![Codec::G729],
                ..MediaConfig::default()
            },
            "127.0.0.3".parse().unwrap(),
        );
        assert_eq!(
            g729.answer(&mut Session::new(1), &answer, Direction::SendRecv),
            Err(OfferAnswerError::NotAcceptable)
        );
    }
}
