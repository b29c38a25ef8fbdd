//! Registrar and location-service tests over raw REGISTER bytes (RFC 3261 §10.3).

extern crate std;

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::message::{Header, Parser};

const AOR: &[u8] = b"sip:alice@example.com";

/// A REGISTER for `sip:alice@example.com` with these Contact lines and Expires.
fn register(call_id: &str, cseq: u32, contacts: &[&str], expires: Option<&str>) -> Vec<u8> {
    register_with(call_id, cseq, contacts, expires, "")
}

fn register_with(
    call_id: &str,
    cseq: u32,
    contacts: &[&str],
    expires: Option<&str>,
    extra: &str,
) -> Vec<u8> {
    let mut s = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKreg{cseq}\r\nMax-Forwards: 70\r\n\
To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=456248\r\n\
Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
    );
    for c in contacts {
        s += &format!("Contact: {c}\r\n");
    }
    if let Some(e) = expires {
        s += &format!("Expires: {e}\r\n");
    }
    s += extra;
    s += "Content-Length: 0\r\n\r\n";
    s.into_bytes()
}

/// A response, owned, for assertions.
#[derive(Debug)]
struct Reply {
    code: u16,
    outcome: Outcome,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

fn run<A: Authorizer>(
    reg: &mut Registrar<'_, A>,
    store: &mut BindingStore<'_>,
    now: Instant,
    bytes: &[u8],
) -> Reply {
    let mut slots = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(bytes, &mut slots)
        .unwrap()
        .complete()
        .unwrap();
    let mut out = [0u8; 2048];
    let r = reg.process(now, &msg, store, &mut out).unwrap();
    Reply {
        code: r.code,
        outcome: r.outcome,
        headers: r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8(v.to_vec()).unwrap()))
            .collect(),
    }
}

fn config() -> RegistrarConfig<'static> {
    RegistrarConfig {
        domains: &["example.com"],
        ..RegistrarConfig::default()
    }
}

fn slots(n: usize) -> Vec<BindingSlot> {
    vec![BindingSlot::EMPTY; n]
}

/// The contacts of `AOR` at `now`, as `(uri, seconds left)`.
fn bindings(store: &BindingStore<'_>, now: Instant) -> Vec<(String, u32)> {
    let mut out = [Binding::EMPTY; 16];
    let n = store.lookup(AOR, now, &mut out);
    out[..n]
        .iter()
        .map(|b| (b.contact.to_string(), b.expires_in(now)))
        .collect()
}

const C1: &str = "<sip:alice@192.0.2.10:5060>";
const C2: &str = "<sip:alice@192.0.2.11:5060>";
const C3: &str = "<sip:alice@192.0.2.12:5060>";

/// A case: name, request, status, and a header field expected (none: no header field).
type Case<'a> = (&'a str, Vec<u8>, u16, Option<(&'a str, &'a str)>);

#[test]
fn single_request_table() {
    let long_ok = "x".repeat(40);
    let cases: Vec<Case<'_>> = vec![
        (
            "add, default interval",
            register("c1", 1, &[C1], None),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;expires=3600")),
        ),
        (
            "Expires header",
            register("c1", 1, &[C1], Some("120")),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;expires=120")),
        ),
        (
            "contact expires wins over Expires",
            register("c1", 1, &["<sip:alice@192.0.2.10:5060>;expires=300"], Some("120")),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;expires=300")),
        ),
        (
            "lowered to max_expires",
            register("c1", 1, &[C1], Some("100000")),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;expires=7200")),
        ),
        (
            "q listed",
            register("c1", 1, &["<sip:alice@192.0.2.10:5060>;q=0.7"], Some("60")),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;q=0.7;expires=60")),
        ),
        (
            "instance listed back",
            register(
                "c1",
                1,
                &["<sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""],
                Some("60"),
            ),
            200,
            Some((
                "Contact",
                "<sip:alice@192.0.2.10>;expires=60;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"",
            )),
        ),
        (
            "423 below Min-Expires",
            register("c1", 1, &[C1], Some("30")),
            423,
            Some(("Min-Expires", "60")),
        ),
        (
            "423 from the contact parameter",
            register("c1", 1, &["<sip:alice@192.0.2.10>;expires=59"], Some("3600")),
            423,
            Some(("Min-Expires", "60")),
        ),
        (
            "exactly Min-Expires is fine",
            register("c1", 1, &[C1], Some("60")),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;expires=60")),
        ),
        ("removing nothing", register("c1", 1, &[C1], Some("0")), 200, None),
        ("query", register("c1", 1, &[], None), 200, None),
        ("* alone with Expires: 0", register("c1", 1, &["*"], Some("0")), 200, None),
        ("* with Expires: 3600", register("c1", 1, &["*"], Some("3600")), 400, None),
        ("* without Expires", register("c1", 1, &["*"], None), 400, None),
        ("* and a contact", register("c1", 1, &["*", C1], Some("0")), 400, None),
        ("* in a list", register("c1", 1, &["*, <sip:a@b>"], Some("0")), 400, None),
        (
            "420 for Require",
            register_with("c1", 1, &[C1], None, "Require: foo, path\r\n"),
            420,
            Some(("Unsupported", "foo, path")),
        ),
        (
            "malformed Contact",
            register("c1", 1, &["<sip:alice@192.0.2.10"], None),
            400,
            None,
        ),
        (
            "malformed contact expires",
            register("c1", 1, &["<sip:a@192.0.2.10>;expires=soon"], None),
            400,
            None,
        ),
        (
            "Call-ID of 40 bytes is fine",
            register(&long_ok, 1, &[C1], Some("60")),
            200,
            Some(("Contact", "<sip:alice@192.0.2.10:5060>;expires=60")),
        ),
    ];
    for (name, bytes, code, header) in cases {
        let mut s = slots(4);
        let mut store = BindingStore::new(&mut s[..]);
        let mut reg = Registrar::new(config());
        let r = run(&mut reg, &mut store, secs(0), &bytes);
        assert_eq!(r.code, code, "{name}: {r:?}");
        match header {
            Some((n, v)) => assert_eq!(r.header(n), Some(v), "{name}: {r:?}"),
            None => assert!(r.headers.is_empty(), "{name}: {r:?}"),
        }
        if code != 200 {
            assert!(
                store.is_empty(),
                "{name}: a refused request changes nothing"
            );
        }
    }
}

