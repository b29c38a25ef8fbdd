//! What the endpoint hands out: transmissions, events for the TU, and the next timeout.

use core::net::SocketAddr;

use super::{Endpoint, TransactionId, SCRATCH_REGIONS};
use crate::message::{Header, HeaderName, Parser};
use crate::time::Instant;
use crate::transaction::{Machine, SlotId};
use crate::transport::Transport;

/// Bytes to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The transport; for a stream, send on the connection between `local` and `remote`
    /// (opening it if needed).
    pub transport: Transport,
    /// Our address to send from.
    pub local: SocketAddr,
    /// The peer.
    pub remote: SocketAddr,
    /// The message.
    pub bytes: &'a [u8],
    /// The transaction sending it, if any: report a failure with
    /// [`Input::SendFailed`](super::Input::SendFailed).
    pub tx: Option<TransactionId>,
}

/// Something the TU must know or decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A new request in a new server transaction: answer it with
    /// [`Endpoint::respond`](super::Endpoint::respond).
    Request {
        /// The server transaction.
        tx: TransactionId,
        /// The request as received.
        bytes: &'a [u8],
        /// For a CANCEL, the INVITE server transaction it cancels, if it matched one (§9.2).
        cancels: Option<TransactionId>,
    },
    /// A response to a client transaction's request.
    Response {
        /// The client transaction.
        tx: TransactionId,
        /// The response.
        bytes: &'a [u8],
    },
    /// An ACK that matched no transaction: the ACK for a 2xx, which belongs to the dialog
    /// (§13.3.1.4, §17.2.3), or a stray.
    Ack {
        /// The ACK.
        bytes: &'a [u8],
        /// Where it came from.
        remote: SocketAddr,
    },
    /// A response that matched no client transaction: a retransmitted 2xx after the
    /// transaction ended (§13.2.2.4), or a response a stateless proxy forwards (§16.11).
    StrayResponse {
        /// The response.
        bytes: &'a [u8],
        /// Where it came from.
        remote: SocketAddr,
    },
    /// The transaction timed out (Timer B, F or H).
    Timeout {
        /// The transaction.
        tx: TransactionId,
    },
    /// The transport failed for this transaction.
    TransportError {
        /// The transaction.
        tx: TransactionId,
    },
    /// The transaction ended and its slot is free.
    Terminated {
        /// The transaction.
        tx: TransactionId,
    },
}

/// One output of [`Endpoint::poll_output`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// Send these bytes.
    Transmit(Transmit<'a>),
    /// Tell the TU.
    Event(Event<'a>),
    /// Nothing more now; call [`Input::Timeout`](super::Input::Timeout) at this time.
    Timeout(Instant),
}

/// An arena region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    Request(u32),
    Response(u32),
    Scratch(usize),
    Poll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    Request { cancels: Option<SlotId> },
    Response,
    Timeout,
    TransportError,
    Terminated,
}

/// A stateless event carried in a scratch region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScratchEvent {
    Ack,
    StrayResponse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    Transmit {
        id: SlotId,
        region: Region,
    },
    Ack {
        id: SlotId,
    },
    Event {
        id: SlotId,
        kind: EventKind,
    },
    Scratch {
        region: usize,
        len: usize,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        /// `None`: transmit; `Some`: deliver as this event.
        event: Option<ScratchEvent>,
    },
}

const QUEUE: usize = 32;

/// A fixed ring of pending outputs.
#[derive(Debug)]
pub(crate) struct Queue {
    items: [Option<Pending>; QUEUE],
    head: usize,
    len: usize,
}

impl Queue {
    pub(crate) const fn new() -> Self {
        Queue {
            items: [None; QUEUE],
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, p: Pending) -> Result<(), Pending> {
        if self.len == QUEUE {
            return Err(p);
        }
        self.items[(self.head + self.len) % QUEUE] = Some(p);
        self.len += 1;
        Ok(())
    }

    /// Free places.
    pub(crate) fn free(&self) -> usize {
        QUEUE - self.len
    }

    /// The pending items, oldest first, to rewrite in place.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Pending> {
        let (head, len) = (self.head, self.len);
        let (a, b) = self.items.split_at_mut(head);
        b.iter_mut()
            .chain(a.iter_mut())
            .take(len)
            .filter_map(Option::as_mut)
    }

    pub(crate) fn pop(&mut self) -> Option<Pending> {
        if self.len == 0 {
            return None;
        }
        let p = self.items[self.head].take();
        self.head = (self.head + 1) % QUEUE;
        self.len -= 1;
        p
    }
}

