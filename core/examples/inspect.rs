//! `inspect`: parse SIP messages and say what a server must do with each.
//!
//! ```text
//! cargo run -p sipwire-core --example inspect                 # a built-in INVITE
//! cargo run -p sipwire-core --example inspect -- FILE...      # each file is one datagram
//! ```
//!
//! For each message it prints the start line, the typed headers a proxy reads, and the
//! verdict of a UAS: accept, answer with a status (the answer is printed), or drop.

use sipwire_core::message::validate::{self, Policy, Rejection};
use sipwire_core::message::{Header, Message, Parser, Status};

const SAMPLE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 0\r\n\r\n";

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        println!("== built-in sample INVITE");
        inspect(SAMPLE);
        return;
    }
    let mut failed = false;
    for f in &files {
        println!("== {f}");
        match std::fs::read(f) {
            Ok(bytes) => inspect(&bytes),
            Err(e) => {
                eprintln!("cannot read {f}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}

fn inspect(bytes: &[u8]) {
    let mut slots = [Header::EMPTY; 64];
    let msg = match Parser::datagram().parse(bytes, &mut slots) {
        Ok(Status::Complete(m)) => m,
        Ok(Status::Partial) => unreachable!("a datagram is never partial"),
        Err(e) => {
            println!("parse error: {e}");
            let mut slots = [Header::EMPTY; 64];
            match Parser::datagram().parse_head(bytes, &mut slots) {
                Ok(Status::Complete(head)) if head.is_request => {
                    let code = e.status_code().unwrap_or(400);
                    let r = Rejection {
                        code,
                        reason: e.reason(),
                        header: None,
                    };
                    answer(head.headers, r);
                }
                _ => println!("verdict: drop"),
            }
            return;
        }
    };
    describe(&msg);
    let verdict = if msg.is_request() {
        validate::request(&msg).and_then(|()| Policy::UAS.check(&msg))
    } else {
        validate::response(&msg)
    };
    match verdict {
        Ok(()) => println!("verdict: accept"),
        Err(r) if msg.is_request() => answer(msg.headers(), r),
        Err(r) => println!("verdict: drop ({})", r.reason),
    }
}

fn describe(m: &Message<'_, '_>) {
    match (m.method(), m.status()) {
        (Some(method), _) => println!(
            "request: {method} {}",
            m.request_uri().map(|u| u.raw()).unwrap_or("")
        ),
        (_, Some(code)) => println!(
            "response: {code} {}",
            String::from_utf8_lossy(m.reason().unwrap_or(b""))
        ),
        _ => {}
    }
    match m.top_via() {
        Ok(Some(v)) => println!(
            "top Via: {} {}{} branch={}",
            v.transport,
            v.host,
            v.port.map(|p| format!(":{p}")).unwrap_or_default(),
            v.branch().unwrap_or("(none: RFC 2543 matching)")
        ),
        Ok(None) => println!("top Via: (none)"),
        Err(e) => println!("top Via: {e}"),
    }
    let show = |name: &str, r: Result<String, sipwire_core::message::ParseError>| match r {
        Ok(v) => println!("{name}: {v}"),
        Err(e) => println!("{name}: {e}"),
    };
    show(
        "From",
        m.from()
            .map(|a| format!("{} tag={}", a.uri, a.tag().unwrap_or("-"))),
    );
    show(
        "To",
        m.to()
            .map(|a| format!("{} tag={}", a.uri, a.tag().unwrap_or("-"))),
    );
    show("Call-ID", m.call_id().map(str::to_string));
    show("CSeq", m.cseq().map(|c| format!("{} {}", c.seq, c.method)));
    show("Max-Forwards", m.max_forwards().map(|v| format!("{v:?}")));
    println!(
        "headers: {}, body: {} bytes",
        m.headers().len(),
        m.body().len()
    );
}

fn answer(headers: &[Header<'_>], r: Rejection) {
    let mut buf = [0u8; 8192];
    match r.write(headers, &Policy::UAS, Some("inspect1"), &mut buf) {
        Ok(out) => {
            println!("verdict: answer {} {}", r.code, r.reason);
            print!("{}", String::from_utf8_lossy(out));
        }
        Err(e) => println!("verdict: answer {} (could not build it: {e})", r.code),
    }
}
