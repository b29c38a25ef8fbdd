//! Tests of the SDP module: parser tables, RFC 4475 bodies, offer/answer tables, the
//! RFC 3264 §10 example, and property tests (emit/parse round trip, no panics).

extern crate std;

use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

/// Joins lines with CRLF, ending with one.
fn sdp(lines: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v
}

const HEAD: [&str; 5] = [
    "v=0",
    "o=alice 2890844526 2890844527 IN IP4 192.0.2.1",
    "s=-",
    "c=IN IP4 192.0.2.1",
    "t=0 0",
];

/// A session head followed by `rest`.
fn with_head(rest: &[&str]) -> Vec<u8> {
    let mut lines: Vec<&str> = HEAD.to_vec();
    lines.extend_from_slice(rest);
    sdp(&lines)
}

fn parse(bytes: &[u8]) -> SessionDescription<'_> {
    match SessionDescription::parse(bytes) {
        Ok(s) => s,
        Err(e) => panic!("{e}: {}", String::from_utf8_lossy(bytes)),
    }
}

fn first<'b>(s: &SessionDescription<'b>) -> Media<'b> {
    s.media().next().expect("a media description")
}

/// The body of an RFC 4475 message (after the blank line).
fn body(message: &[u8]) -> &[u8] {
    let at = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a blank line");
    &message[at + 4..]
}

// ---------------------------------------------------------------- parser

#[test]
fn parses_every_field() {
    let text = with_head(&[
        "a=tool:sipwire",
        "a=recvonly",
        "m=audio 49170/2 RTP/AVP 0 8 97",
        "c=IN IP4 198.51.100.7/127",
        "b=AS:64",
        "a=rtpmap:97 iLBC/8000",
        "a=fmtp:97 mode=30",
        "a=ptime:30",
        "a=x-unknown:whatever here",
        "m=video 0 RTP/AVP 31",
    ]);
    let s = parse(&text);
    assert_eq!(s.version(), 0);
    let o = s.origin();
    assert_eq!(
        (o.username, o.session_id, o.session_version),
        ("alice", "2890844526", 2890844527)
    );
    assert_eq!(
        (o.nettype, o.addrtype, o.address),
        ("IN", "IP4", "192.0.2.1")
    );
    assert_eq!(s.session_name(), b"-");
    assert_eq!(s.connection().unwrap().address, "192.0.2.1");
    assert_eq!(s.timing(), Timing { start: 0, stop: 0 });
    assert_eq!(s.direction(), Some(Direction::RecvOnly));
    let tool = s.attributes().next().unwrap();
    assert_eq!((tool.name, tool.value), ("tool", Some(&b"sipwire"[..])));
    assert_eq!(s.media_count(), 2);

    let m = first(&s);
    assert_eq!(
        (m.media(), m.port(), m.port_count()),
        ("audio", 49170, Some(2))
    );
    assert_eq!(m.proto(), "RTP/AVP");
    assert!(m.formats().eq(["0", "8", "97"]));
    assert!(m.payload_types().eq([0, 8, 97]));
    let c = m.connection().unwrap();
    assert_eq!((c.address, c.host()), ("198.51.100.7/127", "198.51.100.7"));
    assert_eq!(m.rtpmap(97).unwrap().encoding, "iLBC");
    assert_eq!(m.rtpmap(0), None);
    assert_eq!(m.fmtp(97), Some(&b"mode=30"[..]));
    assert_eq!(m.ptime(), Some(30));
    assert_eq!(m.direction(), Direction::RecvOnly, "session-level default");
    assert_eq!(
        m.attributes().count(),
        4,
        "unknown attributes are listed, not errors"
    );

    let v = s.media().nth(1).unwrap();
    assert_eq!((v.media(), v.port()), ("video", 0));
    assert_eq!(v.connection(), None);
    assert_eq!(v.effective_connection().unwrap().address, "192.0.2.1");
    assert_eq!(s.media().count(), 2);
}

#[test]
fn lf_line_ends_and_a_missing_last_line_end() {
    let crlf = with_head(&["m=audio 4000 RTP/AVP 0", "a=sendonly"]);
    let lf: Vec<u8> = crlf.iter().copied().filter(|&b| b != b'\r').collect();
    let (a, b) = (parse(&crlf), parse(&lf));
    assert_eq!(a.origin(), b.origin());
    assert_eq!(first(&a).direction(), Direction::SendOnly);
    assert_eq!(first(&b).direction(), Direction::SendOnly);
    let cut = &crlf[..crlf.len() - 2];
    assert_eq!(first(&parse(cut)).direction(), Direction::SendOnly);
}

#[test]
fn directions_media_overrides_session_default_sendrecv() {
    let s = with_head(&[
        "a=sendonly",
        "m=audio 4000 RTP/AVP 0",
        "m=audio 4002 RTP/AVP 0",
        "a=inactive",
    ]);
    let s = parse(&s);
    let d: Vec<_> = s.media().map(|m| m.direction()).collect();
    assert_eq!(d, [Direction::SendOnly, Direction::Inactive]);
    let plain = with_head(&["m=audio 4000 RTP/AVP 0"]);
    assert_eq!(first(&parse(&plain)).direction(), Direction::SendRecv);
}

