//! Redirect server and 3xx handling tests (RFC 3261 §8.3, §8.1.3.4, §21.3).

extern crate std;

use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::message::{Header, Parser};
use crate::registrar::{BindingSlot, BindingStore};

const AOR: &[u8] = b"sip:bob@example.com";

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

fn request(method: &str, ruri: &str) -> Vec<u8> {
    format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.30;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:carol@example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@example.com\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn store_with<'s>(
    slots: &'s mut [BindingSlot],
    entries: &[(&'static str, Option<u16>, u64)],
) -> BindingStore<'s> {
    let mut store = BindingStore::new(slots);
    for &(contact, q, until) in entries {
        store
            .update(&Binding {
                aor: AOR,
                contact,
                call_id: "reg",
                cseq: 1,
                q,
                expires_at: secs(until),
                instance: None,
            })
            .unwrap();
    }
    store
}

/// `(code, outcome, Contact)` of the answer.
fn answer(
    server: &RedirectServer<'_>,
    store: &BindingStore<'_>,
    now: Instant,
    bytes: &[u8],
) -> (u16, Outcome, Option<String>) {
    let mut h = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(bytes, &mut h)
        .unwrap()
        .complete()
        .unwrap();
    let mut out = [0u8; 1024];
    let r = server.process(now, &msg, store, &mut out).unwrap();
    let contact = r
        .header("Contact")
        .map(|v| String::from_utf8(v.to_vec()).unwrap());
    (r.code, r.outcome, contact)
}

fn server() -> RedirectServer<'static> {
    RedirectServer::new(RedirectConfig {
        domains: &["example.com"],
        ..RedirectConfig::default()
    })
}