#[test]
fn request_uri_to_and_method() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    // Step 1: another domain.
    let other = String::from_utf8(register("c1", 1, &[C1], None))
        .unwrap()
        .replacen("REGISTER sip:example.com", "REGISTER sip:example.org", 1);
    let r = run(&mut reg, &mut store, secs(0), other.as_bytes());
    assert_eq!((r.code, r.outcome), (404, Outcome::NotForUs));
    // Step 5: an address-of-record of another domain than the Request-URI's.
    let foreign_to = String::from_utf8(register("c1", 1, &[C1], None))
        .unwrap()
        .replace("To: <sip:alice@example.com>", "To: <sip:alice@example.org>");
    let r = run(&mut reg, &mut store, secs(0), foreign_to.as_bytes());
    assert_eq!(
        (r.code, r.outcome),
        (404, Outcome::Refused(Refusal::NotFound))
    );
    // Not SIP: 416.
    let tel = String::from_utf8(register("c1", 1, &[C1], None))
        .unwrap()
        .replacen("REGISTER sip:example.com", "REGISTER tel:+15551234", 1);
    let r = run(&mut reg, &mut store, secs(0), tel.as_bytes());
    assert_eq!(r.code, 416);
    // A registrar accepts only REGISTER.
    let options = String::from_utf8(register("c1", 1, &[], None))
        .unwrap()
        .replace("REGISTER", "OPTIONS");
    let r = run(&mut reg, &mut store, secs(0), options.as_bytes());
    assert_eq!((r.code, r.header("Allow")), (405, Some("REGISTER")));
    // CSeq method mismatch: validate::request's 400.
    let mismatch = String::from_utf8(register("c1", 1, &[C1], None))
        .unwrap()
        .replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE");
    assert_eq!(
        run(&mut reg, &mut store, secs(0), mismatch.as_bytes()).code,
        400
    );
    // A CANCEL is answered 200 (§9.2).
    let cancel = String::from_utf8(register("c1", 1, &[], None))
        .unwrap()
        .replace("REGISTER", "CANCEL");
    let r = run(&mut reg, &mut store, secs(0), cancel.as_bytes());
    assert_eq!((r.code, r.outcome), (200, Outcome::CancelAccepted));
    // An ACK is never answered, even a malformed one (CSeq method mismatch here).
    let ack = String::from_utf8(register("c1", 1, &[], None))
        .unwrap()
        .replacen("REGISTER", "ACK", 1);
    let mut h = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(ack.as_bytes(), &mut h)
        .unwrap()
        .complete()
        .unwrap();
    let mut out = [0u8; 256];
    assert_eq!(
        reg.process(secs(0), &msg, &mut store, &mut out)
            .unwrap_err(),
        ServerError::NoResponse
    );
    assert!(store.is_empty());
    // Case and escapes in the address-of-record do not make another one (step 5).
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &[C1], None),
    );
    assert_eq!(r.code, 200);
    let shouty = String::from_utf8(register("c1", 2, &[C2], None))
        .unwrap()
        .replace(
            "To: <sip:alice@example.com>",
            "To: <SIP:%61lice@EXAMPLE.com;user=ip>",
        )
        .replacen("REGISTER sip:example.com", "REGISTER sip:EXAMPLE.COM", 1);
    let r = run(&mut reg, &mut store, secs(0), shouty.as_bytes());
    assert_eq!(
        (r.code, r.outcome),
        (200, Outcome::Registered { bindings: 2 })
    );
}