#[test]
fn rejects_malformed_lines_naming_them() {
    use SdpErrorKind::*;
    let h = |rest: &[&str]| with_head(rest);
    let cases: Vec<(Vec<u8>, usize, SdpErrorKind)> = std::vec![
        (Vec::new(), 1, MissingVersion),
        (sdp(&["o=- 1 1 IN IP4 a"]), 1, MissingVersion),
        (sdp(&["v=1"]), 1, BadVersion),
        (sdp(&["v = 0"]), 1, MissingVersion),
        (h(&["m =video 3227 RTP/AVP 31"]), 6, BadLine),
        (h(&["m= audio 3227 RTP/AVP 31"]), 6, Malformed(b'm')),
        (h(&["x=whatever"]), 6, UnknownType(b'x')),
        (h(&["M=audio 4000 RTP/AVP 0"]), 6, UnknownType(b'M')),
        (h(&["a=x", "c=IN IP4 192.0.2.9"]), 7, OutOfOrder(b'c')),
        (h(&["s=again"]), 6, OutOfOrder(b's')),
        (
            h(&["m=audio 4000 RTP/AVP 0", "u=http://x"]),
            7,
            OutOfOrder(b'u')
        ),
        (
            h(&["m=audio 4000 RTP/AVP 0", "i=a", "i=b"]),
            8,
            Repeated(b'i')
        ),
        (h(&["z=1 -1h", "z=2 0"]), 7, Repeated(b'z')),
        (sdp(&["v=0", "o=- 1 1 IN IP4 a", "t=0 0"]), 3, Missing(b's')),
        (sdp(&["v=0", "s=-", "t=0 0"]), 2, Missing(b'o')),
        (sdp(&["v=0", "o=- 1 1 IN IP4 a"]), 3, Missing(b's')),
        (
            sdp(&["v=0", "o=- 1 1 IN IP4 a", "s=-", "m=audio 0 RTP/AVP 0"]),
            4,
            Missing(b't')
        ),
        (
            sdp(&["v=0", "o=- 1 1 IN IP4 a", "s=-", "r=1 2 3", "t=0 0"]),
            4,
            OutOfOrder(b'r')
        ),
        (
            sdp(&["v=0", "o=- 1 IN IP4 a", "s=-", "t=0 0"]),
            2,
            Malformed(b'o')
        ),
        (
            sdp(&["v=0", "o=- 1  1 IN IP4 a", "s=-", "t=0 0"]),
            2,
            Malformed(b'o')
        ),
        (
            sdp(&["v=0", "o=- 1 x IN IP4 a", "s=-", "t=0 0"]),
            2,
            Malformed(b'o')
        ),
        (
            sdp(&["v=0", "o=- 1 1 IN IP4 a", "s=-", "c=IN IP4", "t=0 0"]),
            4,
            Malformed(b'c')
        ),
        (
            sdp(&["v=0", "o=- 1 1 IN IP4 a", "s=-", "t=0"]),
            4,
            Malformed(b't')
        ),
        (h(&["m=audio 4000 RTP/AVP 0", "b=AS"]), 7, Malformed(b'b')),
        (h(&["b=AS:64"]), 6, OutOfOrder(b'b')),
        (h(&["r=7d 1h"]), 6, Malformed(b'r')),
        (h(&["a=bad name"]), 6, Malformed(b'a')),
        (h(&["m=audio 70000 RTP/AVP 0"]), 6, Malformed(b'm')),
        (h(&["m=audio 4000 RTP/AVP"]), 6, Malformed(b'm')),
        (h(&["m=audio 4000 RTP/AVP 0 pcmu"]), 6, Malformed(b'm')),
        (h(&["m=audio 4000 RTP/AVP 128"]), 6, Malformed(b'm')),
        (h(&["m=audio 4000 RTP/AVP 0  8"]), 6, Malformed(b'm')),
        (h(&["m=audio 4000 RTP//AVP 0"]), 6, Malformed(b'm')),
        (h(&["", "m=audio 4000 RTP/AVP 0"]), 6, BadLine),
        (h(&["a=x\0y"]), 6, BadLine),
        (h(&["a=x\ry"]), 6, BadLine),
        (h(&["a"]), 6, BadLine),
        (
            sdp(&[
                "v=0",
                "o=- 1 1 IN IP4 a",
                "s=-",
                "t=0 0",
                "m=audio 4000 RTP/AVP 0",
                "m=audio 0 RTP/AVP 0"
            ]),
            5,
            MissingConnection
        ),
        (
            sdp(&[
                "v=0",
                "o=- 1 1 IN IP4 a",
                "s=-",
                "t=0 0",
                "m=audio 0 RTP/AVP 0",
                "m=audio 4000 RTP/AVP 0"
            ]),
            6,
            MissingConnection
        ),
    ];
    for (text, line, kind) in cases {
        assert_eq!(
            SessionDescription::parse(&text).err(),
            Some(SdpError { line, kind }),
            "{}",
            String::from_utf8_lossy(&text)
        );
    }
}