impl Endpoint<'_> {
    pub(super) fn next_output(&mut self) -> Option<Output<'_>> {
        loop {
            let Some(p) = self.queue.pop() else {
                return self.table.next_deadline().map(Output::Timeout);
            };
            match p {
                Pending::Transmit { id, region } => {
                    let Some(t) = self.table.get(id).copied() else {
                        continue;
                    };
                    let len = match region {
                        Region::Request(_) => t.request_len,
                        _ => t.response_len,
                    };
                    let bytes = &self.region(region)[..len];
                    return Some(Output::Transmit(Transmit {
                        transport: t.transport,
                        local: t.local,
                        remote: t.remote,
                        bytes,
                        tx: Some(TransactionId(id)),
                    }));
                }
                Pending::Ack { id } => {
                    let Some(t) = self.table.get(id).copied() else {
                        continue;
                    };
                    let Some(len) = self.build_ack(id) else {
                        continue;
                    };
                    return Some(Output::Transmit(Transmit {
                        transport: t.transport,
                        local: t.local,
                        remote: t.remote,
                        bytes: &self.region(Region::Poll)[..len],
                        tx: Some(TransactionId(id)),
                    }));
                }
                Pending::Event { id, kind } => {
                    let Some(t) = self.table.get(id).copied() else {
                        continue;
                    };
                    let tx = TransactionId(id);
                    let event = match kind {
                        EventKind::Request { cancels } => Event::Request {
                            tx,
                            bytes: &self.region(Region::Request(id.index))[..t.request_len],
                            cancels: cancels.map(TransactionId),
                        },
                        EventKind::Response => Event::Response {
                            tx,
                            bytes: &self.region(Region::Response(id.index))[..t.response_len],
                        },
                        EventKind::Timeout => Event::Timeout { tx },
                        EventKind::TransportError => Event::TransportError { tx },
                        EventKind::Terminated => {
                            self.table.remove(id);
                            Event::Terminated { tx }
                        }
                    };
                    return Some(Output::Event(event));
                }
                Pending::Scratch {
                    region,
                    len,
                    transport,
                    local,
                    remote,
                    event,
                } => {
                    if let Some(b) = self.scratch_busy.get_mut(region) {
                        *b = false;
                    }
                    debug_assert!(region < SCRATCH_REGIONS);
                    let bytes = &self.region(Region::Scratch(region))[..len];
                    return Some(match event {
                        None => Output::Transmit(Transmit {
                            transport,
                            local,
                            remote,
                            bytes,
                            tx: None,
                        }),
                        Some(ScratchEvent::Ack) => Output::Event(Event::Ack { bytes, remote }),
                        Some(ScratchEvent::StrayResponse) => {
                            Output::Event(Event::StrayResponse { bytes, remote })
                        }
                    });
                }
            }
        }
    }

    /// Builds the ACK for a non-2xx final response into the poll region (§17.1.1.3): the
    /// INVITE's Request-URI, top Via, Route, From, Call-ID and CSeq number; the response's
    /// To (with its tag).
    fn build_ack(&mut self, id: SlotId) -> Option<usize> {
        let t = *self.table.get(id)?;
        if !matches!(t.machine, Machine::ClientInvite(_)) {
            return None;
        }
        let m = self.config.max_message;
        let base = 2 * id.index as usize * m;
        let cap = self.table.capacity();
        let poll = (2 * cap + SCRATCH_REGIONS) * m;
        let (low, high) = self.arena.split_at_mut(poll);
        let req_bytes = &low[base..base + t.request_len];
        let resp_bytes = &low[base + m..base + m + t.response_len];
        let out = &mut high[..m];
        let mut rh = [Header::EMPTY; super::MAX_HEADERS];
        let req = Parser::datagram()
            .parse(req_bytes, &mut rh)
            .ok()?
            .complete()?;
        let mut sh = [Header::EMPTY; super::MAX_HEADERS];
        let resp = Parser::datagram()
            .parse(resp_bytes, &mut sh)
            .ok()?
            .complete()?;
        let via = req.header(HeaderName::Via)?;
        let top_via = crate::message::lex::CommaValues::new(via.value).next()?;
        let mut w = crate::message::Writer::new(out);
        w.request_line("ACK", req.request_uri()?.raw()).ok()?;
        w.header("Via", top_via).ok()?;
        w.header("Max-Forwards", b"70").ok()?;
        for r in req.headers_named(HeaderName::Route) {
            w.header("Route", r.value).ok()?;
        }
        w.header("To", resp.header(HeaderName::To)?.value).ok()?;
        w.header("From", req.header(HeaderName::From)?.value).ok()?;
        w.header("Call-ID", req.header(HeaderName::CallId)?.value)
            .ok()?;
        let cseq = req.cseq().ok()?;
        w.put(b"CSeq: ").ok()?;
        w.put_u32(cseq.seq).ok()?;
        w.put(b" ACK\r\n").ok()?;
        w.body(b"").ok()?;
        Some(w.len())
    }
}
