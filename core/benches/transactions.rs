//! Transactions per second through the core alone: two endpoints (a UAC and a UAS) wired
//! back to back in memory, no sockets, no simulator. Each iteration is one whole transaction
//! on both sides: the client builds and sends the request, the server parses it, matches it
//! (a new server transaction), hands it to the TU, the TU answers, the client parses and
//! matches the response, and both transactions end.
//!
//! - `non_invite_tcp`: OPTIONS → 200 over a reliable transport (Timers J and K are zero, so
//!   both slots free at once).
//! - `invite_udp`: INVITE → 180 → 486 → ACK over UDP; Completed/Confirmed linger for
//!   Timers D and I, so the virtual clock jumps 64·T1 every 256 transactions to sweep them.
//!
//! It also prints the memory held per transaction: one table slot plus at most two message
//! regions (request and last response) from the arena's pool, held only while the
//! transaction's state needs them.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipwire_core::endpoint::{
    Config, Destination, Endpoint, Event, Input, Output, TransactionId, Tx,
};
use sipwire_core::message::builder::{Address, RequestParts, ResponseParts, SentBy};
use sipwire_core::time::{Duration, Instant};
use sipwire_core::transaction::Slot;
use sipwire_core::transport::Transport;

const CAPACITY: usize = 512;
const MAX_MESSAGE: usize = 1500;

fn endpoint(seed: u64) -> Endpoint<'static> {
    let config = Config {
        seed,
        max_message: MAX_MESSAGE,
        ..Config::default()
    };
    let slots: Vec<Slot<Tx>> = (0..CAPACITY).map(|_| Slot::default()).collect();
    let arena = vec![0u8; Endpoint::arena_len(CAPACITY, MAX_MESSAGE)];
    Endpoint::new(
        config,
        Box::leak(slots.into_boxed_slice()),
        Box::leak(arena.into_boxed_slice()),
    )
}

struct Wire {
    client: Endpoint<'static>,
    server: Endpoint<'static>,
    a: SocketAddr,
    b: SocketAddr,
    now: Instant,
    buf: Vec<u8>,
    done: u64,
}

impl Wire {
    fn new() -> Wire {
        Wire {
            client: endpoint(1),
            server: endpoint(2),
            a: "192.0.2.10:5060".parse().unwrap(),
            b: "192.0.2.20:5060".parse().unwrap(),
            now: Instant::ZERO,
            buf: Vec::with_capacity(MAX_MESSAGE),
            done: 0,
        }
    }

    /// Drains one side; transmissions are handed to the other side; the server TU answers
    /// requests; returns whether anything moved.
    fn pump(&mut self, from_client: bool, invite_final: u16) -> bool {
        let mut moved = false;
        let mut to_deliver: Vec<(Vec<u8>, Transport)> = Vec::new();
        let mut answer: Option<(TransactionId, bool)> = None;
        let (ep, now) = if from_client {
            (&mut self.client, self.now)
        } else {
            (&mut self.server, self.now)
        };
        while let Some(out) = ep.poll_output() {
            match out {
                Output::Transmit(t) => {
                    self.buf.clear();
                    self.buf.extend_from_slice(t.bytes);
                    to_deliver.push((self.buf.clone(), t.transport));
                }
                Output::Event(Event::Request { tx, bytes, .. }) => {
                    answer = Some((tx, bytes.starts_with(b"INVITE")));
                }
                Output::Event(Event::Response { bytes, .. }) => {
                    black_box(bytes.len());
                }
                Output::Event(Event::Terminated { .. }) => {
                    if from_client {
                        self.done += 1;
                    }
                }
                Output::Event(_) => {}
                Output::Timeout(_) => break,
            }
        }
        if let Some((tx, invite)) = answer {
            let tag = Some("uas1");
            if invite {
                let ringing = ResponseParts {
                    to_tag: tag,
                    ..ResponseParts::new(180, "Ringing")
                };
                self.server.respond(now, tx, &ringing).unwrap();
                let fin = ResponseParts {
                    to_tag: tag,
                    ..ResponseParts::new(invite_final, "Busy Here")
                };
                self.server.respond(now, tx, &fin).unwrap();
            } else {
                let ok = ResponseParts {
                    to_tag: tag,
                    ..ResponseParts::new(200, "OK")
                };
                self.server.respond(now, tx, &ok).unwrap();
            }
            moved = true;
        }
        let (dst, local, remote) = if from_client {
            (&mut self.server, self.b, self.a)
        } else {
            (&mut self.client, self.a, self.b)
        };
        for (bytes, transport) in to_deliver {
            dst.handle(
                now,
                Input::Received {
                    transport,
                    local,
                    remote,
                    bytes: &bytes,
                },
            );
            moved = true;
        }
        moved
    }