#[test]
fn accepts_what_the_rfc_allows() {
    for text in [
        // Time descriptions with repeats and zone adjustments, all optional lines, a
        // multicast c= and several media-level c= lines.
        sdp(&[
            "v=0",
            "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5",
            "s=SDP Seminar",
            "i=A Seminar on the session description protocol",
            "u=http://www.example.com/seminars/sdp.pdf",
            "e=j.doe@example.com (Jane Doe)",
            "e=k@example.com",
            "p=+1 617 555-6011",
            "c=IN IP4 224.2.17.12/127",
            "b=CT:128",
            "t=2873397496 2873404696",
            "r=7d 1h 0 25h",
            "t=0 0",
            "z=2882844526 -1h 2898848070 0",
            "k=prompt",
            "a=recvonly",
            "m=audio 49170 RTP/AVP 0",
            "i=audio",
            "c=IN IP4 224.2.1.1/127/3",
            "c=IN IP4 224.2.1.4/127",
            "b=AS:64",
            "k=clear:x",
            "m=application 32416 udp wb",
            "a=orient:portrait",
        ]),
        // s= empty (as in RFC 3264's examples), a rejected stream without c=, trailing
        // spaces and blank lines at the end.
        [
            &sdp(&[
                "v=0",
                "o=- 1 1 IN IP4 a",
                "s=",
                "t=0 0 ",
                "m=audio 0 RTP/AVP 0 ",
            ])[..],
            b"\r\n\r\n",
        ]
        .concat(),
    ] {
        parse(&text);
    }
}

#[test]
fn rfc4475_bodies() {
    let sdp01 = include_bytes!("../../../tests/data/rfc4475/sdp01.dat");
    let wsinv = include_bytes!("../../../tests/data/rfc4475/wsinv.dat");
    let esc01 = include_bytes!("../../../tests/data/rfc4475/esc01.dat");
    for (msg, addr) in [
        (&sdp01[..], "192.0.2.5"),
        (&wsinv[..], "192.0.2.4"),
        (&esc01[..], "192.0.2.1"),
    ] {
        let s = parse(body(msg));
        assert_eq!(s.connection().unwrap().address, addr);
        assert_eq!(s.media_count(), 2);
        let v = s.media().nth(1).unwrap();
        assert!(v.payload_types().eq([31]));
        // `a=rtpmap:31 LPC` has no clock rate: kept as an attribute, not a typed rtpmap.
        assert_eq!(v.rtpmap(31), None);
        assert_eq!(v.attributes().next().unwrap().name, "rtpmap");
    }
    // dblreq's second request has `m =video`: no white space around `=` (§5).
    let dblreq = include_bytes!("../../../tests/data/rfc4475/dblreq.dat");
    let last = dblreq.windows(4).rposition(|w| w == b"\r\n\r\n").unwrap();
    let start = dblreq[..last]
        .windows(4)
        .rposition(|w| w == b"\r\n\r\n")
        .unwrap();
    let e = SessionDescription::parse(&dblreq[start + 4..]).unwrap_err();
    assert_eq!(e.kind, SdpErrorKind::BadLine);
    // mismatch02 has neither s= nor t=.
    let mismatch02 = include_bytes!("../../../tests/data/rfc4475/mismatch02.dat");
    let e = SessionDescription::parse(body(mismatch02)).unwrap_err();
    assert_eq!(e.kind, SdpErrorKind::Missing(b's'));
}

// ---------------------------------------------------------------- offer/answer

const BOB_ADDR: &str = "192.0.2.2";
const AUDIO: LocalStream<'static> = LocalStream {
    media: "audio",
    port: 5004,
    direction: Direction::SendRecv,
    ptime: None,
};

fn bob(streams: &'static [LocalStream<'static>]) -> LocalMedia<'static> {
    LocalMedia {
        username: "bob",
        session_id: 7,
        address: BOB_ADDR,
        streams,
    }
}

/// Answers `offer` with `codecs` and Bob's audio stream; checks the answer against the
/// offer and returns it (as text, to parse again).
fn answer_with(
    offer: &[u8],
    codecs: &[Codec],
    streams: &'static [LocalStream<'static>],
) -> Result<Vec<u8>, OfferAnswerError> {
    let o = parse(offer);
    let mut buf = [0u8; 1024];
    let a = answer(&o, codecs, &bob(streams), 1, &mut buf)?.to_vec();
    let parsed = parse(&a);
    assert_eq!(
        parsed.media_count(),
        o.media_count(),
        "§6: one m= line per offered one"
    );
    check_answer(&o, &parsed).expect("our answer fits the offer");
    Ok(a)
}

/// Formats, direction and attributes of the answer's media descriptions.
fn summary(answer: &[u8]) -> Vec<(u16, Vec<u8>, Direction)> {
    parse(answer)
        .media()
        .map(|m| (m.port(), m.payload_types().collect(), m.direction()))
        .collect()
}

const TE: Codec = Codec::TELEPHONE_EVENT;