/// A case: name, bindings `(contact, q, expires at)`, request, status, Contact.
type Case<'a> = (&'a str, Entries<'a>, Vec<u8>, u16, Option<&'a str>);
type Entries<'a> = &'a [(&'static str, Option<u16>, u64)];

#[test]
fn answers_table() {
    let one: &[(&str, Option<u16>, u64)] = &[("sip:bob@192.0.2.4:5060", None, 3600)];
    let three: &[(&str, Option<u16>, u64)] = &[
        ("sip:bob@192.0.2.4", Some(100), 3600),
        ("sip:bob@192.0.2.5;transport=tcp", Some(900), 600),
        ("mailto:bob@example.com", None, 60),
    ];
    let invite = request("INVITE", "sip:bob@example.com");
    let cases: Vec<Case<'_>> = vec![
        (
            "one binding: 302",
            one,
            invite.clone(),
            302,
            Some("<sip:bob@192.0.2.4:5060>;expires=3590"),
        ),
        (
            "several: 300, highest q first, no q ranks as 1.0",
            three,
            invite.clone(),
            300,
            Some(
                "<mailto:bob@example.com>;expires=50, <sip:bob@192.0.2.5;transport=tcp>;q=0.9;expires=590, \
<sip:bob@192.0.2.4>;q=0.1;expires=3590",
            ),
        ),
        ("none: 404", &[], invite.clone(), 404, None),
        (
            "any method but ACK and CANCEL",
            one,
            request("OPTIONS", "sip:bob@example.com"),
            302,
            Some("<sip:bob@192.0.2.4:5060>;expires=3590"),
        ),
        (
            "Request-URI parameters and case do not matter",
            one,
            request("INVITE", "sip:bob@EXAMPLE.com;user=ip"),
            302,
            Some("<sip:bob@192.0.2.4:5060>;expires=3590"),
        ),
        (
            "never to the Request-URI itself",
            &[("sip:bob@example.com", None, 3600)],
            invite.clone(),
            404,
            None,
        ),
        ("CANCEL: 200", one, request("CANCEL", "sip:bob@example.com"), 200, None),
        ("not SIP: 416", one, request("INVITE", "tel:+15551234"), 416, None),
        (
            "another domain: 404",
            one,
            request("INVITE", "sip:bob@example.org"),
            404,
            None,
        ),
    ];
    for (name, entries, bytes, code, contact) in cases {
        let mut slots = vec![BindingSlot::EMPTY; 4];
        let store = store_with(&mut slots, entries);
        let (got, _, c) = answer(&server(), &store, secs(10), &bytes);
        assert_eq!(got, code, "{name}");
        assert_eq!(c.as_deref(), contact, "{name}");
    }
}

#[test]
fn outcomes_and_errors() {
    let mut slots = vec![BindingSlot::EMPTY; 4];
    let store = store_with(&mut slots, &[("sip:bob@192.0.2.4", None, 100)]);
    let invite = request("INVITE", "sip:bob@example.com");
    let s = server();
    assert_eq!(
        answer(&s, &store, secs(0), &invite).1,
        Outcome::Redirected { targets: 1 }
    );
    // Lapsed at 100 s.
    assert_eq!(
        answer(&s, &store, secs(100), &invite).1,
        Outcome::Refused(Refusal::NoBinding)
    );
    let s480 = RedirectServer::new(RedirectConfig {
        no_binding: NoBinding::TemporarilyUnavailable,
        ..*s.config()
    });
    assert_eq!(answer(&s480, &store, secs(100), &invite).0, 480);
    assert_eq!(
        answer(
            &s,
            &store,
            secs(0),
            &request("INVITE", "sip:bob@example.org")
        )
        .1,
        Outcome::NotForUs
    );
    assert_eq!(
        answer(
            &s,
            &store,
            secs(0),
            &request("CANCEL", "sip:bob@example.com")
        )
        .1,
        Outcome::CancelAccepted
    );
    let mut h = [Header::EMPTY; 32];
    let ack = request("ACK", "sip:bob@example.com");
    let msg = Parser::datagram()
        .parse(&ack, &mut h)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(
        s.process(secs(0), &msg, &store, &mut [0u8; 64])
            .unwrap_err(),
        ServerError::NoResponse
    );
    let msg = Parser::datagram()
        .parse(&invite, &mut h)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(
        s.process(secs(0), &msg, &store, &mut [0u8; 8]).unwrap_err(),
        ServerError::OutputTooSmall
    );
}

#[test]
fn at_most_max_targets_by_q() {
    let names: Vec<String> = (0..MAX_TARGETS + 4)
        .map(|i| format!("sip:bob@192.0.2.{i}"))
        .collect();
    let mut slots = vec![BindingSlot::EMPTY; MAX_TARGETS + 4];
    let mut store = BindingStore::new(&mut slots[..]);
    for (i, n) in names.iter().enumerate() {
        store
            .update(&Binding {
                aor: AOR,
                contact: n,
                call_id: "reg",
                cseq: 1,
                q: Some(i as u16 * 10),
                expires_at: secs(60),
                instance: None,
            })
            .unwrap();
    }
    let (code, outcome, contact) = answer(
        &server(),
        &store,
        secs(0),
        &request("INVITE", "sip:bob@example.com"),
    );
    assert_eq!(
        (code, outcome),
        (
            300,
            Outcome::Redirected {
                targets: MAX_TARGETS
            }
        )
    );
    let contact = contact.unwrap();
    // The four lowest q (0 to 0.03) are left out; the highest comes first.
    assert!(
        contact.starts_with("<sip:bob@192.0.2.19>;q=0.19;expires=60, "),
        "{contact}"
    );
    assert!(
        contact.ends_with("<sip:bob@192.0.2.4>;q=0.04;expires=60"),
        "{contact}"
    );
}

fn response(status: &str, contacts: &[&str], extra: &str) -> Vec<u8> {
    let mut s = format!(
        "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP 192.0.2.30;branch=z9hG4bK74bf9\r\n\
To: <sip:bob@example.com>;tag=8321234356\r\nFrom: <sip:carol@example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@example.com\r\nCSeq: 1 INVITE\r\n"
    );
    for c in contacts {
        s += &format!("Contact: {c}\r\n");
    }
    s += extra;
    s += "Content-Length: 0\r\n\r\n";
    s.into_bytes()
}

/// `(uri, q, expires)` of the targets, with `skip` and room for `room`.
fn read_targets(
    bytes: &[u8],
    skip: &mut dyn FnMut(&Uri<'_>) -> bool,
    room: usize,
) -> Vec<(String, Option<u16>, Option<u32>)> {
    let mut h = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(bytes, &mut h)
        .unwrap()
        .complete()
        .unwrap();
    let mut out = vec![RedirectTarget::EMPTY; room];
    let n = targets(&msg, &mut |u| skip(u), &mut out);
    out[..n]
        .iter()
        .map(|t| (t.uri.into(), t.q, t.expires))
        .collect()
}

#[test]
fn client_targets() {
    let r = response(
        "300 Multiple Choices",
        &[
            "<sip:bob@192.0.2.4>;q=0.1, <sip:bob@192.0.2.5>;q=0.5;expires=30",
            "<sip:BOB@192.0.2.6>, <sip:bob@192.0.2.5;foo>;q=1",
            "*",
            "<sip:bob@192.0.2.7>;q=0.5",
        ],
        "Expires: 120\r\n",
    );
    let none = &mut |_: &Uri<'_>| false;
    assert_eq!(
        read_targets(&r, none, 8),
        [
            ("sip:BOB@192.0.2.6".into(), None, Some(120)),
            ("sip:bob@192.0.2.5".into(), Some(500), Some(30)),
            ("sip:bob@192.0.2.7".into(), Some(500), Some(120)),
            ("sip:bob@192.0.2.4".into(), Some(100), Some(120)),
        ]
    );
    // Bounded; and URIs the caller already has are skipped.
    let tried = Uri::parse(b"sip:BOB@192.0.2.6").unwrap();
    let got = read_targets(&r, &mut |u| u.equivalent(&tried), 2);
    assert_eq!(
        got.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        ["sip:bob@192.0.2.5", "sip:bob@192.0.2.7"]
    );
    // A 302 without expires: valid once.
    let r = response("302 Moved Temporarily", &["<sip:bob@192.0.2.4>"], "");
    assert_eq!(
        read_targets(&r, none, 4),
        [("sip:bob@192.0.2.4".into(), None, None)]
    );
    // Not targets: 305, 380, 4xx, 2xx.
    for status in [
        "305 Use Proxy",
        "380 Alternative Service",
        "404 Not Found",
        "200 OK",
    ] {
        let r = response(status, &["<sip:bob@192.0.2.4>"], "");
        assert!(read_targets(&r, none, 4).is_empty(), "{status}");
    }
}

#[test]
fn new_request_uri() {
    let cases = [
        ("sip:bob@192.0.2.4", Some("sip:bob@192.0.2.4")),
        (
            "sip:bob@192.0.2.4:5070;transport=tcp;method=INVITE;lr?Subject=foo&Priority=urgent",
            Some("sip:bob@192.0.2.4:5070;transport=tcp;lr"),
        ),
        (
            "sips:bob@example.com;METHOD=REGISTER",
            Some("sips:bob@example.com"),
        ),
        ("sip:example.com?h=v", Some("sip:example.com")),
        (
            "tel:+15551234;phone-context=example.com",
            Some("tel:+15551234;phone-context=example.com"),
        ),
        ("mailto:bob@example.com", Some("mailto:bob@example.com")),
        ("not a uri", None),
    ];
    for (uri, want) in cases {
        let t = RedirectTarget {
            uri,
            ..RedirectTarget::EMPTY
        };
        let mut buf = [0u8; 128];
        assert_eq!(t.request_uri(&mut buf), want, "{uri}");
    }
    let t = RedirectTarget {
        uri: "sip:bob@192.0.2.4",
        ..RedirectTarget::EMPTY
    };
    assert_eq!(t.request_uri(&mut [0u8; 5]), None);
}
