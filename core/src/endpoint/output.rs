//! What the endpoint hands out: transmissions, events for the TU, and the next timeout.

use core::net::SocketAddr;

use super::{Endpoint, TransactionId};
use crate::message::{Header, HeaderName, Message, Parser};
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
    /// A request received by a stateless endpoint ([`Config::stateless`](super::Config)):
    /// no transaction was made; answer or forward it with
    /// [`Endpoint::send_stateless`](super::Endpoint::send_stateless) (§16.11).
    StatelessRequest {
        /// The request.
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
    /// A pool region (see `pool`).
    Pool(u32),
    /// The region of scratch entry `k` (the fixed one or a pool region).
    Scratch(usize),
}

/// Which of a transaction's stored messages a transmission sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Request,
    Response,
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
    StatelessRequest,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    Transmit {
        id: SlotId,
        part: Part,
    },
    Ack {
        id: SlotId,
    },
    Event {
        id: SlotId,
        kind: EventKind,
    },
    /// A scratch region's message; its length and addresses are in the endpoint's
    /// scratch table, so that queue items stay small.
    Scratch {
        region: usize,
        /// `None`: transmit; `Some`: deliver as this event.
        event: Option<ScratchEvent>,
    },
}

/// Capacity of each output queue (transmissions, events).
pub const TRANSMIT_QUEUE: usize = 16;
const QUEUE: usize = TRANSMIT_QUEUE;

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

    /// The pending items, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Pending> {
        let (head, len) = (self.head, self.len);
        let (a, b) = self.items.split_at(head);
        b.iter()
            .chain(a.iter())
            .take(len)
            .filter_map(Option::as_ref)
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

    /// The oldest item.
    pub(crate) fn front(&self) -> Option<&Pending> {
        if self.len == 0 {
            None
        } else {
            self.items[self.head].as_ref()
        }
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
    /// The next message to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        loop {
            let p = self.transmits.pop()?;
            let (id, part) = match p {
                Pending::Transmit { id, part } => (id, Some(part)),
                Pending::Ack { id } => (id, None),
                Pending::Scratch { region, .. } => {
                    // Freed now: the returned borrow keeps the bytes until the next call (a
                    // freed region is written only by a later input or command).
                    let Some(m) = self.scratch.get(region).copied() else {
                        continue;
                    };
                    let range = self.region_range(Region::Scratch(region));
                    self.free_scratch(region);
                    let bytes = self.arena.get(range).unwrap_or(&[]);
                    let bytes = bytes.get(..m.len).unwrap_or(bytes);
                    return Some(Transmit {
                        transport: m.transport,
                        local: m.local,
                        remote: m.remote,
                        bytes,
                        tx: None,
                    });
                }
                Pending::Event { .. } => continue,
            };
            let Some(t) = self.table.get_mut(id) else {
                continue;
            };
            t.queued_transmits = t.queued_transmits.saturating_sub(1);
            let t = *t;
            let range = match part {
                Some(Part::Request) => self.pool_bytes(t.request, t.request_len),
                Some(Part::Response) => self.pool_bytes(t.response, t.response_len),
                None => match self.build_ack(&t) {
                    Some((r, n)) => r.start..r.start + n.min(r.len()),
                    None => continue,
                },
            };
            if t.reap && t.queued_transmits == 0 {
                // Its Terminated event was already delivered: free the slot now that its
                // last message leaves. The bytes stay in the arena until the next input.
                self.remove_tx(id);
            } else {
                self.reclaim(id);
            }
            if range.is_empty() {
                // Nothing stored to send (never expected: a queued transmission keeps its
                // region); an empty datagram would only confuse the peer.
                continue;
            }
            let bytes = self.arena.get(range).unwrap_or(&[]);
            return Some(Transmit {
                transport: t.transport,
                local: t.local,
                remote: t.remote,
                bytes,
                tx: Some(TransactionId(id)),
            });
        }
    }

    /// The next event for the TU, if any.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        loop {
            let p = self.events.pop()?;
            match p {
                Pending::Event { id, kind } => {
                    let Some(t) = self.table.get_mut(id) else {
                        continue;
                    };
                    if kind == EventKind::Terminated {
                        if t.queued_transmits == 0 {
                            self.remove_tx(id);
                        } else {
                            t.reap = true;
                        }
                        return Some(Event::Terminated {
                            tx: TransactionId(id),
                        });
                    }
                    let t = *t;
                    let tx = TransactionId(id);
                    let range = match kind {
                        EventKind::Request { .. } => self.pool_bytes(t.request, t.request_len),
                        EventKind::Response => self.pool_bytes(t.response, t.response_len),
                        _ => 0..0,
                    };
                    // The bytes are returned to the pool once delivered if the state no
                    // longer needs them; they stay intact until the next input.
                    self.reclaim(id);
                    let bytes = self.arena.get(range).unwrap_or(&[]);
                    return Some(match kind {
                        EventKind::Request { cancels } => Event::Request {
                            tx,
                            bytes,
                            cancels: cancels.map(TransactionId),
                        },
                        EventKind::Response => Event::Response { tx, bytes },
                        EventKind::Timeout => Event::Timeout { tx },
                        EventKind::TransportError => Event::TransportError { tx },
                        EventKind::Terminated => Event::Terminated { tx },
                    });
                }
                Pending::Scratch {
                    region,
                    event: Some(kind),
                } => {
                    let Some(m) = self.scratch.get(region).copied() else {
                        continue;
                    };
                    let (len, remote) = (m.len, m.remote);
                    let range = self.region_range(Region::Scratch(region));
                    self.free_scratch(region);
                    let bytes = self.arena.get(range).unwrap_or(&[]);
                    let bytes = bytes.get(..len).unwrap_or(bytes);
                    return Some(match kind {
                        ScratchEvent::Ack => Event::Ack { bytes, remote },
                        ScratchEvent::StrayResponse => Event::StrayResponse { bytes, remote },
                        ScratchEvent::StatelessRequest => Event::StatelessRequest { bytes, remote },
                    });
                }
                _ => continue,
            }
        }
    }

    /// When [`Input::Timeout`](super::Input::Timeout) is next due (possibly already past:
    /// then call it at once).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.next_deadline()
    }

    pub(super) fn next_output(&mut self) -> Option<Output<'_>> {
        // Transmissions first: a transaction's last message must leave before its slot is
        // reused. Stale entries are dropped first so that a poll below that is entered
        // always yields (the borrow checker cannot return a borrow from one branch and
        // fall through to another).
        if self.prune(true) {
            return self.poll_transmit().map(Output::Transmit);
        }
        if self.prune(false) {
            return self.poll_event().map(Output::Event);
        }
        self.poll_timeout().map(Output::Timeout)
    }

    /// Drops queue heads that would yield nothing; whether a live item remains.
    fn prune(&mut self, transmits: bool) -> bool {
        loop {
            let q = if transmits {
                &self.transmits
            } else {
                &self.events
            };
            let live = match q.front() {
                None => return false,
                Some(Pending::Scratch { .. }) => true,
                Some(Pending::Transmit { id, .. }) => self.table.get(*id).is_some(),
                Some(Pending::Ack { id }) => self.table.get(*id).is_some_and(|t| {
                    matches!(t.machine, Machine::ClientInvite(_)) && t.response_len > 0
                }),
                Some(Pending::Event { id, .. }) => self.table.get(*id).is_some(),
            };
            if live {
                return true;
            }
            if transmits {
                self.transmits.pop();
            } else {
                self.events.pop();
            }
        }
    }

    /// Builds the ACK for a non-2xx final response (§17.1.1.3): the INVITE's Request-URI,
    /// top Via, Route, From, Call-ID and CSeq number; the response's To (with its tag).
    /// Where it was built and its length.
    fn build_ack(&mut self, t: &super::Tx) -> Option<(core::ops::Range<usize>, usize)> {
        if !matches!(t.machine, Machine::ClientInvite(_)) {
            return None;
        }
        let req = self.pool_bytes(t.request, t.request_len);
        let resp = self.pool_bytes(t.response, t.response_len);
        let poll = self.ack_region()?;
        let (others, out) = super::pool::split_out(&mut self.arena, poll.clone());
        let req_bytes = others.get(req);
        let resp_bytes = others.get(resp);
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
        let to = resp.header(HeaderName::To)?.value;
        let len = write_ack_or_cancel(out, &req, "ACK", to)?;
        Some((poll, len))
    }
}