#[test]
fn answer_keeps_offer_order_restricted_and_reuses_numbers() {
    let offer = with_head(&[
        "m=audio 49170 RTP/AVP 0 8 101",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
    ]);
    let a = answer_with(&offer, &[Codec::PCMA, TE], &[AUDIO]).unwrap();
    assert_eq!(
        summary(&a),
        [(5004, std::vec![8, 101], Direction::SendRecv)]
    );
    let s = parse(&a);
    let m = first(&s);
    assert_eq!(m.rtpmap(101).unwrap(), TE.rtpmap(101));
    assert_eq!(m.rtpmap(8), None, "no rtpmap for a static type");
    assert_eq!(m.fmtp(101), Some(&b"0-16"[..]));
    assert_eq!(s.origin().username, "bob");
    assert_eq!(s.origin().session_id, "7");
    assert_eq!(s.connection().unwrap().address, BOB_ADDR);

    let n = negotiated(&parse(&offer), &s, &DEFAULT_CODECS).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event),
        (Codec::PCMA, 8, Some(101))
    );
    assert_eq!(
        n.offerer,
        RtpEndpoint {
            address: "192.0.2.1",
            port: 49170
        }
    );
    assert_eq!(
        n.answerer,
        RtpEndpoint {
            address: BOB_ADDR,
            port: 5004
        }
    );
    assert_eq!(n.media_index, 0);
}