#[test]
fn min_expires_above_an_hour() {
    // §10.3 step 7: 423 only if the request is below an hour, whatever the minimum.
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(RegistrarConfig {
        min_expires: 4000,
        ..config()
    });
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &[C1], Some("3600")),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10:5060>;expires=3600")
    );
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 2, &[C1], Some("3599")),
    );
    assert_eq!((r.code, r.header("Min-Expires")), (423, Some("4000")));
    // A zero minimum never refuses.
    let mut reg = Registrar::new(RegistrarConfig {
        min_expires: 0,
        ..config()
    });
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 3, &[C1], Some("1")),
    );
    assert_eq!(r.code, 200);
}

#[test]
fn refresh_and_out_of_order() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    assert_eq!(
        run(
            &mut reg,
            &mut store,
            secs(0),
            &register("c1", 1, &[C1], Some("600"))
        )
        .code,
        200
    );
    // Refresh: same Call-ID, higher CSeq.
    let r = run(
        &mut reg,
        &mut store,
        secs(100),
        &register("c1", 2, &[C1], Some("900")),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10:5060>;expires=900")
    );
    assert_eq!(
        bindings(&store, secs(100)),
        [("sip:alice@192.0.2.10:5060".into(), 900)]
    );
    // An old request arriving late (CSeq 1, a removal) does not undo the newer binding.
    let r = run(
        &mut reg,
        &mut store,
        secs(101),
        &register("c1", 1, &[C1], Some("0")),
    );
    assert_eq!(
        (r.code, r.outcome),
        (500, Outcome::Refused(Refusal::OutOfOrder))
    );
    // Nor does one with the same CSeq.
    let r = run(
        &mut reg,
        &mut store,
        secs(101),
        &register("c1", 2, &[C1], Some("60")),
    );
    assert_eq!(r.code, 500);
    assert_eq!(
        bindings(&store, secs(101)),
        [("sip:alice@192.0.2.10:5060".into(), 899)]
    );
    // The whole request is aborted: a new contact beside the stale one is not added.
    let r = run(
        &mut reg,
        &mut store,
        secs(101),
        &register("c1", 2, &[C2, C1], Some("60")),
    );
    assert_eq!(r.code, 500);
    assert_eq!(store.len(), 1);
    // Another Call-ID (another UA, or the same one after a reboot) updates whatever its
    // CSeq (§10.3 step 7).
    let r = run(
        &mut reg,
        &mut store,
        secs(102),
        &register("c2", 1, &[C1], Some("120")),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10:5060>;expires=120")
    );
    // The binding now records Call-ID c2 and CSeq 1.
    let mut out = [Binding::EMPTY; 2];
    store.lookup(AOR, secs(102), &mut out);
    assert_eq!((out[0].call_id, out[0].cseq), ("c2", 1));
    // Removal with a higher CSeq.
    let r = run(
        &mut reg,
        &mut store,
        secs(103),
        &register("c2", 2, &[C1], Some("0")),
    );
    assert_eq!(
        (r.code, r.outcome),
        (200, Outcome::Registered { bindings: 0 })
    );
    assert!(store.is_empty());
}

#[test]
fn expiry_by_the_clock() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &[C1], Some("120")),
    );
    run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c2", 1, &[C2], Some("600")),
    );
    let query = |n| register("c9", n, &[], None);
    let r = run(&mut reg, &mut store, secs(60), &query(1));
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10:5060>;expires=60, <sip:alice@192.0.2.11:5060>;expires=540")
    );
    // Half a second before the end, it still has (rounded up) one second.
    let r = run(
        &mut reg,
        &mut store,
        Instant::from_millis(119_500),
        &query(2),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10:5060>;expires=1, <sip:alice@192.0.2.11:5060>;expires=481")
    );
    assert_eq!(store.next_expiry(), Some(secs(120)));
    // At 120 s the first is gone, and dropped from the store.
    let r = run(&mut reg, &mut store, secs(120), &query(3));
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.11:5060>;expires=480")
    );
    assert_eq!(store.len(), 1);
    // A lookup ignores a lapsed binding even before expire() runs.
    assert!(bindings(&store, secs(600)).is_empty());
    assert_eq!(store.len(), 1);
    assert_eq!(store.expire(secs(600)), 1);
    assert!(store.is_empty());
}