    fn transaction(&mut self, method: &str, transport: Transport, cseq: u32) {
        let parts = RequestParts {
            method,
            request_uri: "sip:bob@192.0.2.20",
            via: SentBy {
                transport: "UDP",
                host: "",
                port: None,
                branch: "",
                rport: false,
            },
            max_forwards: 70,
            to: Address {
                display: Some("Bob"),
                uri: "sip:bob@biloxi.example.com",
                tag: None,
            },
            from: Address {
                display: Some("Alice"),
                uri: "sip:alice@atlanta.example.com",
                tag: Some("1928301774"),
            },
            call_id: "a84b4c76e66710@pc33.atlanta.example.com",
            cseq,
            contact: Some("sip:alice@192.0.2.10"),
            route: &[],
            extra: &[],
            content_type: None,
            body: b"",
        };
        let dest = Destination {
            transport,
            local: self.a,
            remote: self.b,
        };
        self.client.send_request(self.now, dest, &parts).unwrap();
        for _ in 0..16 {
            let c = self.pump(true, 486);
            let s = self.pump(false, 486);
            if !c && !s {
                break;
            }
        }
    }

    /// Jumps the clock past every lingering timer and fires them all. The endpoint fires
    /// only as many timers per call as its output queue takes, so call until none is due.
    fn sweep(&mut self) {
        self.now = self.now + Duration::from_secs(40);
        for _ in 0..100_000 {
            self.client.handle(self.now, Input::Timeout);
            self.server.handle(self.now, Input::Timeout);
            while self.pump(true, 486) | self.pump(false, 486) {}
            if self.client.transactions() == 0 && self.server.transactions() == 0 {
                break;
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let slot = std::mem::size_of::<Slot<Tx>>();
    println!(
        "memory per transaction: {slot} bytes table slot + at most 2 x max_message {MAX_MESSAGE} \
         bytes of pooled message regions, held while its state needs them: a server \
         non-INVITE in Completed (Timer J) holds 1, a client non-INVITE in Completed (Timer K) \
         0, an INVITE transaction in Accepted 2"
    );
    let mut g = c.benchmark_group("transactions");
    g.throughput(Throughput::Elements(1));
    g.bench_function("non_invite_tcp", |b| {
        let mut w = Wire::new();
        let mut n = 0u32;
        b.iter(|| {
            n = n.wrapping_add(1);
            w.transaction("OPTIONS", Transport::Tcp, n % 1_000_000 + 1);
        });
        assert_eq!(w.client.transactions(), 0);
        assert_eq!(w.server.transactions(), 0);
    });
    g.bench_function("invite_udp", |b| {
        let mut w = Wire::new();
        let mut n = 0u32;
        b.iter(|| {
            n = n.wrapping_add(1);
            w.transaction("INVITE", Transport::Udp, n % 1_000_000 + 1);
            if n % 256 == 0 {
                w.sweep();
            }
        });
        w.sweep();
        assert_eq!(w.client.transactions(), 0);
        assert_eq!(w.server.transactions(), 0);
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