#[test]
fn static_types_without_rtpmap() {
    let offer = with_head(&["m=audio 49170 RTP/AVP 18 3 0"]);
    let a = answer_with(&offer, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(summary(&a)[0].1, [18, 0]);
    // The answer's order is the offer's, not the table's.
    let n = negotiated(&parse(&offer), &parse(&a), &DEFAULT_CODECS).unwrap();
    assert_eq!((n.codec.name, n.telephone_event), ("G729", None));
}

#[test]
fn dynamic_telephone_event_at_any_number() {
    let at96 = with_head(&[
        "m=audio 49170 RTP/AVP 0 96",
        "a=rtpmap:96 telephone-event/8000",
    ]);
    let a = answer_with(&at96, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(summary(&a)[0].1, [0, 96]);
    assert_eq!(
        first(&parse(&a)).rtpmap(96).unwrap().encoding,
        "telephone-event"
    );

    // 96 is something else; telephone-event is at 101, in another case, with channels.
    let other = with_head(&[
        "m=audio 49170 RTP/AVP 96 0 101 102",
        "a=rtpmap:96 opus/48000/2",
        "a=rtpmap:101 TELEPHONE-EVENT/8000/1",
        "a=rtpmap:102 telephone-event/48000",
    ]);
    let a = answer_with(&other, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(summary(&a)[0].1, [0, 101]);
    let n = negotiated(&parse(&other), &parse(&a), &DEFAULT_CODECS).unwrap();
    assert_eq!(n.telephone_event, Some(101));

    // A dynamic number without rtpmap is nothing.
    let bare = with_head(&["m=audio 49170 RTP/AVP 0 101"]);
    assert_eq!(
        summary(&answer_with(&bare, &DEFAULT_CODECS, &[AUDIO]).unwrap())[0].1,
        [0]
    );
}

#[test]
fn unsupported_video_is_rejected_with_port_zero() {
    let offer = with_head(&[
        "m=audio 49170 RTP/AVP 0",
        "m=video 51372 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
    ]);
    let a = answer_with(&offer, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(
        summary(&a),
        [
            (5004, std::vec![0], Direction::SendRecv),
            (0, std::vec![31, 32], Direction::SendRecv),
        ]
    );
    let s = parse(&a);
    let v = s.media().nth(1).unwrap();
    assert_eq!(
        (v.media(), v.proto(), v.attributes().count()),
        ("video", "RTP/AVP", 0)
    );
}

#[test]
fn nothing_acceptable_is_488() {
    let offers = [
        with_head(&["m=audio 49170 RTP/AVP 3 97", "a=rtpmap:97 iLBC/8000"]),
        // Only telephone-event in common: useless alone.
        with_head(&[
            "m=audio 49170 RTP/AVP 3 101",
            "a=rtpmap:101 telephone-event/8000",
        ]),
        // A transport we do not run.
        with_head(&["m=audio 49170 RTP/SAVP 0"]),
        // A media type we have no stream for.
        with_head(&["m=video 49170 RTP/AVP 31"]),
        // The offerer disabled it.
        with_head(&["m=audio 0 RTP/AVP 0"]),
    ];
    for offer in offers {
        let e = answer_with(&offer, &DEFAULT_CODECS, &[AUDIO]).unwrap_err();
        assert_eq!(e, OfferAnswerError::NotAcceptable);
        assert_eq!(e.status_code(), Some(488));
    }
}

#[test]
fn answer_directions() {
    use Direction::*;
    let cases: [(&[&str], Direction, Direction); 7] = [
        (
            &["m=audio 4000 RTP/AVP 0", "a=sendonly"],
            SendRecv,
            RecvOnly,
        ),
        (
            &["m=audio 4000 RTP/AVP 0", "a=recvonly"],
            SendRecv,
            SendOnly,
        ),
        (
            &["m=audio 4000 RTP/AVP 0", "a=inactive"],
            SendRecv,
            Inactive,
        ),
        (
            &["m=audio 4000 RTP/AVP 0", "a=sendrecv"],
            SendRecv,
            SendRecv,
        ),
        (
            &["a=sendonly", "m=audio 4000 RTP/AVP 0"],
            SendRecv,
            RecvOnly,
        ),
        // The local policy limits the answer.
        (&["m=audio 4000 RTP/AVP 0"], SendOnly, SendOnly),
        (
            &["m=audio 4000 RTP/AVP 0", "a=sendonly"],
            SendOnly,
            Inactive,
        ),
    ];
    for (rest, policy, expected) in cases {
        let streams: &'static [LocalStream<'static>] =
            std::boxed::Box::leak(std::boxed::Box::new([LocalStream {
                direction: policy,
                ..AUDIO
            }]));
        let a = answer_with(&with_head(rest), &DEFAULT_CODECS, streams).unwrap();
        assert_eq!(summary(&a)[0].2, expected, "{rest:?} with {policy:?}");
    }
    // RFC 2543 hold: c=0.0.0.0 means the offerer does not want media.
    let old_hold = sdp(&[
        "v=0",
        "o=- 1 2 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
    ]);
    let a = answer_with(&old_hold, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(summary(&a)[0].2, RecvOnly);
}

#[test]
fn offer_then_hold_bumps_the_version() {
    let alice = LocalMedia {
        username: "-",
        session_id: 2890844526,
        address: "192.0.2.1",
        streams: &[LocalStream {
            ptime: Some(20),
            ..AUDIO
        }],
    };
    let mut buf = [0u8; 512];
    let first_offer = offer(&alice, &DEFAULT_CODECS, 1, &mut buf)
        .unwrap()
        .to_vec();
    let o1 = parse(&first_offer);
    let m = first(&o1);
    assert!(
        m.payload_types().eq([0, 8, 18, 96]),
        "dynamic numbers from 96"
    );
    assert_eq!(m.rtpmaps().count(), 1, "rtpmap only for the dynamic type");
    assert_eq!(m.rtpmap(96).unwrap().encoding, "telephone-event");
    assert_eq!(m.fmtp(96), Some(&b"0-16"[..]));
    assert_eq!((m.ptime(), m.direction()), (Some(20), Direction::SendRecv));
    assert_eq!(o1.timing(), Timing::default());

    // Hold (RFC 3264 §8.4): the same session, version + 1, sendonly.
    let held = [LocalStream {
        direction: Direction::SendRecv.hold(),
        ..alice.streams[0]
    }];
    let on_hold = LocalMedia {
        streams: &held,
        ..alice
    };
    let hold_offer = offer(&on_hold, &DEFAULT_CODECS, 2, &mut buf)
        .unwrap()
        .to_vec();
    let o2 = parse(&hold_offer);
    assert_eq!(o2.origin().session_id, o1.origin().session_id);
    assert_eq!(o2.origin().session_version, o1.origin().session_version + 1);
    assert_eq!(first(&o2).direction(), Direction::SendOnly);

    // Bob answers the hold recvonly.
    let a = answer_with(&hold_offer, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(
        summary(&a)[0],
        (5004, std::vec![0, 8, 18, 96], Direction::RecvOnly)
    );
    // Holding a recvonly stream makes it inactive.
    assert_eq!(Direction::RecvOnly.hold(), Direction::Inactive);
}

#[test]
fn answer_corner_cases() {
    // Two audio streams offered, one local audio stream: the second is rejected.
    let two = with_head(&["m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8"]);
    let a = answer_with(&two, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(summary(&a)[1].0, 0);
    // ... unless there are two.
    let a = answer_with(
        &two,
        &DEFAULT_CODECS,
        &[
            AUDIO,
            LocalStream {
                port: 5006,
                ..AUDIO
            },
        ],
    )
    .unwrap();
    assert_eq!((summary(&a)[0].0, summary(&a)[1].0), (5004, 5006));
    // No media at all: an answer without media.
    let none = with_head(&[]);
    let a = answer_with(&none, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(parse(&a).media_count(), 0);
    // t= is the offer's (§6); repeated formats are answered once.
    let timed = sdp(&[
        "v=0",
        "o=- 1 2 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=3034423619 3042462419",
        "m=audio 4000 RTP/AVP 0 0 8",
    ]);
    let a = answer_with(&timed, &DEFAULT_CODECS, &[AUDIO]).unwrap();
    assert_eq!(
        parse(&a).timing(),
        Timing {
            start: 3034423619,
            stop: 3042462419
        }
    );
    assert_eq!(summary(&a)[0].1, [0, 8]);
    // IPv6.
    let o = parse(&timed);
    let mut buf = [0u8; 512];
    let v6 = LocalMedia {
        address: "2001:db8::2",
        ..bob(&[AUDIO])
    };
    let a = answer(&o, &DEFAULT_CODECS, &v6, 1, &mut buf).unwrap();
    assert_eq!(parse(a).connection().unwrap().addrtype, "IP6");
    // Too small a buffer.
    let mut small = [0u8; 60];
    assert_eq!(
        answer(&o, &DEFAULT_CODECS, &bob(&[AUDIO]), 1, &mut small),
        Err(OfferAnswerError::Emit(EmitError::BufferFull))
    );
}

#[test]
fn check_answer_table() {
    let offer = with_head(&[
        "m=audio 4000 RTP/AVP 0 96",
        "a=rtpmap:96 telephone-event/8000",
        "m=video 0 RTP/AVP 31",
    ]);
    let o = parse(&offer);
    let bob_head = [
        "v=0",
        "o=bob 9 9 IN IP4 192.0.2.2",
        "s=-",
        "c=IN IP4 192.0.2.2",
        "t=0 0",
    ];
    let check = |rest: &[&str]| {
        let mut lines = bob_head.to_vec();
        lines.extend_from_slice(rest);
        let text = sdp(&lines);
        check_answer(&o, &parse(&text))
    };
    use OfferAnswerError::*;
    assert_eq!(
        check(&["m=audio 5004 RTP/AVP 0", "m=video 0 RTP/AVP 31"]),
        Ok(())
    );
    // Renumbered dynamic type (RFC 3264 §6.1: reusing is only a SHOULD).
    assert_eq!(
        check(&[
            "m=audio 5004 RTP/AVP 0 101",
            "a=rtpmap:101 telephone-event/8000",
            "m=video 0 RTP/AVP 31"
        ]),
        Ok(())
    );
    assert_eq!(
        check(&["m=audio 5004 RTP/AVP 0"]),
        Err(MediaCount {
            offered: 2,
            answered: 1
        })
    );
    assert_eq!(
        check(&["m=audio 5004 RTP/AVP 8", "m=video 0 RTP/AVP 31"]),
        Err(FormatNotOffered { index: 0 })
    );
    assert_eq!(
        check(&[
            "m=audio 5004 RTP/AVP 96",
            "a=rtpmap:96 iLBC/8000",
            "m=video 0 RTP/AVP 31"
        ]),
        Err(FormatNotOffered { index: 0 })
    );
    assert_eq!(
        check(&["m=video 5004 RTP/AVP 0", "m=video 0 RTP/AVP 31"]),
        Err(MediaMismatch { index: 0 })
    );
    assert_eq!(
        check(&["m=audio 5004 RTP/AVP 0", "m=video 5006 RTP/AVP 31"]),
        Err(MediaMismatch { index: 1 })
    );
    assert_eq!(
        check(&["m=audio 0 RTP/AVP 0", "m=video 0 RTP/AVP 31"]),
        Err(NotAcceptable)
    );
    let sendonly = with_head(&["m=audio 4000 RTP/AVP 0", "a=sendonly"]);
    let o = parse(&sendonly);
    let text = sdp(&[&bob_head[..], &["m=audio 5004 RTP/AVP 0", "a=sendonly"]].concat());
    assert_eq!(
        check_answer(&o, &parse(&text)),
        Err(DirectionMismatch { index: 0 })
    );
    assert_eq!(
        negotiated(
            &o,
            &parse(&sdp(&[&bob_head[..], &["m=audio 0 RTP/AVP 0"]].concat())),
            &DEFAULT_CODECS
        ),
        None
    );
}

/// RFC 3264 §10.1: Alice offers audio (PCMU, PCMA, iLBC) and video (H.261, MPV); Bob
/// supports PCMU and MPV and answers audio 0 and video 32.
#[test]
fn rfc3264_section10_example() {
    let alice = sdp(&[
        "v=0",
        "o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com",
        "s=",
        "c=IN IP4 host.atlanta.example.com",
        "t=0 0",
        "m=audio 49170 RTP/AVP 0 8 97",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:97 iLBC/8000",
        "m=video 51372 RTP/AVP 31 32",
        "a=rtpmap:31 H261/90000",
        "a=rtpmap:32 MPV/90000",
    ]);
    let rfc_answer = sdp(&[
        "v=0",
        "o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com",
        "s=",
        "c=IN IP4 host.biloxi.example.com",
        "t=0 0",
        "m=audio 49174 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "m=video 49170 RTP/AVP 32",
        "a=rtpmap:32 MPV/90000",
    ]);
    const MPV: Codec = Codec {
        media: "video",
        name: "MPV",
        clock: 90000,
        channels: 1,
        static_pt: Some(32),
        fmtp: None,
    };
    const ILBC: Codec = Codec::audio("iLBC", None, None);
    let (o, rfc) = (parse(&alice), parse(&rfc_answer));
    check_answer(&o, &rfc).unwrap();
    let n = negotiated(&o, &rfc, &[Codec::PCMU, MPV]).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::PCMU, 0));
    assert_eq!(
        n.answerer,
        RtpEndpoint {
            address: "host.biloxi.example.com",
            port: 49174
        }
    );
    assert_eq!(
        n.offerer,
        RtpEndpoint {
            address: "host.atlanta.example.com",
            port: 49170
        }
    );

    const STREAMS: [LocalStream<'static>; 2] = [
        LocalStream {
            media: "audio",
            port: 49174,
            direction: Direction::SendRecv,
            ptime: None,
        },
        LocalStream {
            media: "video",
            port: 49170,
            direction: Direction::SendRecv,
            ptime: None,
        },
    ];
    let ours = answer_with(&alice, &[Codec::PCMU, MPV], &STREAMS).unwrap();
    assert_eq!(
        summary(&ours),
        [
            (49174, std::vec![0], Direction::SendRecv),
            (49170, std::vec![32], Direction::SendRecv),
        ]
    );
    // With iLBC too, Bob keeps Alice's 97.
    let ours = answer_with(&alice, &[Codec::PCMU, ILBC, MPV], &STREAMS).unwrap();
    assert_eq!(summary(&ours)[0].1, [0, 97]);
    assert_eq!(first(&parse(&ours)).rtpmap(97).unwrap().encoding, "iLBC");
}

// ---------------------------------------------------------------- properties

#[derive(Clone, Debug)]
struct FormatModel {
    pt: u8,
    map: Option<(String, u32, u8)>,
    fmtp: Option<String>,
}

#[derive(Clone, Debug)]
struct MediaModel {
    media: &'static str,
    port: u16,
    formats: Vec<FormatModel>,
    direction: Option<Direction>,
    ptime: Option<u32>,
    connection: Option<String>,
}

#[derive(Clone, Debug)]
struct SessionModel {
    username: String,
    id: u64,
    version: u64,
    name: Vec<u8>,
    connection: Option<String>,
    timing: (u64, u64),
    direction: Option<Direction>,
    media: Vec<MediaModel>,
}

fn direction_s() -> impl Strategy<Value = Option<Direction>> {
    proptest::option::of(prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ])
}

fn formats_s() -> impl Strategy<Value = Vec<FormatModel>> {
    let fmtp = proptest::option::of("[a-z0-9=;-]{1,12}");
    let statics = proptest::sample::subsequence(std::vec![0u8, 8, 18], 0..=3);
    let static_fmts = (statics, proptest::collection::vec(fmtp.clone(), 3)).prop_map(|(pts, f)| {
        pts.into_iter()
            .zip(f)
            .map(|(pt, fmtp)| FormatModel {
                pt,
                map: None,
                fmtp,
            })
            .collect::<Vec<_>>()
    });
    let dynamic = proptest::collection::btree_map(
        96u8..=127,
        (
            "[A-Za-z][A-Za-z0-9-]{0,9}",
            prop_oneof![Just(8000u32), Just(16000), Just(48000), Just(90000)],
            1u8..=2,
            fmtp,
        ),
        0..=3,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(pt, (n, c, ch, fmtp))| FormatModel {
                pt,
                map: Some((n, c, ch)),
                fmtp,
            })
            .collect::<Vec<_>>()
    });
    (static_fmts, dynamic)
        .prop_map(|(mut s, d)| {
            s.extend(d);
            if s.is_empty() {
                s.push(FormatModel {
                    pt: 0,
                    map: None,
                    fmtp: None,
                });
            }
            s
        })
        .prop_shuffle()
}

fn address_s() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..=255).prop_map(|n| std::format!("192.0.2.{n}")),
        "[a-z]{1,8}\\.example\\.com",
        Just(String::from("2001:db8::1")),
    ]
}