#[test]
fn wildcard_removal() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 5, &[C1], None),
    );
    run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c2", 9, &[C2], None),
    );
    // Another AOR's binding stays.
    let bob = String::from_utf8(register("c3", 1, &[C3], None))
        .unwrap()
        .replace("To: <sip:alice@", "To: <sip:bob@");
    run(&mut reg, &mut store, secs(0), bob.as_bytes());
    assert_eq!(store.len(), 3);
    // Same Call-ID as the first binding and a CSeq not higher: aborted (§10.3 step 6).
    let r = run(
        &mut reg,
        &mut store,
        secs(1),
        &register("c1", 5, &["*"], Some("0")),
    );
    assert_eq!(
        (r.code, r.outcome),
        (500, Outcome::Refused(Refusal::OutOfOrder))
    );
    assert_eq!(store.len(), 3);
    // Higher CSeq: every binding of the AOR goes, whatever its Call-ID.
    let r = run(
        &mut reg,
        &mut store,
        secs(1),
        &register("c1", 6, &["*"], Some("0")),
    );
    assert_eq!(
        (r.code, r.outcome),
        (200, Outcome::Registered { bindings: 0 })
    );
    assert!(r.headers.is_empty());
    assert!(bindings(&store, secs(1)).is_empty());
    assert_eq!(store.len(), 1);
}

#[test]
fn several_contacts_and_q() {
    let mut s = slots(8);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register(
            "c1",
            1,
            &[
                "<sip:alice@192.0.2.10:5060>;q=0.1, \"Desk\" <sip:alice@192.0.2.11:5060>;q=1.0;expires=300",
                "sip:alice@192.0.2.12:5060;q=0.125",
            ],
            Some("1200"),
        ),
    );
    assert_eq!(
        r.header("Contact"),
        Some(
            "<sip:alice@192.0.2.10:5060>;q=0.1;expires=1200, \
<sip:alice@192.0.2.11:5060>;q=1;expires=300, <sip:alice@192.0.2.12:5060>;q=0.125;expires=1200"
        )
    );
    assert_eq!(r.outcome, Outcome::Registered { bindings: 3 });
    // Remove one and refresh another in one request; the third is listed untouched.
    let r = run(
        &mut reg,
        &mut store,
        secs(100),
        &register(
            "c1",
            2,
            &[
                "<sip:alice@192.0.2.11:5060>;expires=0",
                "<sip:alice@192.0.2.12:5060>;q=0.5",
            ],
            Some("600"),
        ),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10:5060>;q=0.1;expires=1100, <sip:alice@192.0.2.12:5060>;q=0.5;expires=600")
    );
    assert_eq!(store.len(), 2);
    // Equivalent URIs (§19.1.4: host case, escapes) are the same binding: updated in place,
    // and the URI is the one last received.
    let r = run(
        &mut reg,
        &mut store,
        secs(100),
        &register("c1", 3, &["<sip:%61lice@192.0.2.10:5060>"], Some("60")),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:%61lice@192.0.2.10:5060>;expires=60, <sip:alice@192.0.2.12:5060>;q=0.5;expires=600")
    );
    assert_eq!(store.len(), 2);
}

#[test]
fn duplicate_contact_in_one_request() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register(
            "c1",
            1,
            &[
                "<sip:alice@192.0.2.10>;expires=300",
                "<sip:alice@192.0.2.10>;expires=600",
            ],
            None,
        ),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10>;expires=600")
    );
    assert_eq!(store.len(), 1);
    // Added then removed in the same request: not there.
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register(
            "c1",
            2,
            &["<sip:alice@192.0.2.11>", "<sip:alice@192.0.2.11>;expires=0"],
            None,
        ),
    );
    assert_eq!(
        r.header("Contact"),
        Some("<sip:alice@192.0.2.10>;expires=600")
    );
    assert_eq!(store.len(), 1);
}

