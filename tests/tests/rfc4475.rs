//! RFC 4475: the 49 SIP torture messages, one test each, asserting what RFC 4475 requires:
//! the parsed fields of the valid ones, and the exact status (or drop) for the others.

use sipwire_core::message::headers::{Contact, Credentials, MediaType, NameAddr};
use sipwire_core::message::validate::{self, Policy, Rejection};
use sipwire_core::message::{
    Header, HeaderName, Host, Message, ParseError, Parser, Scheme, Status, Uri,
};
use sipwire_tests::rfc4475;
use std::net::{IpAddr, Ipv4Addr};

/// What a server does with a datagram.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Accepted for processing.
    Accept,
    /// Answered with this status (a request).
    Answer(u16),
    /// Dropped (a response that fails, §18.1.2).
    Drop,
}

/// The receive path of a UAS (or, with `Policy::PROXY`, a proxy) over one datagram: parse,
/// syntax checks, then the element's policy. A request whose framing is broken is read again
/// head-only so that the answer can be built, and the answer is built to prove it can be.
fn verdict(name: &str, policy: &Policy<'_>) -> Verdict {
    let bytes = rfc4475(name);
    let mut slots = [Header::EMPTY; 64];
    let msg = match Parser::datagram().parse(&bytes, &mut slots) {
        Ok(Status::Complete(m)) => m,
        Ok(Status::Partial) => unreachable!("datagrams are never partial"),
        Err(e) => {
            let mut slots = [Header::EMPTY; 64];
            return match Parser::datagram().parse_head(&bytes, &mut slots) {
                Ok(Status::Complete(head)) if head.is_request => {
                    let code = e.status_code().expect("a request error has a status");
                    answer(
                        head.headers,
                        Rejection {
                            code,
                            reason: e.reason(),
                            header: None,
                        },
                        policy,
                    );
                    Verdict::Answer(code)
                }
                _ => Verdict::Drop,
            };
        }
    };
    if !msg.is_request() {
        return match validate::response(&msg) {
            Ok(()) => Verdict::Accept,
            Err(_) => Verdict::Drop,
        };
    }
    match validate::request(&msg).and_then(|()| policy.check(&msg)) {
        Ok(()) => Verdict::Accept,
        Err(r) => {
            answer(msg.headers(), r, policy);
            Verdict::Answer(r.code)
        }
    }
}

/// Builds the answer and checks it is a well-formed response to the request.
fn answer(req: &[Header<'_>], r: Rejection, policy: &Policy<'_>) {
    let mut buf = [0u8; 4096];
    let out = r
        .write(req, policy, Some("t0"), &mut buf)
        .expect("answer fits");
    let mut slots = [Header::EMPTY; 64];
    let resp = Parser::datagram()
        .parse(out, &mut slots)
        .expect("answer parses")
        .complete()
        .expect("complete");
    assert_eq!(resp.status(), Some(r.code));
}

fn with<R>(name: &str, f: impl FnOnce(&Message<'_, '_>) -> R) -> R {
    let bytes = rfc4475(name);
    let mut slots = [Header::EMPTY; 64];
    let msg = Parser::datagram()
        .parse(&bytes, &mut slots)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .complete()
        .expect("complete");
    f(&msg)
}

fn s(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

// ---------------------------------------------------------------- 3.1.1 valid messages

#[test]
fn wsinv() {
    with("wsinv", |m| {
        assert_eq!(m.method(), Some("INVITE"));
        let uri = m.request_uri().unwrap();
        assert_eq!(uri.user(), Some("vivekg"));
        assert_eq!(uri.param("unknownparam"), Some(None));
        assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
        let from = m.from().unwrap();
        assert_eq!(from.tag(), Some("98asjd8"));
        let mut out = [0u8; 64];
        assert_eq!(from.display_name(&mut out), Some(&b"J Rosenberg \\\""[..]));
        assert_eq!(m.max_forwards(), Ok(Some(68)));
        assert_eq!(m.call_id(), Ok("wsinv.ndaksdj@192.0.2.1"));
        let cseq = m.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method), (9, "INVITE"));
        let vias: Vec<_> = m.vias().collect::<Result<_, _>>().unwrap();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].branch(), Some("390skdjuw"));
        assert_eq!(vias[0].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(vias[1].transport, "TCP");
        assert_eq!(vias[1].host, Host::Name("spindle.example.com"));
        assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
        let route: Vec<_> = m.routes().collect::<Result<_, _>>().unwrap();
        assert!(route[0].uri.lr());
        assert_eq!(
            m.header(HeaderName::Subject).map(|h| h.value),
            Some(&b""[..])
        );
        let nf = m
            .headers()
            .iter()
            .find(|h| h.is("newfangledheader"))
            .unwrap();
        assert_eq!(nf.value, b"newfangled value\r\n continued newfangled value");
        let odd = m
            .headers()
            .iter()
            .find(|h| h.is("UnknownHeaderWithUnusualValue"))
            .unwrap();
        assert_eq!(odd.value, b";;,,;;,;");
        assert_eq!(m.body().len(), 150);
        assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
    });
    assert_eq!(verdict("wsinv", &Policy::UAS), Verdict::Accept);
}