fn media_s() -> impl Strategy<Value = MediaModel> {
    (
        prop_oneof![Just("audio"), Just("video")],
        prop_oneof![Just(0u16), any::<u16>()],
        formats_s(),
        direction_s(),
        proptest::option::of(1u32..=200),
        proptest::option::of(address_s()),
    )
        .prop_map(
            |(media, port, formats, direction, ptime, connection)| MediaModel {
                media,
                port,
                formats,
                direction,
                ptime,
                connection,
            },
        )
}

fn session_s() -> impl Strategy<Value = SessionModel> {
    (
        "[A-Za-z0-9_.-]{1,8}",
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(
            any::<u8>().prop_filter("text", |b| !matches!(b, 0 | b'\r' | b'\n')),
            0..12,
        ),
        proptest::option::of(address_s()),
        (any::<u64>(), any::<u64>()),
        direction_s(),
        proptest::collection::vec(media_s(), 1..=3),
    )
        .prop_map(
            |(username, id, version, name, connection, timing, direction, mut media)| {
                // §5.7: without a session-level c=, every stream in use needs its own.
                if connection.is_none() {
                    for m in &mut media {
                        m.connection
                            .get_or_insert_with(|| String::from("192.0.2.99"));
                    }
                }
                SessionModel {
                    username,
                    id,
                    version,
                    name,
                    connection,
                    timing,
                    direction,
                    media,
                }
            },
        )
}

