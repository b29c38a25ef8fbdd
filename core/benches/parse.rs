//! Parse benchmark: sipwire against other Rust SIP parsers, side by side.
//!
//! Each iteration parses one message from its bytes and then does the typed work a proxy
//! does on every request: the top Via and its branch, the From and To tags, Call-ID, CSeq
//! (number and method), Max-Forwards, the first Route's URI and the body length
//! (Content-Length). Every parser does that work through its own typed API, as closely as
//! the API allows; see the `*_work` functions. What each one does:
//!
//! - **sipwire** ([`sipwire_work`]): `Parser::datagram().parse` into 32 header slots on the
//!   stack: splits the header lines (names looked up, values trimmed, all borrowed from the
//!   input), parses the start line fully (method token, the Request-URI into its parts,
//!   version) and frames the body by Content-Length. Then, each on demand from the borrowed
//!   bytes: `top_via()` parses the first Via value fully (sent-protocol, sent-by host and
//!   port, every via-param checked, branch/received/rport/maddr/ttl read); `from_tag()` and
//!   `to_tag()` check the shape of the From and To values (display name, `<...>` or
//!   addr-spec, every header parameter) and find the tag without parsing the URI (the same
//!   answer as `from()?.tag()` whenever that parses); `call_id()` checks `word [@ word]`;
//!   `cseq()` and `max_forwards()` parse their numbers; `routes().next()` parses the first
//!   Route value as a name-addr with its URI parsed into parts, without splitting the rest
//!   of the line; the body is the framed one. No heap.
//! - **rsip** 0.4 ([`rsip_work`]): `SipMessage::try_from(&[u8])` tokenizes the whole
//!   message into owned values (a `String` per header), then each header is converted to
//!   its typed form (`typed()` clones the header text and tokenizes it again); the Route
//!   URI is shown through its `Display`.
//! - **ezk-sip-types** 0.6 ([`ezk_work`]): the pipeline of ezk-sip-core's datagram transport
//!   (copy into `Bytes`, split lines with `PullParser`, parse the start line, collect
//!   `Headers`, frame the body by Content-Length), then each header decoded into its typed
//!   form.
//!
//! Inputs: a ~900-byte INVITE with SDP (14 headers), a 200 OK to REGISTER, and RFC 4475
//! `wsinv` (a valid but tortuous INVITE). Before the timed runs the binary prints what each
//! parser extracted from each message and how many heap allocations one parse took, counted
//! by the global allocator below.
//!
//! Run: `cargo bench -p sipwire-core --bench parse`; quicker while iterating:
//! `cargo bench -p sipwire-core --bench parse -- --warm-up-time 1 --measurement-time 3`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Debug;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// ---------------------------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------------------------

/// Heap allocations (alloc, alloc_zeroed and realloc calls) since the program started.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Bytes requested by those allocations.
static ALLOC_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting every allocation.
struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(new_size, Relaxed);
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// One benchmark input.
struct Input {
    /// Short name, used as the criterion group name.
    name: &'static str,
    /// The message, byte-exact.
    bytes: &'static [u8],
}

/// The messages every parser is run on.
const INPUTS: [Input; 3] = [
    Input {
        name: "invite_sdp",
        bytes: include_bytes!("data/invite.sip"),
    },
    Input {
        name: "register_200",
        bytes: include_bytes!("data/register_200.sip"),
    },
    Input {
        name: "wsinv",
        bytes: include_bytes!("../../tests/data/rfc4475/wsinv.dat"),
    },
];

// ---------------------------------------------------------------------------------------------
// The typed work, once per parser
// ---------------------------------------------------------------------------------------------

/// Where the `*_work` functions put each value they extract.
trait Sink {
    /// Takes one extracted value.
    fn put<T: Debug>(&mut self, field: &'static str, value: T);
}

/// The timed sink: hides each value from the optimiser and keeps nothing.
struct Discard;

impl Sink for Discard {
    #[inline(always)]
    fn put<T: Debug>(&mut self, _field: &'static str, value: T) {
        black_box(value);
    }
}

/// The checking sink: records each value as text, to show what a parser extracted.
#[derive(Default)]
struct Record(Vec<String>);

impl Sink for Record {
    fn put<T: Debug>(&mut self, field: &'static str, value: T) {
        self.0.push(format!("{field}={value:?}"));
    }
}

/// Shows a value through its `Display` in the [`Record`] table; costs nothing when timed.
struct AsDisplay<T>(T);

impl<T: std::fmt::Display> Debug for AsDisplay<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.to_string())
    }
}

/// The first line of an error message, at most 100 characters, for the tables.
fn short(e: &str) -> String {
    e.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect()
}