#[test]
fn intmeth() {
    with("intmeth", |m| {
        let method = "!interesting-Method0123456789_*+`.%indeed'~";
        assert_eq!(m.method(), Some(method));
        assert_eq!(m.cseq().unwrap().method, method);
        let uri = m.request_uri().unwrap();
        assert_eq!(
            uri.user(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            uri.password(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(uri.host(), Some(Host::Name("example.com")));
        assert_eq!(
            m.top_via().unwrap().unwrap().branch(),
            Some("z9hG4bK-.!%66*_+`'~")
        );
        let to = m.to().unwrap();
        assert_eq!(
            to.display,
            Some(&b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\""[..])
        );
        let from = m.from().unwrap();
        assert_eq!(from.display, Some(&b"token1~` token2'+_ token3*%!.-"[..]));
        assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
        let p = from
            .params
            .iter()
            .find(|p| p.is("fromParam''~+*_!.-%"))
            .unwrap();
        assert_eq!(p.value_str(), Some("работающий"));
        assert_eq!(
            m.call_id(),
            Ok("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
        );
        assert_eq!(m.max_forwards(), Ok(Some(255)));
        let ext = m
            .headers()
            .iter()
            .find(|h| h.raw_name == b"extensionHeader-!.%*+_`'~")
            .unwrap();
        assert_eq!(s(ext.value), "\u{feff}大停電");
    });
    // An unknown method is parsed; the UAS answers 405 as for any method it lacks (§8.2.1).
    assert_eq!(verdict("intmeth", &Policy::UAS), Verdict::Answer(405));
    let everything = Policy {
        methods: &["!interesting-Method0123456789_*+`.%indeed'~"],
        ..Policy::UAS
    };
    assert_eq!(verdict("intmeth", &everything), Verdict::Accept);
}

#[test]
fn esc01() {
    with("esc01", |m| {
        let ruri = m.request_uri().unwrap();
        assert_eq!(ruri.user(), Some("sips%3Auser%40example.com"));
        assert_eq!(ruri.host(), Some(Host::Name("example.net")));
        let unescaped = Uri::parse(b"sip:sips%3auser%40example.com@example.net").unwrap();
        assert!(ruri.equivalent(&unescaped));
        let to = m.to().unwrap();
        assert!(to
            .uri
            .equivalent(&Uri::parse(b"sip:user@example.com").unwrap()));
        let from = m.from().unwrap();
        let mut out = [0u8; 32];
        let user =
            sipwire_core::message::uri::unescape(from.uri.user().unwrap().as_bytes(), &mut out);
        assert_eq!(user, Some(&b"I have spaces"[..]));
        let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
            panic!()
        };
        let plain = Uri::parse(b"sip:caller@host5.example.net;lr;name=value%2541").unwrap();
        assert_eq!(c.uri.params().iter().count(), 2);
        assert!(c.uri.equivalent(&plain));
        assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
    });
    assert_eq!(verdict("esc01", &Policy::UAS), Verdict::Accept);
}

#[test]
fn escnull() {
    with("escnull", |m| {
        assert_eq!(m.to().unwrap().uri.user(), Some("null-%00-null"));
        let contacts: Vec<_> = m.contacts().collect::<Result<_, _>>().unwrap();
        assert_eq!(contacts.len(), 2);
        let Contact::Addr(c) = contacts[1] else {
            panic!()
        };
        let mut out = [0xffu8; 4];
        assert_eq!(
            sipwire_core::message::uri::unescape(c.uri.user().unwrap().as_bytes(), &mut out),
            Some(&[0u8, 0][..])
        );
        assert_eq!(m.body(), b"");
    });
    assert_eq!(verdict("escnull", &Policy::UAS), Verdict::Accept);
}

#[test]
fn esc02() {
    with("esc02", |m| {
        // RE%47IST%45R is an unknown method, not REGISTER.
        assert_eq!(m.method(), Some("RE%47IST%45R"));
        assert_eq!(m.cseq().unwrap().method, "RE%47IST%45R");
        assert_eq!(m.to().unwrap().display, Some(&b"\"%Z%45\""[..]));
        assert_eq!(
            m.top_via().unwrap().unwrap().branch(),
            Some("z9hG4bK209%fzsnel234")
        );
        // C%6Fntact is an unknown header, not Contact: two Contacts.
        assert_eq!(m.contacts().count(), 2);
        let odd = m
            .headers()
            .iter()
            .find(|h| h.raw_name == b"C%6Fntact")
            .unwrap();
        assert_eq!(odd.name, HeaderName::Other);
    });
    assert_eq!(verdict("esc02", &Policy::UAS), Verdict::Answer(405));
}

#[test]
fn lwsdisp() {
    with("lwsdisp", |m| {
        let from = m.from().unwrap();
        assert_eq!(from.display, Some(&b"caller"[..]));
        assert_eq!(from.uri.raw(), "sip:caller@example.com");
        assert_eq!(from.tag(), Some("323"));
    });
    assert_eq!(verdict("lwsdisp", &Policy::UAS), Verdict::Accept);
}

#[test]
fn longreq() {
    with("longreq", |m| {
        assert_eq!(m.method(), Some("INVITE"));
        let vias: Vec<_> = m.vias().collect::<Result<_, _>>().unwrap();
        assert_eq!(vias.len(), 34);
        assert_eq!(vias[0].host, Host::Name("sip33.example.com"));
        assert!(vias[..33].iter().all(|v| v.branch().is_none()));
        assert!(vias[33].branch().unwrap().len() > 100);
        let to = m.to().unwrap();
        assert!(to.display.unwrap().len() > 100);
        assert_eq!(to.tag(), None);
        assert_eq!(to.uri.port(), Some(6000));
        assert_eq!(to.uri.params().iter().count(), 3);
        assert!(m.from().unwrap().tag().unwrap().len() > 100);
        assert!(m.call_id().unwrap().len() > 100);
        let unknown = m
            .headers()
            .iter()
            .find(|h| h.raw_name.starts_with(b"Unknown-LongLong"))
            .unwrap();
        assert_eq!(unknown.name, HeaderName::Other);
        assert!(unknown.raw_name.len() > 80);
        assert_eq!(m.contacts().count(), 1);
        assert_eq!(m.body().len(), 150);
    });
    assert_eq!(verdict("longreq", &Policy::UAS), Verdict::Accept);
}

#[test]
fn dblreq() {
    let bytes = rfc4475("dblreq");
    let mut slots = [Header::EMPTY; 32];
    let m = Parser::datagram()
        .parse(&bytes, &mut slots)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(m.method(), Some("REGISTER"));
    assert_eq!(m.body(), b"");
    assert!(
        m.len() < bytes.len(),
        "the trailing INVITE is not part of the message"
    );
    assert_eq!(m.call_id(), Ok("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
    assert_eq!(verdict("dblreq", &Policy::UAS), Verdict::Accept);
}

#[test]
fn semiuri() {
    with("semiuri", |m| {
        let uri = m.request_uri().unwrap();
        assert_eq!(uri.user(), Some("user;par=u%40example.net"));
        assert_eq!(uri.host(), Some(Host::Name("example.com")));
        assert!(uri.params().is_empty());
        assert_eq!(m.values(HeaderName::Accept).count(), 6);
    });
    assert_eq!(verdict("semiuri", &Policy::UAS), Verdict::Accept);
}

#[test]
fn transports() {
    with("transports", |m| {
        let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
        assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    });
    assert_eq!(verdict("transports", &Policy::UAS), Verdict::Accept);
}

#[test]
fn mpart01() {
    with("mpart01", |m| {
        let ct = m.content_type().unwrap().unwrap();
        assert!(ct.is("multipart", "mixed"));
        let boundary = ct.params.get("boundary").unwrap().unwrap();
        assert!(!boundary.is_empty());
        let body = m.body();
        let cl: usize = s(m.header(HeaderName::ContentLength).unwrap().value)
            .parse()
            .unwrap();
        assert_eq!(body.len(), cl);
        assert!(body.windows(boundary.len()).any(|w| w == boundary));
    });
    let mixed = Policy {
        methods: &["MESSAGE"],
        accept: &["application/sdp", "multipart/mixed"],
        ..Policy::UAS
    };
    assert_eq!(verdict("mpart01", &mixed), Verdict::Accept);
    let no_multipart = Policy {
        methods: &["MESSAGE"],
        ..Policy::UAS
    };
    assert_eq!(verdict("mpart01", &no_multipart), Verdict::Answer(415));
}

#[test]
fn unreason() {
    with("unreason", |m| {
        assert_eq!(m.status(), Some(200));
        let reason = s(m.reason().unwrap());
        assert!(reason.starts_with("= 2**3 * 5**2 "));
        assert!(!reason.is_ascii());
        assert_eq!(m.body().len(), 154);
    });
    assert_eq!(verdict("unreason", &Policy::UAS), Verdict::Accept);
}

#[test]
fn noreason() {
    with("noreason", |m| {
        assert_eq!(m.status(), Some(100));
        assert_eq!(m.reason(), Some(&b""[..]));
    });
    assert_eq!(verdict("noreason", &Policy::UAS), Verdict::Accept);
}

// ---------------------------------------------------------------- 3.1.2 invalid messages

/// Asserts the parser accepts the message (the fault is in a header's value) and that the
/// syntax check names `header` and answers 400.
fn bad_header(name: &str, header: HeaderName) {
    let r = with(name, |m| validate::request(m).unwrap_err());
    assert_eq!((r.code, r.header), (400, Some(header)), "{name}: {r:?}");
    assert_eq!(verdict(name, &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn badinv01() {
    bad_header("badinv01", HeaderName::Via);
}

#[test]
fn clerr() {
    let bytes = rfc4475("clerr");
    let mut slots = [Header::EMPTY; 32];
    assert_eq!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::Truncated)
    );
    assert_eq!(verdict("clerr", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn ncl() {
    let bytes = rfc4475("ncl");
    let mut slots = [Header::EMPTY; 32];
    assert_eq!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::BadHeaderValue(HeaderName::ContentLength))
    );
    assert_eq!(verdict("ncl", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn scalar02() {
    with("scalar02", |m| {
        assert_eq!(m.cseq(), Err(ParseError::BadHeaderValue(HeaderName::CSeq)));
        assert_eq!(
            m.max_forwards(),
            Err(ParseError::BadHeaderValue(HeaderName::MaxForwards))
        );
        assert_eq!(
            m.expires(),
            Err(ParseError::BadHeaderValue(HeaderName::Expires))
        );
        let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(c.expires(), None);
    });
    assert_eq!(verdict("scalar02", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn scalarlg() {
    with("scalarlg", |m| {
        assert_eq!(m.status(), Some(503));
        assert_eq!(m.cseq(), Err(ParseError::BadHeaderValue(HeaderName::CSeq)));
    });
    assert_eq!(verdict("scalarlg", &Policy::UAS), Verdict::Drop);
}

#[test]
fn quotbal() {
    bad_header("quotbal", HeaderName::To);
}

#[test]
fn ltgtruri() {
    let bytes = rfc4475("ltgtruri");
    let mut slots = [Header::EMPTY; 32];
    assert!(matches!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::BadRequestUri(_))
    ));
    assert_eq!(verdict("ltgtruri", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn lwsruri() {
    let bytes = rfc4475("lwsruri");
    let mut slots = [Header::EMPTY; 32];
    assert!(Parser::datagram().parse(&bytes, &mut slots).is_err());
    assert_eq!(verdict("lwsruri", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn lwsstart() {
    let bytes = rfc4475("lwsstart");
    let mut slots = [Header::EMPTY; 32];
    assert_eq!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::BadStartLine)
    );
    assert_eq!(verdict("lwsstart", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn trws() {
    let bytes = rfc4475("trws");
    let mut slots = [Header::EMPTY; 32];
    assert_eq!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::BadStartLine)
    );
    assert_eq!(verdict("trws", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn escruri() {
    with("escruri", |m| {
        assert_eq!(
            m.request_uri().unwrap().headers(),
            Some("Route=%3Csip:example.com%3E")
        );
        let r = validate::request(m).unwrap_err();
        assert_eq!(r.reason, "Headers Not Allowed In Request-URI");
    });
    assert_eq!(verdict("escruri", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn baddate() {
    // A proxy may forward it and a UA may ignore Date: the Date is carried, not judged.
    with("baddate", |m| {
        assert_eq!(
            m.header(HeaderName::Date).unwrap().value,
            b"Fri, 01 Jan 2010 16:00:00 EST"
        );
    });
    assert_eq!(verdict("baddate", &Policy::UAS), Verdict::Accept);
    assert_eq!(verdict("baddate", &Policy::PROXY), Verdict::Accept);
}

#[test]
fn regbadct() {
    bad_header("regbadct", HeaderName::Contact);
}

#[test]
fn badaspec() {
    bad_header("badaspec", HeaderName::To);
}

#[test]
fn baddn() {
    bad_header("baddn", HeaderName::From);
}

#[test]
fn badvers() {
    with("badvers", |m| {
        assert_eq!(m.version().major, 7);
        assert_eq!(validate::request(m).unwrap_err().code, 505);
    });
    assert_eq!(verdict("badvers", &Policy::UAS), Verdict::Answer(505));
}

#[test]
fn mismatch01() {
    let r = with("mismatch01", |m| validate::request(m).unwrap_err());
    assert_eq!((r.code, r.reason), (400, "CSeq Method Mismatch"));
    assert_eq!(verdict("mismatch01", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn mismatch02() {
    let r = with("mismatch02", |m| validate::request(m).unwrap_err());
    assert_eq!((r.code, r.reason), (400, "CSeq Method Mismatch"));
    assert_eq!(verdict("mismatch02", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn bigcode() {
    let bytes = rfc4475("bigcode");
    let mut slots = [Header::EMPTY; 32];
    assert_eq!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::BadStatusCode)
    );
    assert_eq!(verdict("bigcode", &Policy::UAS), Verdict::Drop);
}

// ---------------------------------------------------------------- 3.2 transaction layer

#[test]
fn badbranch() {
    with("badbranch", |m| {
        let via = m.top_via().unwrap().unwrap();
        // The branch is exactly the cookie with nothing after it: not a valid RFC 3261
        // branch, so RFC 2543 matching applies; the message is still processed.
        assert_eq!(via.branch(), Some("z9hG4bK"));
    });
    assert_eq!(verdict("badbranch", &Policy::UAS), Verdict::Accept);
}

// ---------------------------------------------------------------- 3.3 application layer

#[test]
fn insuf() {
    let r = with("insuf", |m| validate::request(m).unwrap_err());
    assert_eq!(r.code, 400);
    assert_eq!(r.header, Some(HeaderName::From));
    // The answer can still be built from what is there.
    assert_eq!(verdict("insuf", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn unkscm() {
    with("unkscm", |m| {
        let uri = m.request_uri().unwrap();
        assert_eq!(uri.scheme(), Scheme::Other);
        assert_eq!(uri.scheme_str(), "nobodyKnowsThisScheme");
        assert_eq!(uri.opaque(), "totallyopaquecontent");
    });
    assert_eq!(verdict("unkscm", &Policy::UAS), Verdict::Answer(416));
    assert_eq!(verdict("unkscm", &Policy::PROXY), Verdict::Answer(416));
}

#[test]
fn novelsc() {
    with("novelsc", |m| {
        assert_eq!(m.request_uri().unwrap().scheme_str(), "soap.beep");
    });
    assert_eq!(verdict("novelsc", &Policy::UAS), Verdict::Answer(416));
}

#[test]
fn unksm2() {
    with("unksm2", |m| {
        assert_eq!(m.to().unwrap().uri.scheme_str(), "isbn");
        assert_eq!(m.from().unwrap().uri.scheme_str(), "http");
        let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(c.uri.scheme_str(), "name");
    });
    assert_eq!(verdict("unksm2", &Policy::UAS), Verdict::Accept);
}

#[test]
fn bext01() {
    with("bext01", |m| {
        let r = Policy::UAS.check(m).unwrap_err();
        assert_eq!(r.code, 420);
        let mut buf = [0u8; 2048];
        let out = r
            .write(m.headers(), &Policy::UAS, Some("x"), &mut buf)
            .unwrap();
        assert!(
            s(out).contains("\r\nUnsupported: nothingSupportsThis, nothingSupportsThisEither\r\n")
        );
        let p = Policy::PROXY.check(m).unwrap_err();
        assert_eq!((p.code, p.header), (420, Some(HeaderName::ProxyRequire)));
        let out = p
            .write(m.headers(), &Policy::PROXY, None, &mut buf)
            .unwrap();
        assert!(s(out)
            .contains("\r\nUnsupported: noProxiesSupportThis, norDoAnyProxiesSupportThis\r\n"));
    });
    assert_eq!(verdict("bext01", &Policy::UAS), Verdict::Answer(420));
}

#[test]
fn invut() {
    with("invut", |m| {
        assert_eq!(
            m.content_type().unwrap(),
            MediaType::parse(b"application/unknownformat")
        );
        let r = Policy::UAS.check(m).unwrap_err();
        let mut buf = [0u8; 2048];
        let out = r
            .write(m.headers(), &Policy::UAS, Some("x"), &mut buf)
            .unwrap();
        assert!(s(out).starts_with("SIP/2.0 415 "));
        assert!(s(out).contains("\r\nAccept: application/sdp\r\n"));
    });
    assert_eq!(verdict("invut", &Policy::UAS), Verdict::Answer(415));
}

#[test]
fn regaut01() {
    with("regaut01", |m| {
        let auth = m.header(HeaderName::Authorization).unwrap();
        let c = Credentials::parse(auth.value).unwrap();
        assert_eq!(c.scheme, "NoOneKnowsThisScheme");
        assert_eq!(c.params.get("opaque-data"), Some(&b"here"[..]));
    });
    // Syntax is fine; the registrar's challenge (401) is the registrar's decision.
    assert_eq!(verdict("regaut01", &Policy::UAS), Verdict::Accept);
}

#[test]
fn multi01() {
    let r = with("multi01", |m| validate::request(m).unwrap_err());
    assert_eq!(r.code, 400);
    assert!(r.reason.starts_with("Multiple "), "{r:?}");
    assert_eq!(verdict("multi01", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn mcl01() {
    let bytes = rfc4475("mcl01");
    let mut slots = [Header::EMPTY; 32];
    assert_eq!(
        Parser::datagram().parse(&bytes, &mut slots),
        Err(ParseError::ConflictingContentLength)
    );
    assert_eq!(verdict("mcl01", &Policy::UAS), Verdict::Answer(400));
}

#[test]
fn bcast() {
    with("bcast", |m| {
        let vias: Vec<_> = m.vias().collect::<Result<_, _>>().unwrap();
        assert_eq!(vias[1].host, Host::Ipv4(Ipv4Addr::BROADCAST));
        let broadcast = IpAddr::V4(Ipv4Addr::BROADCAST);
        assert!(matches!(vias[1].host, Host::Ipv4(a) if IpAddr::V4(a) == broadcast));
    });
    assert_eq!(verdict("bcast", &Policy::UAS), Verdict::Accept);
}

#[test]
fn zeromf() {
    with("zeromf", |m| assert_eq!(m.max_forwards(), Ok(Some(0))));
    assert_eq!(verdict("zeromf", &Policy::PROXY), Verdict::Answer(483));
    assert_eq!(verdict("zeromf", &Policy::UAS), Verdict::Accept);
}

#[test]
fn cparam01() {
    with("cparam01", |m| {
        let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
            panic!()
        };
        // Not bracketed: `unknownparam` is a header parameter, not a URI parameter.
        assert!(!c.bracketed);
        assert!(c.uri.params().is_empty());
        assert!(c.params.contains("unknownparam"));
        assert_eq!(c.uri.user(), Some("+19725552222"));
    });
    assert_eq!(verdict("cparam01", &Policy::UAS), Verdict::Accept);
}

#[test]
fn cparam02() {
    with("cparam02", |m| {
        let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
            panic!()
        };
        assert!(c.bracketed);
        assert!(c.uri.params().contains("unknownparam"));
        assert!(c.params.is_empty());
    });
    assert_eq!(verdict("cparam02", &Policy::UAS), Verdict::Accept);
}

#[test]
fn regescrt() {
    with("regescrt", |m| {
        let Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(c.uri.headers(), Some("Route=%3Csip:sip.example.com%3E"));
        assert_eq!(m.body(), b"");
    });
    assert_eq!(verdict("regescrt", &Policy::UAS), Verdict::Accept);
}

#[test]
fn sdp01() {
    with("sdp01", |m| {
        let r = Policy::UAS.check(m).unwrap_err();
        assert_eq!((r.code, r.header), (415, Some(HeaderName::Accept)));
    });
    assert_eq!(verdict("sdp01", &Policy::UAS), Verdict::Answer(415));
}

#[test]
fn inv2543() {
    with("inv2543", |m| {
        let via = m.top_via().unwrap().unwrap();
        assert_eq!(via.branch(), None);
        assert_eq!(m.to().unwrap().tag(), None);
        assert_eq!(m.max_forwards(), Ok(None));
        let rr: Vec<NameAddr<'_>> = m.record_routes().collect::<Result<_, _>>().unwrap();
        assert_eq!(rr[0].uri.maddr(), Some("ss1.example.com"));
        assert_eq!(m.from().unwrap().uri.user_param(), Some("phone"));
    });
    assert_eq!(verdict("inv2543", &Policy::UAS), Verdict::Accept);
}

/// Every file in the folder is covered by a test above.
#[test]
fn all_49_covered() {
    let names: Vec<String> = std::fs::read_dir(sipwire_tests::rfc4475_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "dat").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(names.len(), 49);
    let me = include_str!("rfc4475.rs");
    for n in names {
        assert!(me.contains(&format!("fn {n}()")), "no test for {n}");
    }
}