#[test]
fn full_store_is_503_and_atomic() {
    let mut s = slots(2);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &[C1, C2], None),
    );
    assert_eq!(store.len(), 2);
    // Two more: no room, nothing changes, not even the refresh of C1 in the same request.
    let r = run(
        &mut reg,
        &mut store,
        secs(10),
        &register(
            "c1",
            2,
            &["<sip:alice@192.0.2.10:5060>;expires=100", C3],
            None,
        ),
    );
    assert_eq!(
        (r.code, r.outcome, r.header("Retry-After")),
        (503, Outcome::Refused(Refusal::Full), Some("30"))
    );
    assert_eq!(
        bindings(&store, secs(10)),
        [
            ("sip:alice@192.0.2.10:5060".into(), 3590),
            ("sip:alice@192.0.2.11:5060".into(), 3590)
        ]
    );
    // Removing one makes room for another in the same request.
    let r = run(
        &mut reg,
        &mut store,
        secs(10),
        &register(
            "c1",
            3,
            &["<sip:alice@192.0.2.11:5060>;expires=0", C3],
            None,
        ),
    );
    assert_eq!(r.outcome, Outcome::Registered { bindings: 2 });
    // The CSeq check comes before the room check: C3 is stored with CSeq 3.
    let r = run(
        &mut reg,
        &mut store,
        secs(10),
        &register("c1", 3, &[C2, C3], None),
    );
    assert_eq!(r.outcome, Outcome::Refused(Refusal::OutOfOrder));
    // Lapsed bindings free their slots.
    let r = run(
        &mut reg,
        &mut store,
        secs(3610),
        &register("c1", 4, &[C2], None),
    );
    assert_eq!(r.outcome, Outcome::Registered { bindings: 1 });
}

#[test]
fn oversized_binding_and_output() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    let long = format!("<sip:{}@192.0.2.10>", "a".repeat(BINDING_TEXT));
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &[&long], None),
    );
    assert_eq!(
        (r.code, r.outcome),
        (500, Outcome::Refused(Refusal::Storage))
    );
    assert!(store.is_empty());
    // An output buffer too small for the Contact list: an error, and nothing changed.
    let bytes = register("c1", 2, &[C1], None);
    let mut h = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(&bytes, &mut h)
        .unwrap()
        .complete()
        .unwrap();
    let mut out = [0u8; 20];
    assert_eq!(
        reg.process(secs(0), &msg, &mut store, &mut out)
            .unwrap_err(),
        ServerError::OutputTooSmall
    );
    assert!(store.is_empty());
    let mut out = [0u8; 64];
    let r = reg.process(secs(0), &msg, &mut store, &mut out).unwrap();
    assert_eq!(r.code, 200);
    assert_eq!(store.len(), 1);
}

#[test]
fn too_many_contacts() {
    let mut s = slots(32);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    let many: Vec<String> = (0..=MAX_CONTACTS)
        .map(|i| format!("<sip:alice@192.0.2.{i}>"))
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &refs, None),
    );
    assert_eq!(r.outcome, Outcome::Refused(Refusal::TooManyContacts));
    assert!(store.is_empty());
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &refs[1..], None),
    );
    assert_eq!(
        r.outcome,
        Outcome::Registered {
            bindings: MAX_CONTACTS
        }
    );
}

/// A digest-like authorizer: challenges without Authorization, refuses user "mallory",
/// lets "alice" modify only her own AOR.
struct Strict;

impl Authorizer for Strict {
    fn authenticate(
        &mut self,
        _now: Instant,
        request: &Message<'_, '_>,
        challenge: &mut Writer<'_>,
    ) -> Verdict {
        match request.header(HeaderName::Authorization) {
            None => {
                let _ = challenge.put(b"Digest realm=\"example.com\", nonce=\"abc\"");
                Verdict::Challenge
            }
            Some(h) if h.value.starts_with(b"Digest username=\"mallory\"") => Verdict::Forbidden,
            Some(_) => Verdict::Accept,
        }
    }

    fn may_modify(&mut self, _request: &Message<'_, '_>, aor: &Uri<'_>) -> bool {
        aor.user() == Some("alice")
    }
}

#[test]
fn authorizer_steps() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::with_authorizer(config(), Strict);
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register("c1", 1, &[C1], None),
    );
    assert_eq!(
        (r.code, r.header("WWW-Authenticate")),
        (401, Some("Digest realm=\"example.com\", nonce=\"abc\""))
    );
    let auth = |user: &str| format!("Authorization: Digest username=\"{user}\"\r\n");
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register_with("c1", 2, &[C1], None, &auth("mallory")),
    );
    assert_eq!(
        (r.code, r.outcome),
        (403, Outcome::Refused(Refusal::Forbidden))
    );
    let bob = String::from_utf8(register_with("c1", 3, &[C1], None, &auth("alice")))
        .unwrap()
        .replace("To: <sip:alice@", "To: <sip:bob@");
    assert_eq!(run(&mut reg, &mut store, secs(0), bob.as_bytes()).code, 403);
    assert!(store.is_empty());
    let r = run(
        &mut reg,
        &mut store,
        secs(0),
        &register_with("c1", 4, &[C1], None, &auth("alice")),
    );
    assert_eq!(r.code, 200);
}

