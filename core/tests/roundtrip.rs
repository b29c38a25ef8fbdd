//! Property tests of the message layer: what the builders emit parses back to the same
//! fields, what the parser reads writes back to an equal message, a stream may be cut
//! anywhere, and no input whatsoever makes the parser or the typed views panic.

use proptest::prelude::*;
use sipwire_core::message::builder::{Address, RequestParts, ResponseParts, SentBy};
use sipwire_core::message::headers::Contact;
use sipwire_core::message::validate;
use sipwire_core::message::{Header, HeaderName, Message, Parser, Status, Writer};
#[cfg(feature = "ipv6")]
use std::net::Ipv6Addr;

/// Owned inputs for a request, so that proptest can generate and shrink them.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    ruri: String,
    transport: &'static str,
    via_host: String,
    via_port: Option<u16>,
    branch: String,
    rport: bool,
    max_forwards: u8,
    to: (Option<String>, String, Option<String>),
    from: (Option<String>, String, String),
    call_id: String,
    cseq: u32,
    contact: Option<String>,
    routes: Vec<String>,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,16}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        ipv6_reference(),
    ]
}

/// An `IPv6reference` (feature `ipv6`; without it, an IPv4 address).
#[cfg(feature = "ipv6")]
fn ipv6_reference() -> impl Strategy<Value = String> {
    (any::<u16>(), any::<u16>())
        .prop_map(|(a, b)| format!("[{}]", Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, a, b)))
}

/// An `IPv6reference` (feature `ipv6`; without it, an IPv4 address).
#[cfg(not(feature = "ipv6"))]
fn ipv6_reference() -> impl Strategy<Value = String> {
    (any::<u8>(), 1u8..=254).prop_map(|(a, b)| format!("198.51.{a}.{b}"))
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        prop::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}"),
        host(),
        prop::option::of(1u16..),
        prop::collection::vec(
            (
                "[a-z][a-z0-9-]{0,8}",
                prop::option::of("[a-zA-Z0-9.-]{1,8}"),
            ),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(user, host, port, params, sips)| {
            let mut s = String::from(if sips { "sips:" } else { "sip:" });
            if let Some(u) = user {
                s += &u;
                s.push('@');
            }
            s += &host;
            if let Some(p) = port {
                s += &format!(":{p}");
            }
            for (n, v) in params {
                s.push(';');
                s += &n;
                if let Some(v) = v {
                    s.push('=');
                    s += &v;
                }
            }
            s
        })
}

fn display() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[ -~]{0,24}")
}

fn req() -> impl Strategy<Value = Req> {
    (
        (
            prop_oneof![
                Just("INVITE".to_string()),
                Just("REGISTER".to_string()),
                Just("OPTIONS".to_string()),
                "[A-Z]{3,12}"
            ],
            sip_uri(),
            prop::sample::select(&["UDP", "TCP", "TLS", "SCTP"][..]),
            host(),
            prop::option::of(1u16..),
            "z9hG4bK[A-Za-z0-9.-]{1,20}",
            any::<bool>(),
            any::<u8>(),
        ),
        (
            (display(), sip_uri(), prop::option::of(token())),
            (display(), sip_uri(), token()),
            "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,24}(@[a-z0-9.]{1,12})?",
            0u32..(1 << 31),
            prop::option::of(sip_uri()),
            prop::collection::vec(sip_uri(), 0..3),
            prop::collection::vec(("X-[A-Za-z0-9-]{1,12}", "[!-~]([ -~]{0,30}[!-~])?"), 0..4),
            prop::collection::vec(any::<u8>(), 0..300),
        ),
    )
        .prop_map(
            |(
                (method, ruri, transport, via_host, via_port, branch, rport, max_forwards),
                (to, from, call_id, cseq, contact, routes, extra, body),
            )| Req {
                method,
                ruri,
                transport,
                via_host,
                via_port,
                branch,
                rport,
                max_forwards,
                to,
                from,
                call_id,
                cseq,
                contact,
                routes,
                extra,
                body,
            },
        )
}

