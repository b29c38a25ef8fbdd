//! Fuzzes the SDP parser and the offer/answer code: any input either fails to parse with a
//! typed error, or parses, every accessor works, and the answer made to it with a fixed codec
//! table parses, fits the offer (RFC 3264 §6) and negotiates a codec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwire_core::sdp::{self, Direction, LocalMedia, LocalStream, SessionDescription};

const STREAMS: [LocalStream<'static>; 2] = [
    LocalStream {
        media: "audio",
        port: 5004,
        direction: Direction::SendRecv,
        ptime: Some(20),
    },
    LocalStream {
        media: "audio",
        port: 5006,
        direction: Direction::SendOnly,
        ptime: None,
    },
];

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = SessionDescription::parse(data) else {
        return;
    };
    let _ = (
        offer.origin(),
        offer.session_name(),
        offer.connection(),
        offer.timing(),
    );
    let _ = (offer.attributes().count(), offer.direction());
    assert_eq!(offer.media().count(), offer.media_count());
    for m in offer.media() {
        let _ = (
            m.media(),
            m.port(),
            m.port_count(),
            m.proto(),
            m.effective_connection(),
        );
        let _ = (
            m.formats().count(),
            m.payload_types().count(),
            m.attributes().count(),
        );
        let _ = (
            m.direction(),
            m.ptime(),
            m.rtpmaps().count(),
            m.fmtps().count(),
        );
    }
    let local = LocalMedia {
        username: "-",
        session_id: 42,
        address: "192.0.2.2",
        streams: &STREAMS,
    };
    let mut out = [0u8; 8192];
    match sdp::answer(&offer, &sdp::DEFAULT_CODECS, &local, 1, &mut out) {
        Ok(bytes) => {
            let answer = match SessionDescription::parse(bytes) {
                Ok(a) => a,
                Err(e) => panic!("our answer does not parse: {e}"),
            };
            assert_eq!(sdp::check_answer(&offer, &answer), Ok(()));
            if offer.media_count() > 0 {
                assert!(sdp::negotiated(&offer, &answer, &sdp::DEFAULT_CODECS).is_some());
            }
        }
        Err(sdp::OfferAnswerError::NotAcceptable) => assert!(offer.media_count() > 0),
        Err(sdp::OfferAnswerError::Emit(sdp::EmitError::BufferFull)) => {}
        Err(e) => panic!("unexpected answer error: {e}"),
    }
});