#[test]
fn response_parts_and_extra_headers() {
    let mut s = slots(4);
    let mut store = BindingStore::new(&mut s[..]);
    let mut reg = Registrar::new(config());
    let bytes = register("c1", 1, &[C1], Some("60"));
    let mut h = [Header::EMPTY; 32];
    let msg = Parser::datagram()
        .parse(&bytes, &mut h)
        .unwrap()
        .complete()
        .unwrap();
    let mut out = [0u8; 256];
    let mut r = reg.process(secs(0), &msg, &mut store, &mut out).unwrap();
    r.push_header("Date", b"Sat, 13 Nov 2010 23:29:00 GMT")
        .unwrap();
    let mut buf = [0u8; 1024];
    let text = r
        .parts(Some("reg1"))
        .write(msg.headers(), &mut buf)
        .unwrap();
    let text = core::str::from_utf8(text).unwrap();
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    assert!(
        text.contains("To: <sip:alice@example.com>;tag=reg1\r\n"),
        "{text}"
    );
    assert!(
        text.contains("\r\nContact: <sip:alice@192.0.2.10:5060>;expires=60\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\n"),
        "{text}"
    );
    for _ in 0..MAX_RESPONSE_HEADERS - 2 {
        r.push_header("X", b"y").unwrap();
    }
    assert_eq!(r.push_header("X", b"y"), Err(ServerError::OutputTooSmall));
}

#[test]
#[cfg(feature = "ipv6")] // IPv6 literals
fn canonical_forms() {
    let cases = [
        ("sip:alice@example.com", Some("sip:alice@example.com")),
        ("SIP:alice@EXAMPLE.com", Some("sip:alice@example.com")),
        ("sip:Alice@example.com", Some("sip:Alice@example.com")),
        (
            "sip:%61lice@example.com;user=phone;transport=tcp",
            Some("sip:alice@example.com"),
        ),
        (
            "sips:alice@example.com:5061",
            Some("sips:alice@example.com:5061"),
        ),
        (
            "sip:alice:secret@example.com",
            Some("sip:alice:secret@example.com"),
        ),
        ("sip:example.com", Some("sip:example.com")),
        ("sip:alice@192.0.2.1?subject=x", Some("sip:alice@192.0.2.1")),
        ("sip:alice@[2001:db8::1]", Some("sip:alice@[2001:db8::1]")),
        ("sip:a%40b@example.com", Some("sip:a@b@example.com")),
        ("tel:+15551234", None),
        ("mailto:alice@example.com", None),
    ];
    for (uri, want) in cases {
        let u = Uri::parse(uri.as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let got = canonical_aor(&u, &mut buf).map(|b| core::str::from_utf8(b).unwrap());
        assert_eq!(got, want, "{uri}");
    }
    let u = Uri::parse(b"sip:alice@example.com").unwrap();
    assert_eq!(canonical_aor(&u, &mut [0u8; 10]), None);
}

#[test]
#[cfg(feature = "ipv6")] // IPv6 literals
fn domains() {
    fn h(s: &str) -> crate::message::Host<'_> {
        Uri::parse(s.as_bytes()).unwrap().host().unwrap()
    }
    let d = ["Example.COM", "192.0.2.1", "[2001:db8::1]"];
    assert!(serves_domain(&d, &h("sip:example.com")));
    assert!(serves_domain(&d, &h("sip:example.com.")));
    assert!(serves_domain(&d, &h("sip:192.0.2.1")));
    assert!(serves_domain(&d, &h("sip:[2001:db8:0::1]")));
    assert!(!serves_domain(&d, &h("sip:example.org")));
    assert!(!serves_domain(&d, &h("sip:192.0.2.2")));
    assert!(serves_domain(&[], &h("sip:anything.example")));
}

fn binding<'a>(contact: &'a str, call_id: &'a str, at: u64) -> Binding<'a> {
    Binding {
        aor: AOR,
        contact,
        call_id,
        cseq: 1,
        q: None,
        expires_at: secs(at),
        instance: None,
    }
}