fn emit(r: &Req, buf: &mut [u8]) -> usize {
    let routes: Vec<&str> = r.routes.iter().map(String::as_str).collect();
    let extra: Vec<(&str, &[u8])> = r
        .extra
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let parts = RequestParts {
        method: &r.method,
        request_uri: &r.ruri,
        via: SentBy {
            transport: r.transport,
            host: &r.via_host,
            port: r.via_port,
            branch: &r.branch,
            rport: r.rport,
        },
        max_forwards: r.max_forwards,
        to: Address {
            display: r.to.0.as_deref(),
            uri: &r.to.1,
            tag: r.to.2.as_deref(),
        },
        from: Address {
            display: r.from.0.as_deref(),
            uri: &r.from.1,
            tag: Some(&r.from.2),
        },
        call_id: &r.call_id,
        cseq: r.cseq,
        contact: r.contact.as_deref(),
        route: &routes,
        extra: &extra,
        content_type: (!r.body.is_empty()).then_some("application/octet-stream"),
        body: &r.body,
    };
    parts.write(buf).expect("fits").len()
}

fn parse<'b, 'h>(bytes: &'b [u8], slots: &'h mut [Header<'b>]) -> Message<'b, 'h> {
    match Parser::stream().parse(bytes, slots) {
        Ok(Status::Complete(m)) => m,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// parse(emit(parts)) has exactly the parts.
    #[test]
    fn built_requests_parse_back(r in req()) {
        let mut buf = vec![0u8; 8192];
        let n = emit(&r, &mut buf);
        let mut slots = [Header::EMPTY; 32];
        let m = parse(&buf[..n], &mut slots);
        prop_assert_eq!(m.len(), n);
        prop_assert_eq!(m.method(), Some(r.method.as_str()));
        prop_assert_eq!(m.request_uri().unwrap().raw(), r.ruri.as_str());
        let via = m.top_via().unwrap().unwrap();
        prop_assert_eq!(via.transport, r.transport);
        prop_assert_eq!(via.host.to_string(), r.via_host.clone());
        prop_assert_eq!(via.port, r.via_port);
        prop_assert_eq!(via.branch(), Some(r.branch.as_str()));
        prop_assert_eq!(via.rport(), r.rport.then_some(None));
        prop_assert_eq!(m.max_forwards().unwrap(), Some(r.max_forwards));
        let to = m.to().unwrap();
        prop_assert_eq!(to.uri.raw(), r.to.1.as_str());
        prop_assert_eq!(to.tag(), r.to.2.as_deref());
        let mut out = [0u8; 64];
        prop_assert_eq!(to.display_name(&mut out), r.to.0.as_deref().map(str::as_bytes));
        let from = m.from().unwrap();
        prop_assert_eq!(from.uri.raw(), r.from.1.as_str());
        prop_assert_eq!(from.tag(), Some(r.from.2.as_str()));
        prop_assert_eq!(from.display_name(&mut out), r.from.0.as_deref().map(str::as_bytes));
        prop_assert_eq!(m.call_id().unwrap(), r.call_id.as_str());
        let cseq = m.cseq().unwrap();
        prop_assert_eq!((cseq.seq, cseq.method), (r.cseq, r.method.as_str()));
        let contacts: Vec<_> = m.contacts().map(|c| match c.unwrap() {
            Contact::Addr(a) => a.uri.raw().to_string(),
            Contact::Star => "*".into(),
        }).collect();
        prop_assert_eq!(contacts, r.contact.iter().cloned().collect::<Vec<_>>());
        let routes: Vec<String> = m.routes().map(|x| x.unwrap().uri.raw().to_string()).collect();
        prop_assert_eq!(routes, r.routes.clone());
        let extra: Vec<(String, Vec<u8>)> = m
            .headers()
            .iter()
            .filter(|h| h.raw_name.starts_with(b"X-"))
            .map(|h| (h.name_str().unwrap().to_string(), h.value.to_vec()))
            .collect();
        let want: Vec<(String, Vec<u8>)> =
            r.extra.iter().map(|(n, v)| (n.clone(), v.clone().into_bytes())).collect();
        prop_assert_eq!(extra, want);
        prop_assert_eq!(m.body(), &r.body[..]);
        prop_assert_eq!(validate::request(&m), Ok(()));
    }

    /// write_to(parse(x)) parses to an equal message; a stream cut anywhere is Partial.
    #[test]
    fn parsed_messages_write_back(r in req(), cut in any::<prop::sample::Index>()) {
        let mut buf = vec![0u8; 8192];
        let n = emit(&r, &mut buf);
        let bytes = &buf[..n];
        let mut slots = [Header::EMPTY; 32];
        let m = parse(bytes, &mut slots);
        let mut out = vec![0u8; 8192];
        let mut w = Writer::new(&mut out);
        m.write_to(&mut w).unwrap();
        let written = w.finish();
        let mut slots2 = [Header::EMPTY; 32];
        let m2 = parse(written, &mut slots2);
        prop_assert_eq!(m.start_line(), m2.start_line());
        prop_assert_eq!(m.headers(), m2.headers());
        prop_assert_eq!(m.body(), m2.body());
        let at = cut.index(n);
        let mut slots3 = [Header::EMPTY; 32];
        prop_assert_eq!(Parser::stream().parse(&bytes[..at], &mut slots3), Ok(Status::Partial));
    }

    /// The response built for a parsed request echoes Via, From, Call-ID and CSeq, and adds
    /// the To tag (§8.2.6.2).
    #[test]
    fn responses_echo_the_request(r in req(), code in 101u16..700, tag in token()) {
        let mut buf = vec![0u8; 8192];
        let n = emit(&r, &mut buf);
        let mut slots = [Header::EMPTY; 32];
        let m = parse(&buf[..n], &mut slots);
        let mut out = vec![0u8; 8192];
        let parts = ResponseParts { to_tag: Some(&tag), ..ResponseParts::new(code, "Reason") };
        let resp = parts.write(m.headers(), &mut out).unwrap();
        let mut slots2 = [Header::EMPTY; 32];
        let p = parse(resp, &mut slots2);
        prop_assert_eq!(p.status(), Some(code));
        prop_assert_eq!(p.top_via().unwrap(), m.top_via().unwrap());
        prop_assert_eq!(p.from().unwrap(), m.from().unwrap());
        prop_assert_eq!(p.call_id().unwrap(), m.call_id().unwrap());
        prop_assert_eq!(p.cseq().unwrap(), m.cseq().unwrap());
        let want = r.to.2.clone().unwrap_or(tag.clone());
        prop_assert_eq!(p.to().unwrap().tag(), Some(want.as_str()));
        prop_assert_eq!(validate::response(&p), Ok(()));
    }

    /// Arbitrary bytes, and valid messages with bytes flipped, never panic anything.
    #[test]
    fn never_panics(data in prop::collection::vec(any::<u8>(), 0..600)) {
        poke(&data);
    }

    #[test]
    fn mutated_messages_never_panic(r in req(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut buf = vec![0u8; 8192];
        let n = emit(&r, &mut buf);
        let mut bytes = buf[..n].to_vec();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        poke(&bytes);
    }
}

fn poke(data: &[u8]) {
    for parser in [Parser::datagram(), Parser::stream()] {
        let mut slots = [Header::EMPTY; 16];
        if let Ok(Status::Complete(m)) = parser.parse(data, &mut slots) {
            let _ = (
                m.top_via(),
                m.from(),
                m.to(),
                m.call_id(),
                m.cseq(),
                m.max_forwards(),
            );
            let _ = (m.content_type(), m.expires());
            let _ = m.vias().count() + m.contacts().count() + m.routes().count();
            let _ = m.values(HeaderName::Accept).count();
            let _ = if m.is_request() {
                validate::request(&m)
            } else {
                validate::response(&m)
            };
        }
        let mut slots = [Header::EMPTY; 16];
        let _ = parser.parse_head(data, &mut slots);
    }
}
