//! Fuzzes the message parser with both framings, every typed accessor, the validators, the
//! response builder, and the write-back round trip. Nothing may panic, and a message that
//! parses must parse again, equal, from what `write_to` emits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipwire_core::message::builder::ResponseParts;
use sipwire_core::message::headers::{Contact, Credentials, MediaRange, NameAddr, RetryAfter, Via};
use sipwire_core::message::validate::{self, Policy};
use sipwire_core::message::{Header, HeaderName, Message, ParseError, Parser, Status, Writer};

fn exercise(m: &Message<'_, '_>) {
    let _ = m.top_via();
    for v in m.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl());
    }
    let _ = (
        m.from(),
        m.to(),
        m.call_id(),
        m.cseq(),
        m.max_forwards(),
        m.expires(),
    );
    // The light tag accessors agree with the full parse whenever it succeeds.
    if let Ok(f) = m.from() {
        assert_eq!(m.from_tag(), Ok(f.tag()));
    }
    if let Ok(t) = m.to() {
        assert_eq!(m.to_tag(), Ok(t.tag()));
    }
    let _ = (m.from_tag(), m.to_tag());
    // Lists parsed value by value agree with splitting the lines at commas first.
    let split = |name: HeaderName| m.values(name);
    let bad = ParseError::BadHeaderValue;
    assert!(m
        .routes()
        .eq(split(HeaderName::Route).map(|v| NameAddr::parse(v).ok_or(bad(HeaderName::Route)))));
    assert!(m.record_routes().eq(split(HeaderName::RecordRoute)
        .map(|v| NameAddr::parse(v).ok_or(bad(HeaderName::RecordRoute)))));
    assert!(m
        .contacts()
        .eq(split(HeaderName::Contact).map(|v| Contact::parse(v).ok_or(bad(HeaderName::Contact)))));
    assert!(m
        .vias()
        .eq(split(HeaderName::Via).map(|v| Via::parse(v).ok_or(bad(HeaderName::Via)))));
    let _ = m.content_type();
    for c in m.contacts().flatten() {
        let _ = c;
    }
    for r in m.routes().chain(m.record_routes()).flatten() {
        let _ = (r.tag(), r.expires(), r.q(), r.uri.equivalent(&r.uri));
    }
    for h in m.headers() {
        match h.name {
            HeaderName::Authorization | HeaderName::WwwAuthenticate => {
                let _ = Credentials::parse(h.value);
            }
            HeaderName::RetryAfter => {
                let _ = RetryAfter::parse(h.value);
            }
            _ => {}
        }
    }
    for a in m.values(HeaderName::Accept) {
        let _ = MediaRange::parse(a);
    }
    if m.is_request() {
        let _ = validate::request(m).and_then(|()| Policy::UAS.check(m));
        let _ = Policy::PROXY.check(m);
        let mut buf = [0u8; 8192];
        if let Ok(out) = ResponseParts::new(400, "Bad Request").write(m.headers(), &mut buf) {
            let mut slots = [Header::EMPTY; 128];
            let again = Parser::datagram().parse(out, &mut slots);
            assert!(
                matches!(again, Ok(Status::Complete(_))),
                "our own response must parse"
            );
        }
    } else {
        let _ = validate::response(m);
    }
}

fuzz_target!(|data: &[u8]| {
    for parser in [Parser::datagram(), Parser::stream()] {
        let mut slots = [Header::EMPTY; 64];
        if let Ok(Status::Complete(m)) = parser.parse(data, &mut slots) {
            exercise(&m);
            let mut out = [0u8; 70_000];
            let mut w = Writer::new(&mut out);
            if m.write_to(&mut w).is_ok() {
                let bytes = w.finish();
                let mut slots2 = [Header::EMPTY; 64];
                let again = parser.parse(bytes, &mut slots2);
                let Ok(Status::Complete(m2)) = again else {
                    panic!("written message does not parse: {again:?}");
                };
                assert_eq!(m.start_line(), m2.start_line());
                assert_eq!(m.headers(), m2.headers());
                assert_eq!(m.body(), m2.body());
            }
        }
        let mut slots = [Header::EMPTY; 64];
        let _ = parser.parse_head(data, &mut slots);
    }
});