#[test]
fn store_apply() {
    let mut s = slots(3);
    let mut store = BindingStore::new(&mut s[..]);
    assert_eq!(store.capacity(), 3);
    store.update(&binding("sip:a@192.0.2.1", "x", 100)).unwrap();
    store.update(&binding("sip:b@192.0.2.1", "x", 100)).unwrap();
    // Equivalent URI: updated in place.
    store
        .update(&binding("sip:a@192.0.2.1;foo", "y", 200))
        .unwrap();
    assert_eq!(store.len(), 2);
    let mut out = [Binding::EMPTY; 4];
    assert_eq!(store.lookup(AOR, secs(0), &mut out), 2);
    assert_eq!(
        (out[0].contact, out[0].call_id),
        ("sip:a@192.0.2.1;foo", "y")
    );
    // Two additions with one free slot: Full, nothing changed.
    let b3 = binding("sip:c@192.0.2.1", "x", 100);
    let b4 = binding("sip:d@192.0.2.1", "x", 100);
    assert_eq!(
        store.apply(AOR, &[Change::Upsert(b3), Change::Upsert(b4)]),
        Err(LocationError::Full)
    );
    assert_eq!(store.len(), 2);
    // With a removal first, they fit.
    store
        .apply(
            AOR,
            &[
                Change::Remove {
                    contact: "sip:b@192.0.2.1;lr",
                },
                Change::Upsert(b3),
                Change::Upsert(b4),
            ],
        )
        .unwrap();
    assert_eq!(store.len(), 3);
    // Later changes win; RemoveAll clears what came before it.
    store
        .apply(
            AOR,
            &[
                Change::Upsert(binding("sip:e@192.0.2.1", "x", 100)),
                Change::RemoveAll,
                Change::Upsert(b3),
                Change::Remove {
                    contact: "sip:c@192.0.2.1",
                },
                Change::Upsert(b4),
            ],
        )
        .unwrap();
    assert_eq!(store.len(), 1);
    {
        let mut out = [Binding::EMPTY; 4];
        assert_eq!(store.lookup(AOR, secs(0), &mut out), 1);
        assert_eq!(out[0].contact, "sip:d@192.0.2.1");
    }
    // Malformed changes.
    let other = Binding {
        aor: b"sip:bob@example.com",
        ..b3
    };
    assert_eq!(
        store.apply(AOR, &[Change::Upsert(other)]),
        Err(LocationError::Invalid)
    );
    assert_eq!(
        store.apply(
            AOR,
            &[Change::Remove {
                contact: "not a uri"
            }]
        ),
        Err(LocationError::Invalid)
    );
    let long = "x".repeat(BINDING_TEXT);
    let too_long = Binding {
        call_id: &long,
        ..b3
    };
    assert_eq!(store.update(&too_long), Err(LocationError::TooLong));
    // Provided methods.
    assert_eq!(store.remove(AOR, "sip:d@192.0.2.1", secs(0)), Ok(true));
    assert_eq!(store.remove(AOR, "sip:d@192.0.2.1", secs(0)), Ok(false));
    store.update(&b3).unwrap();
    store.update(&b4).unwrap();
    assert_eq!(store.remove_all(AOR, secs(0)), Ok(2));
    assert!(store.is_empty());
    // Storage can be reused: a new store clears it.
    store.update(&b3).unwrap();
    let store = BindingStore::new(&mut s[..]);
    assert!(store.is_empty());
    assert_eq!(store.iter(secs(0)).count(), 0);
}