/// A parser under test: its name and its parse-plus-typed-work function.
struct Contender {
    /// Name, used as the criterion function name.
    name: &'static str,
    /// Parses `bytes` and runs the proxy's typed work, timed with [`Discard`].
    timed: fn(&[u8], &mut Discard) -> Result<(), String>,
    /// The same work, recording what it extracted.
    record: fn(&[u8], &mut Record) -> Result<(), String>,
}

/// The parsers compared.
const CONTENDERS: [Contender; 3] = [
    Contender {
        name: "sipwire",
        timed: sipwire_work,
        record: sipwire_work,
    },
    Contender {
        name: "rsip",
        timed: rsip_work,
        record: rsip_work,
    },
    Contender {
        name: "ezk-sip-types",
        timed: ezk_work,
        record: ezk_work,
    },
];

/// sipwire: parse a datagram into 32 stack slots, then the typed accessors, each parsed on
/// demand from the borrowed bytes (see the module doc for what each one checks).
fn sipwire_work<S: Sink>(bytes: &[u8], sink: &mut S) -> Result<(), String> {
    use sipwire_core::message::{Header, Parser, Status};

    let err = |e: sipwire_core::message::ParseError| format!("{e:?}");
    let mut slots = [Header::EMPTY; 32];
    // Matched in place: mapping the error first would copy the parsed message.
    let msg = match Parser::datagram().parse(bytes, &mut slots) {
        Ok(Status::Complete(msg)) => msg,
        Ok(Status::Partial) => return Err("partial".into()),
        Err(e) => return Err(err(e)),
    };
    let via = msg.top_via().map_err(err)?.ok_or("no Via")?;
    sink.put("branch", via.branch());
    sink.put("from_tag", msg.from_tag().map_err(err)?);
    sink.put("to_tag", msg.to_tag().map_err(err)?);
    sink.put("call_id", msg.call_id().map_err(err)?);
    let cseq = msg.cseq().map_err(err)?;
    sink.put("cseq", (cseq.seq, cseq.method));
    sink.put("max_forwards", msg.max_forwards().map_err(err)?);
    let route = msg.routes().next().transpose().map_err(err)?;
    sink.put("route", route.map(|r| r.uri.raw()));
    sink.put("body_len", msg.body().len());
    Ok(())
}

/// rsip 0.4: `SipMessage::try_from(&[u8])` (owned `String` per header), then each header
/// through its typed form (`typed()` clones the header text and tokenizes it).
fn rsip_work<S: Sink>(bytes: &[u8], sink: &mut S) -> Result<(), String> {
    use rsip::prelude::*;
    use rsip::Header;

    let err = |e: rsip::Error| e.to_string();
    let msg = rsip::SipMessage::try_from(bytes).map_err(err)?;
    let via = msg.via_header().map_err(err)?.typed().map_err(err)?;
    sink.put("branch", via.branch().map(|b| b.value()));
    let from = msg.from_header().map_err(err)?.typed().map_err(err)?;
    sink.put("from_tag", from.tag().map(|t| t.value()));
    let to = msg.to_header().map_err(err)?.typed().map_err(err)?;
    sink.put("to_tag", to.tag().map(|t| t.value()));
    sink.put("call_id", msg.call_id_header().map_err(err)?.value());
    let cseq = msg.cseq_header().map_err(err)?.typed().map_err(err)?;
    sink.put("cseq", (cseq.seq, cseq.method));
    let max_forwards = msg.max_forwards_header().ok().map(|m| m.num());
    sink.put("max_forwards", max_forwards.transpose().map_err(err)?);
    let route = msg
        .route_header()
        .map(|r| r.typed())
        .transpose()
        .map_err(err)?;
    let route = route.as_ref().and_then(|r| r.uris().first());
    sink.put("route", route.map(|r| AsDisplay(&r.uri)));
    let content_length = msg.headers().iter().find_map(|h| match h {
        Header::ContentLength(l) => Some(l.length()),
        _ => None,
    });
    sink.put("content_length", content_length.transpose().map_err(err)?);
    sink.put("body_len", msg.body().len());
    Ok(())
}