fn conn(address: &str) -> Connection<'_> {
    Connection {
        nettype: "IN",
        addrtype: if address.contains(':') { "IP6" } else { "IP4" },
        address,
    }
}

fn emit<'o>(s: &SessionModel, out: &'o mut [u8]) -> Result<&'o [u8], EmitError> {
    let id = std::format!("{}", s.id);
    let header = SessionHeader {
        origin: Origin {
            username: &s.username,
            session_id: &id,
            session_version: s.version,
            nettype: "IN",
            addrtype: "IP4",
            address: "192.0.2.1",
        },
        session_name: &s.name,
        connection: s.connection.as_deref().map(conn),
        timing: Timing {
            start: s.timing.0,
            stop: s.timing.1,
        },
    };
    let mut w = SdpWriter::new(out, &header)?;
    if let Some(d) = s.direction {
        w.direction(d)?;
    }
    for m in &s.media {
        let h = MediaHeader {
            media: m.media,
            port: m.port,
            port_count: None,
            proto: "RTP/AVP",
            connection: m.connection.as_deref().map(conn),
        };
        w.media(&h, m.formats.iter().map(|f| Format::Pt(f.pt)))?;
        for f in &m.formats {
            if let Some((name, clock, channels)) = &f.map {
                w.rtpmap(&RtpMap {
                    payload_type: f.pt,
                    encoding: name,
                    clock_rate: *clock,
                    channels: *channels,
                })?;
            }
            if let Some(p) = &f.fmtp {
                w.fmtp(f.pt, p.as_bytes())?;
            }
        }
        if let Some(p) = m.ptime {
            w.ptime(p)?;
        }
        if let Some(d) = m.direction {
            w.direction(d)?;
        }
    }
    Ok(w.finish())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn emit_then_parse_round_trips(s in session_s()) {
        let mut buf = [0u8; 4096];
        let text = emit(&s, &mut buf).unwrap();
        let p = SessionDescription::parse(text).unwrap();
        let o = p.origin();
        prop_assert_eq!(o.username, s.username.as_str());
        prop_assert_eq!(o.session_id, std::format!("{}", s.id));
        prop_assert_eq!(o.session_version, s.version);
        prop_assert_eq!(p.session_name(), &s.name[..]);
        prop_assert_eq!(p.connection().map(|c| c.address), s.connection.as_deref());
        prop_assert_eq!(p.timing(), Timing { start: s.timing.0, stop: s.timing.1 });
        prop_assert_eq!(p.direction(), s.direction);
        prop_assert_eq!(p.media_count(), s.media.len());
        prop_assert_eq!(p.media().count(), s.media.len());
        for (pm, m) in p.media().zip(&s.media) {
            prop_assert_eq!((pm.media(), pm.port(), pm.proto()), (m.media, m.port, "RTP/AVP"));
            prop_assert!(pm.payload_types().eq(m.formats.iter().map(|f| f.pt)));
            prop_assert_eq!(pm.connection().map(|c| c.address), m.connection.as_deref());
            for f in &m.formats {
                let map = pm.rtpmap(f.pt).map(|r| (String::from(r.encoding), r.clock_rate, r.channels));
                prop_assert_eq!(&map, &f.map);
                prop_assert_eq!(pm.fmtp(f.pt), f.fmtp.as_deref().map(str::as_bytes));
            }
            prop_assert_eq!(pm.ptime(), m.ptime);
            prop_assert_eq!(pm.direction(), m.direction.or(s.direction).unwrap_or_default());
        }
    }

    #[test]
    fn answers_to_generated_offers_fit_them(s in session_s()) {
        let mut buf = [0u8; 4096];
        let text = emit(&s, &mut buf).unwrap();
        let o = SessionDescription::parse(text).unwrap();
        let streams = [AUDIO, LocalStream { media: "video", port: 5006, ..AUDIO }];
        let mut out = [0u8; 4096];
        match answer(&o, &DEFAULT_CODECS, &bob(&[]), 1, &mut out) {
            Err(OfferAnswerError::NotAcceptable) => {}
            other => prop_assert!(false, "no local streams: {:?}", other),
        }
        let local = LocalMedia { streams: &streams, ..bob(&[]) };
        match answer(&o, &DEFAULT_CODECS, &local, 1, &mut out) {
            Ok(a) => {
                let a = SessionDescription::parse(a).unwrap();
                prop_assert_eq!(check_answer(&o, &a), Ok(()));
                prop_assert!(negotiated(&o, &a, &DEFAULT_CODECS).is_some());
            }
            Err(e) => prop_assert_eq!(e, OfferAnswerError::NotAcceptable),
        }
    }

    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        exercise(&bytes);
    }

    #[test]
    fn never_panics_on_sdp_like_lines(
        lines in proptest::collection::vec(
            prop_oneof![
                Just(String::from("v=0")),
                "[vosicbtmarzkuep]=[ -~]{0,20}",
                Just(String::from("m=audio 4000 RTP/AVP 0 8 101")),
                Just(String::from("a=rtpmap:101 telephone-event/8000")),
                Just(String::from("c=IN IP4 192.0.2.1")),
                Just(String::from("t=0 0")),
                Just(String::from("o=- 1 2 IN IP4 x")),
                Just(String::from("s=-")),
                Just(String::from("a=sendonly")),
            ],
            0..16,
        )
    ) {
        let mut text = String::from("v=0\r\n");
        for l in &lines {
            text.push_str(l);
            text.push_str("\r\n");
        }
        exercise(text.as_bytes());
    }
}