#[test]
fn preference_order() {
    let mut s = slots(8);
    let mut store = BindingStore::new(&mut s[..]);
    let qs = [Some(100), None, Some(500), Some(500), Some(0)];
    let names = ["sip:a@h", "sip:b@h", "sip:c@h", "sip:d@h", "sip:e@h"];
    for (q, n) in qs.iter().zip(names) {
        store
            .update(&Binding {
                q: *q,
                ..binding(n, "x", 100)
            })
            .unwrap();
    }
    let mut out = [Binding::EMPTY; 8];
    let n = by_preference(&store, AOR, secs(0), &mut |_| false, &mut out);
    let order: Vec<&str> = out[..n].iter().map(|b| b.contact).collect();
    assert_eq!(
        order,
        ["sip:b@h", "sip:c@h", "sip:d@h", "sip:a@h", "sip:e@h"]
    );
    // Bounded: the highest q are kept.
    let mut out = [Binding::EMPTY; 2];
    let n = by_preference(
        &store,
        AOR,
        secs(0),
        &mut |b| b.contact == "sip:b@h",
        &mut out,
    );
    let order: Vec<&str> = out[..n].iter().map(|b| b.contact).collect();
    assert_eq!(order, ["sip:c@h", "sip:d@h"]);
    let mut none: [Binding<'_>; 0] = [];
    assert_eq!(
        by_preference(&store, AOR, secs(0), &mut |_| false, &mut none),
        0
    );
}

#[test]
fn qvalue_text() {
    for (q, want) in [
        (0, "0"),
        (1000, "1"),
        (700, "0.7"),
        (125, "0.125"),
        (50, "0.05"),
        (5, "0.005"),
        (120, "0.12"),
    ] {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        response::write_q(&mut w, q).unwrap();
        assert_eq!(w.as_bytes(), want.as_bytes());
        assert_eq!(
            crate::message::headers::NameAddr::parse(format!("<sip:a@b>;q={want}").as_bytes())
                .unwrap()
                .q(),
            Some(q)
        );
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any method, Request-URI and header fields: the registrar and the redirect server
        /// decide without panicking, an ACK is never answered, and only a 200 to a REGISTER
        /// changes the bindings.
        #[test]
        fn any_request(
            method in prop::sample::select(vec!["REGISTER", "INVITE", "ACK", "CANCEL", "OPTIONS"]),
            ruri in prop::sample::select(vec![
                "sip:example.com", "sip:alice@EXAMPLE.com;user=ip", "sips:example.com",
                "tel:+1555", "sip:example.org", "sip:192.0.2.1",
            ]),
            fields in prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "Contact", "m", "Expires", "Require", "To", "Call-ID", "CSeq",
                        "Authorization", "Min-Expires",
                    ]),
                    "[ -~]{0,60}",
                ),
                0..5,
            ),
        ) {
            let mut bytes = format!(
                "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKf\r\n\
    Max-Forwards: 70\r\nTo: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
    Call-ID: c1\r\nCSeq: 3 {method}\r\n"
            );
            for (name, value) in &fields {
                bytes += &format!("{name}: {value}\r\n");
            }
            bytes += "Content-Length: 0\r\n\r\n";
            let mut h = [Header::EMPTY; 32];
            let Ok(status) = Parser::datagram().parse(bytes.as_bytes(), &mut h) else {
                return Ok(());
            };
            let Some(msg) = status.complete() else { return Ok(()) };
            let mut s = slots(2);
            let mut store = BindingStore::new(&mut s[..]);
            let mut reg = Registrar::new(config());
            run(&mut reg, &mut store, secs(0), &register("c1", 2, &[C1], None));
            let redirect = crate::redirect::RedirectServer::new(crate::redirect::RedirectConfig {
                domains: &["example.com"],
                ..Default::default()
            });
            for len in [0usize, 24, 1024] {
                let before = bindings(&store, secs(1));
                let mut out = vec![0u8; len];
                match redirect.process(secs(1), &msg, &store, &mut out) {
                    Ok(r) => prop_assert!((200..=599).contains(&r.code) && method != "ACK"),
                    Err(ServerError::NoResponse) => prop_assert_eq!(method, "ACK"),
                    Err(e) => prop_assert_eq!(e, ServerError::OutputTooSmall),
                }
                let mut out = vec![0u8; len];
                match reg.process(secs(1), &msg, &mut store, &mut out) {
                    Ok(r) => {
                        prop_assert!((200..=599).contains(&r.code) && method != "ACK");
                        if r.code != 200 || method != "REGISTER" {
                            prop_assert_eq!(&bindings(&store, secs(1)), &before);
                        }
                    }
                    Err(ServerError::NoResponse) => prop_assert_eq!(method, "ACK"),
                    Err(e) => {
                        prop_assert_eq!(e, ServerError::OutputTooSmall);
                        prop_assert_eq!(&bindings(&store, secs(1)), &before);
                    }
                }
            }
        }

        /// Whatever the bytes, the registrar answers without panicking, and a refused request
        /// changes nothing.
        #[test]
        fn never_panics(
            contact in "[ -~]{0,80}",
            expires in proptest::option::of("[0-9a-z ]{0,12}"),
            cseq in 0u32..5,
            extra in "[ -~]{0,40}",
        ) {
            let mut s = slots(2);
            let mut store = BindingStore::new(&mut s[..]);
            let mut reg = Registrar::new(config());
            // Seed one binding so that CSeq ordering and removals are exercised.
            run(&mut reg, &mut store, secs(0), &register("c1", 2, &[C1], None));
            let bytes = register_with("c1", cseq, &[&contact], expires.as_deref(), &format!("X-Fuzz: {extra}\r\n"));
            let mut h = [Header::EMPTY; 32];
            let Ok(status) = Parser::datagram().parse(&bytes, &mut h) else { return Ok(()) };
            let Some(msg) = status.complete() else { return Ok(()) };
            for len in [0usize, 16, 2048] {
                let mut out = vec![0u8; len];
                let before = bindings(&store, secs(1));
                match reg.process(secs(1), &msg, &mut store, &mut out) {
                    Ok(r) => {
                        prop_assert!((200..=599).contains(&r.code));
                        if r.code != 200 {
                            prop_assert_eq!(bindings(&store, secs(1)), before);
                        }
                    }
                    Err(e) => {
                        prop_assert_eq!(e, ServerError::OutputTooSmall);
                        prop_assert_eq!(bindings(&store, secs(1)), before);
                    }
                }
            }
        }
    }
}