/// ezk-sip-types 0.6: the pipeline of ezk-sip-core's datagram transport (copy into `Bytes`,
/// split lines with `PullParser`, parse the start line, collect `Headers`, frame the body by
/// Content-Length), then each header decoded into its typed form.
fn ezk_work<S: Sink>(bytes: &[u8], sink: &mut S) -> Result<(), String> {
    use ezk_sip_types::header::typed::Routing;
    use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, MaxForwards, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    let err = |e: ezk_sip_types::header::HeaderError| e.to_string();
    let buffer = bytes::Bytes::copy_from_slice(bytes);
    let mut lines = PullParser::new(&buffer, 0);
    let mut start = None;
    let mut headers = Headers::new();
    for line in &mut lines {
        let line = line.map_err(|_| "incomplete")?;
        let line = std::str::from_utf8(line).map_err(|e| e.to_string())?;
        if start.is_none() {
            let (_, l) = MessageLine::parse(&buffer)(line).map_err(|e| format!("{e:?}"))?;
            start = Some(l);
        } else {
            let (_, l) = Line::parse(&buffer, line).map_err(|e| format!("{e:?}"))?;
            headers.insert(l.name, l.value);
        }
    }
    let start = start.ok_or("no start line")?;
    let head_end = lines.head_end();
    let body = match headers.get_named::<ContentLength>() {
        Ok(ContentLength(n)) if buffer.len() >= head_end + n => {
            buffer.slice(head_end..head_end + n)
        }
        Ok(_) => return Err("body shorter than Content-Length".into()),
        Err(_) => buffer.slice(head_end..),
    };
    black_box(&start);

    let via = headers.get_named::<Via>().map_err(err)?;
    sink.put("branch", via.params.get_val("branch").map(|b| b.as_str()));
    let from = headers.get::<FromTo>(Name::FROM).map_err(err)?;
    sink.put("from_tag", from.tag.as_ref().map(|t| t.as_str()));
    let to = headers.get::<FromTo>(Name::TO).map_err(err)?;
    sink.put("to_tag", to.tag.as_ref().map(|t| t.as_str()));
    sink.put(
        "call_id",
        headers.get_named::<CallID>().map_err(err)?.0.as_str(),
    );
    let cseq = headers.get_named::<CSeq>().map_err(err)?;
    sink.put("cseq", (cseq.cseq, cseq.method));
    let max_forwards = headers
        .try_get_named::<MaxForwards>()
        .transpose()
        .map_err(err)?;
    sink.put("max_forwards", max_forwards.map(|m| m.0));
    let route = headers
        .try_get::<Routing>(Name::ROUTE)
        .transpose()
        .map_err(err)?;
    sink.put("route", route.map(|r| r.uri.uri));
    sink.put("body_len", body.len());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Allocation count and the timed runs
// ---------------------------------------------------------------------------------------------

/// Iterations the allocation count is averaged over.
const ALLOC_RUNS: usize = 1000;

/// Heap allocations and bytes requested per parse, averaged over [`ALLOC_RUNS`] parses.
fn allocations_per_parse(c: &Contender, bytes: &[u8]) -> (f64, f64) {
    // One run first, so that lazily initialised statics are not counted.
    let _ = (c.timed)(bytes, &mut Discard);
    let (n0, b0) = (ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed));
    for _ in 0..ALLOC_RUNS {
        let _ = (c.timed)(black_box(bytes), &mut Discard);
    }
    let (n1, b1) = (ALLOCS.load(Relaxed), ALLOC_BYTES.load(Relaxed));
    let runs = ALLOC_RUNS as f64;
    ((n1 - n0) as f64 / runs, (b1 - b0) as f64 / runs)
}

/// Prints what each parser extracted from each message, and its allocations per parse.
fn report() {
    println!("\n== what each parser extracted (parse + typed proxy work)");
    for input in &INPUTS {
        println!("{} ({} bytes):", input.name, input.bytes.len());
        for c in &CONTENDERS {
            let mut rec = Record::default();
            match (c.record)(input.bytes, &mut rec) {
                Ok(()) => println!("  {:<14} {}", c.name, rec.0.join(" ")),
                Err(e) => println!("  {:<14} FAILS: {}", c.name, short(&e)),
            }
        }
    }

    println!("\n== heap allocations per parse (mean of {ALLOC_RUNS}; bytes requested)");
    print!("{:<14}", "message");
    for c in &CONTENDERS {
        print!(" {:>22}", c.name);
    }
    println!();
    for input in &INPUTS {
        print!("{:<14}", input.name);
        for c in &CONTENDERS {
            let cell = if (c.timed)(input.bytes, &mut Discard).is_ok() {
                let (n, b) = allocations_per_parse(c, input.bytes);
                format!("{n:.0} ({b:.0} B)")
            } else {
                "parse error".to_string()
            };
            print!(" {cell:>22}");
        }
        println!();
    }
    println!();
}

/// One criterion group per message, one function per parser that parses it.
fn bench_parse(crit: &mut Criterion) {
    // `--list` output is read by tools: keep it clean.
    if !std::env::args().any(|a| a == "--list") {
        report();
    }
    for input in &INPUTS {
        let mut group = crit.benchmark_group(input.name);
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        for c in &CONTENDERS {
            // A parser that rejects the message is reported above, not timed.
            if (c.timed)(input.bytes, &mut Discard).is_err() {
                continue;
            }
            group.bench_function(c.name, |b| {
                b.iter(|| (c.timed)(black_box(input.bytes), &mut Discard))
            });
        }
        group.finish();
    }
}

/// Modest settings so that a default `cargo bench -p sipwire-core` stays within minutes on
/// two cores; command-line options (`--measurement-time`, ...) override them.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_parse
}
criterion_main!(benches);