/// Parses, and when that works reads everything and answers (what the fuzz target does).
fn exercise(bytes: &[u8]) {
    let Ok(o) = SessionDescription::parse(bytes) else {
        return;
    };
    for m in o.media() {
        let _ = (
            m.direction(),
            m.ptime(),
            m.rtpmaps().count(),
            m.fmtps().count(),
        );
        let _ = (
            m.effective_connection(),
            m.formats().count(),
            m.port_count(),
        );
    }
    let mut out = [0u8; 2048];
    let streams = [
        AUDIO,
        LocalStream {
            media: "video",
            port: 5006,
            ..AUDIO
        },
    ];
    let local = LocalMedia {
        streams: &streams,
        ..bob(&[])
    };
    if let Ok(a) = answer(&o, &DEFAULT_CODECS, &local, 1, &mut out) {
        let a = SessionDescription::parse(a).expect("our answer parses");
        assert_eq!(check_answer(&o, &a), Ok(()));
        if o.media_count() > 0 {
            assert!(negotiated(&o, &a, &DEFAULT_CODECS).is_some());
        }
    }
}

/// Inputs the fuzz target found.
#[test]
fn fuzz_regressions() {
    // A transport that is `RTP/AVP` only case-insensitively, with a format `08`: not
    // answered as RTP (so the answer does not renumber `08` as `8`).
    exercise(
        b"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
          a=seldonly\r\nm=audio 6000 RTP/AVP 17 0\na=rt:mppa\nm=audio 4000 RTp/AVP 08 0 7",
    );
}