/// Writes into `out` the ACK for a non-2xx final response (§17.1.1.3) or the CANCEL
/// (§9.1) of the INVITE `invite`, which share their shape: `method` with the INVITE's
/// Request-URI, its top Via (the same branch), Max-Forwards 70, its Route set, `to` (the
/// response's To, with its tag, for an ACK; the INVITE's for a CANCEL), its From and
/// Call-ID, and its CSeq number with `method`. The length written, or `None` if it does not
/// fit or the INVITE lacks a header.
pub(super) fn write_ack_or_cancel(
    out: &mut [u8],
    invite: &Message<'_, '_>,
    method: &str,
    to: &[u8],
) -> Option<usize> {
    let via = invite.header(HeaderName::Via)?;
    let top_via = crate::message::lex::CommaValues::new(via.value).next()?;
    let mut w = crate::message::Writer::new(out);
    w.request_line(method, invite.request_uri()?.raw()).ok()?;
    w.header("Via", top_via).ok()?;
    w.header("Max-Forwards", b"70").ok()?;
    for r in invite.headers_named(HeaderName::Route) {
        w.header("Route", r.value).ok()?;
    }
    w.header("To", to).ok()?;
    w.header("From", invite.header(HeaderName::From)?.value)
        .ok()?;
    w.header("Call-ID", invite.header(HeaderName::CallId)?.value)
        .ok()?;
    w.put(b"CSeq: ").ok()?;
    w.put_u32(invite.cseq().ok()?.seq).ok()?;
    w.put(b" ").ok()?;
    w.put(method.as_bytes()).ok()?;
    w.put(b"\r\n").ok()?;
    w.body(b"").ok()?;
    Some(w.len())
}
