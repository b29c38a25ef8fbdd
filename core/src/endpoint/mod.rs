//! The one sans-IO entry point: the endpoint ties the message, transport and transaction
//! layers together.
//!
//! ```text
//! endpoint.handle(now, Input::Received { transport, local, remote, bytes })
//! endpoint.handle(now, Input::Timeout)
//! endpoint.send_request(now, destination, parts) / endpoint.respond(now, tx, parts)
//! loop {
//!     match endpoint.poll_output() {
//!         Some(Output::Transmit(t)) => socket.send_to(t.bytes, t.remote),
//!         Some(Output::Event(e))    => application.on_event(e),
//!         Some(Output::Timeout(at)) => { arm the one timer at `at`; break }
//!         None                      => break,
//!     }
//! }
//! ```
//!
//! After each input or command, drain [`Endpoint::poll_output`] until it returns a timeout or
//! `None`: the bytes an output borrows stay valid only until the next input.
//!
//! Memory is fixed when the endpoint is built: the caller hands over the transaction slots
//! and a byte arena ([`Endpoint::arena_len`] says how large). When the table is full, a new
//! request is answered 503 with Retry-After (§21.5.4) and nothing grows.

mod output;
mod receive;

pub use output::{Event, Output, Transmit};

use core::net::SocketAddr;

use crate::message::builder::{RequestParts, ResponseParts, SentBy};
use crate::message::{Framing, Header, Parser, Status, WriteError, Writer};
use crate::rand::{Branch, Rng};
use crate::storage::Storage;
use crate::time::Instant;
use crate::transaction::key::{KeyHasher, KeyKind, TransactionKey};
use crate::transaction::{
    ClientInviteTransaction, ClientNonInviteTransaction, Effects, Machine, Slot, SlotId, Table,
    TimerConfig,
};
use crate::transport::{self, Transport, ViaReceived};
pub use output::TRANSMIT_QUEUE;
use output::{EventKind, Pending, Queue, Region};

/// The most header lines the endpoint reads in one message it receives.
pub const MAX_HEADERS: usize = 64;
/// The most outputs one input or one timer firing queues.
const MAX_OUTPUTS_PER_INPUT: usize = 6;
/// The most scratch regions the arena gives stateless messages (503s, 400s, stray messages,
/// ACKs for 2xx): [`Endpoint::arena_len`] reserves this many; a smaller arena gets fewer
/// (at least one, see [`Endpoint::arena_len_with`]).
pub const SCRATCH_REGIONS: usize = 4;

/// Endpoint settings. Capacities are in the storage handed to [`Endpoint::new`].
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// T1, T2, T4 and the timers derived from them.
    pub timers: TimerConfig,
    /// Seed for branches, tags and the matching keys' secret: one seed reproduces a run.
    pub seed: u64,
    /// The largest message the endpoint stores (a request, or a response), in bytes; the
    /// arena holds two per transaction.
    pub max_message: usize,
    /// The Retry-After, in seconds, of the 503 sent when the table is full.
    pub retry_after: u32,
    /// The path MTU if known, for the UDP→TCP rule of §18.1.1.
    pub path_mtu: Option<u16>,
    /// A stateless element (§16.11): received requests create no server transaction and
    /// arrive as [`Event::StatelessRequest`].
    pub stateless: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timers: TimerConfig::default(),
            seed: 0,
            max_message: 4096,
            retry_after: 5,
            path_mtu: None,
            stateless: false,
        }
    }
}

/// A transaction, as the application names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub(crate) SlotId);

/// Where a request goes: the transport, our local address (the Via sent-by), the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destination {
    /// Transport to use; UDP may become TCP for a large request (§18.1.1).
    pub transport: Transport,
    /// Our address the request leaves from; it is the Via sent-by.
    pub local: SocketAddr,
    /// The next hop.
    pub remote: SocketAddr,
}

/// Why a command failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointError {
    /// The transaction table is full.
    TableFull,
    /// The message does not fit in `max_message` bytes.
    TooLarge,
    /// No such transaction (it ended, or the id is stale).
    NoTransaction,
    /// The transaction's state does not allow this (e.g. a second final response).
    InvalidState,
    /// The output queue is full: drain `poll_output` after every input and command.
    QueueFull,
    /// No free scratch region for a stateless message: drain `poll_output`.
    Busy,
}

impl core::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EndpointError::TableFull => "transaction table full",
            EndpointError::TooLarge => "message larger than max_message",
            EndpointError::NoTransaction => "no such transaction",
            EndpointError::InvalidState => "not allowed in the transaction's state",
            EndpointError::QueueFull => "output queue full",
            EndpointError::Busy => "no free scratch buffer",
        })
    }
}

impl core::error::Error for EndpointError {}

impl From<WriteError> for EndpointError {
    fn from(_: WriteError) -> Self {
        EndpointError::TooLarge
    }
}

/// What arrives at the endpoint.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// One datagram, or one whole message framed from a stream.
    Received {
        /// The transport it came over.
        transport: Transport,
        /// Our address it arrived at.
        local: SocketAddr,
        /// The peer's address.
        remote: SocketAddr,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// The time reported by the last [`Output::Timeout`] has come.
    Timeout,
    /// Sending a transaction's message failed (§17.1.4, §17.2.4).
    SendFailed {
        /// The transaction named by the failed [`Transmit`].
        tx: TransactionId,
    },
}

/// Counters of what the endpoint did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages received.
    pub received: u64,
    /// Malformed messages: requests answered statelessly, responses dropped.
    pub malformed: u64,
    /// Requests answered 503 because the table was full.
    pub rejected_full: u64,
    /// Retransmissions sent.
    pub retransmissions: u64,
}

/// A transaction in the table: its state machine and where its messages go.
#[derive(Clone, Copy, Debug)]
pub struct Tx {
    machine: Machine,
    transport: Transport,
    local: SocketAddr,
    remote: SocketAddr,
    /// Lengths of the stored request and response in the slot's arena regions.
    request_len: usize,
    response_len: usize,
    /// Server side: what to add to the top Via in responses (§18.2.1).
    via_received: ViaReceived,
    /// Server side: the request was in RFC 2543 form (no magic cookie, §17.2.3).
    rfc2543: bool,
    /// The slot's deadline as last registered in the table.
    deadline: Option<Instant>,
    /// A Terminated event is queued: no more inputs are taken.
    ending: bool,
    /// Transmissions queued for this transaction and not yet polled.
    queued_transmits: u8,
    /// The Terminated event was delivered while transmissions were still queued: free the
    /// slot when the last one is polled.
    reap: bool,
    /// What the TU filed the transaction under ([`Endpoint::set_tu_tag`]).
    tu_tag: u32,
}

/// The sans-IO SIP endpoint: transport rules, the four transaction state machines and
/// matching, over fixed storage.
pub struct Endpoint<'s> {
    config: Config,
    rng: Rng,
    secret: (u64, u64),
    table: Table<'s, Tx>,
    arena: Storage<'s, u8>,
    transmits: Queue,
    events: Queue,
    /// Scratch regions in use, of `scratch_count` (`SCRATCH_REGIONS` at most), and where the
    /// message each one holds goes (kept here, not in the queues, to keep queue items small).
    scratch: [ScratchMeta; SCRATCH_REGIONS],
    scratch_count: usize,
    stats: Stats,
}

/// A scratch region's state: in use or not, and the message it holds.
#[derive(Clone, Copy, Debug)]
struct ScratchMeta {
    busy: bool,
    len: usize,
    transport: Transport,
    local: SocketAddr,
    remote: SocketAddr,
}

impl ScratchMeta {
    const FREE: ScratchMeta = ScratchMeta {
        busy: false,
        len: 0,
        transport: Transport::Udp,
        local: SocketAddr::V4(core::net::SocketAddrV4::new(
            core::net::Ipv4Addr::UNSPECIFIED,
            0,
        )),
        remote: SocketAddr::V4(core::net::SocketAddrV4::new(
            core::net::Ipv4Addr::UNSPECIFIED,
            0,
        )),
    };
}

impl<'s> Endpoint<'s> {
    /// The arena size needed for `transactions` slots at `max_message` bytes: a request and
    /// a response per transaction, [`SCRATCH_REGIONS`] scratch regions, and one region for
    /// messages built when polled (ACKs).
    pub const fn arena_len(transactions: usize, max_message: usize) -> usize {
        Self::arena_len_with(transactions, max_message, SCRATCH_REGIONS)
    }

    /// The arena size for `transactions` slots at `max_message` bytes with
    /// `scratch_regions` scratch regions (1 to [`SCRATCH_REGIONS`]). Scratch regions hold
    /// stateless messages until they are polled: a stateless 400/503/513, a received ACK
    /// for a 2xx or a stray response, a sent ACK for a 2xx, a CANCEL being built. A UA that
    /// drains its outputs after every input (a phone) needs one; a busy server more, or
    /// [`Endpoint::send_stateless`] and friends answer [`EndpointError::Busy`] and received
    /// strays are dropped (the peer retransmits).
    pub const fn arena_len_with(
        transactions: usize,
        max_message: usize,
        scratch_regions: usize,
    ) -> usize {
        (2 * transactions + scratch_regions + 1) * max_message
    }

    /// An endpoint over caller storage. The transaction capacity is `slots.len()`; the arena
    /// must be at least [`Endpoint::arena_len`] bytes. The arena's `max_message` regions go
    /// to the slots first (two each, plus one scratch region and the poll region); what is
    /// left becomes scratch regions, up to [`SCRATCH_REGIONS`]. A smaller arena lowers the
    /// capacity.
    pub fn new(
        config: Config,
        slots: impl Into<Storage<'s, Slot<Tx>>>,
        arena: impl Into<Storage<'s, u8>>,
    ) -> Self {
        let mut rng = Rng::new(config.seed);
        let secret = (rng.next_u64(), rng.next_u64());
        let arena = arena.into();
        let mut slots = slots.into();
        let regions = arena.len() / config.max_message.max(1);
        // Two regions per slot, one scratch region and the poll region at least.
        let fit = regions.saturating_sub(2) / 2;
        if fit < slots.len() {
            slots = match slots {
                Storage::Borrowed(s) => Storage::Borrowed(&mut s[..fit]),
                #[cfg(feature = "alloc")]
                Storage::Owned(mut v) => {
                    v.truncate(fit);
                    Storage::Owned(v)
                }
            };
        }
        let scratch_count = regions
            .saturating_sub(2 * slots.len() + 1)
            .min(SCRATCH_REGIONS);
        Endpoint {
            config,
            rng,
            secret,
            table: Table::new(slots),
            arena,
            transmits: Queue::new(),
            events: Queue::new(),
            scratch: [ScratchMeta::FREE; SCRATCH_REGIONS],
            scratch_count,
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Transactions in the table.
    pub fn transactions(&self) -> usize {
        self.table.len()
    }

    /// The transactions in the table, for inspection.
    pub fn transaction_ids(&self) -> impl Iterator<Item = TransactionId> + '_ {
        self.table.iter().map(|(id, _)| TransactionId(id))
    }

    /// The transaction capacity.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The seeded generator, for the TU's tags and Call-IDs.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Handles one input. Then drain [`poll_output`](Self::poll_output).
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Received {
                transport,
                local,
                remote,
                bytes,
            } => self.receive(now, transport, local, remote, bytes),
            Input::Timeout => self.handle_timeout(now),
            Input::SendFailed { tx } => {
                if let Some(t) = self.table.get_mut(tx.0) {
                    let fx = t.machine.on_transport_error();
                    self.apply(now, tx.0, fx);
                }
            }
        }
    }

    /// Fires every timer due at `now`. Calling it early or twice is harmless.
    fn handle_timeout(&mut self, now: Instant) {
        // Each firing moves a deadline forward or clears it; the bound is a guard against a
        // machine that would not, never a limit in practice.
        let bound = 8 * self.table.capacity() + 8;
        for _ in 0..bound {
            // Back-pressure: fire only what the queue can take; the rest stay due, and the
            // next `Output::Timeout` (already past) asks for another call at once.
            if self.transmits.free() < MAX_OUTPUTS_PER_INPUT
                || self.events.free() < MAX_OUTPUTS_PER_INPUT
            {
                break;
            }
            let Some(id) = self.table.due(now) else {
                break;
            };
            let fx = match self.table.get_mut(id) {
                Some(t) => t.machine.on_timeout(now),
                None => break,
            };
            self.apply(now, id, fx);
        }
    }

    /// Sends a request in a new client transaction (§17.1). The endpoint writes the Via
    /// (sent-by from `dest.local`, a fresh branch, `rport`), picks TCP for a large request
    /// over UDP (§18.1.1), and keeps the request for retransmission.
    pub fn send_request(
        &mut self,
        now: Instant,
        dest: Destination,
        parts: &RequestParts<'_>,
    ) -> Result<TransactionId, EndpointError> {
        let branch = Branch::new(&mut self.rng);
        let mut key = self.hasher(KeyKind::Client);
        key.field(branch.as_str().as_bytes());
        key.field(parts.method.as_bytes());
        let key = key.finish();
        let mut transport = dest.transport;
        let placeholder = Tx::client(
            Machine::ClientNonInvite(
                ClientNonInviteTransaction::start(now, true, self.config.timers).0,
            ),
            Destination { transport, ..dest },
        );
        let id = self
            .table
            .insert(key, placeholder)
            .map_err(|_| EndpointError::TableFull)?;
        let mut host = [0u8; 64];
        let written = self.write_request(id, dest, transport, &branch, parts, &mut host);
        let len = match written {
            Ok(n) => n,
            Err(e) => {
                self.table.remove(id);
                return Err(e);
            }
        };
        // §18.1.1: a large request over UDP goes over TCP instead (the Via must say so).
        let chosen = transport::select(len, self.config.path_mtu, transport);
        let len = if chosen != transport {
            transport = chosen;
            match self.write_request(id, dest, transport, &branch, parts, &mut host) {
                Ok(n) => n,
                Err(e) => {
                    self.table.remove(id);
                    return Err(e);
                }
            }
        } else {
            len
        };
        let (machine, fx) = start_client(
            now,
            parts.method,
            transport.is_reliable(),
            self.config.timers,
        );
        if let Some(t) = self.table.get_mut(id) {
            t.machine = machine;
            t.transport = transport;
            t.request_len = len;
        }
        self.apply(now, id, fx);
        Ok(TransactionId(id))
    }

    fn write_request(
        &mut self,
        id: SlotId,
        dest: Destination,
        transport: Transport,
        branch: &Branch,
        parts: &RequestParts<'_>,
        host_buf: &mut [u8; 64],
    ) -> Result<usize, EndpointError> {
        let host = write_host(host_buf, dest.local)?;
        let mut p = *parts;
        p.via = SentBy {
            transport: transport.as_str(),
            host,
            port: Some(dest.local.port()),
            branch: branch.as_str(),
            rport: !transport.is_reliable(),
        };
        let region = self.region_mut(Region::Request(id.index));
        Ok(p.write(region)?.len())
    }

    /// Sends a request that is already written, top Via included (a proxy forwarding,
    /// §16.6), in a new client transaction keyed by `branch` (the top Via's) and `method`.
    pub fn send_request_bytes(
        &mut self,
        now: Instant,
        dest: Destination,
        method: &str,
        branch: &str,
        bytes: &[u8],
    ) -> Result<TransactionId, EndpointError> {
        if bytes.len() > self.config.max_message {
            return Err(EndpointError::TooLarge);
        }
        let mut key = self.hasher(KeyKind::Client);
        key.field(branch.as_bytes());
        key.field(method.as_bytes());
        let key = key.finish();
        let (machine, fx) = start_client(
            now,
            method,
            dest.transport.is_reliable(),
            self.config.timers,
        );
        let tx = Tx {
            request_len: bytes.len(),
            ..Tx::client(machine, dest)
        };
        let id = self
            .table
            .insert(key, tx)
            .map_err(|_| EndpointError::TableFull)?;
        self.region_mut(Region::Request(id.index))[..bytes.len()].copy_from_slice(bytes);
        self.apply(now, id, fx);
        Ok(TransactionId(id))
    }

    /// Sends a response that is already written through a server transaction: a proxy
    /// forwarding a response it received, its own Via removed (§16.7 step 9). The top Via
    /// is sent as given (the proxy passes the previous hop's Via through).
    pub fn respond_bytes(
        &mut self,
        now: Instant,
        tx: TransactionId,
        code: u16,
        bytes: &[u8],
    ) -> Result<(), EndpointError> {
        let t = *self.table.get(tx.0).ok_or(EndpointError::NoTransaction)?;
        if t.ending || !can_respond(&t.machine, code) {
            return Err(EndpointError::InvalidState);
        }
        if bytes.len() > self.config.max_message {
            return Err(EndpointError::TooLarge);
        }
        self.preserve_pending_response(tx.0)?;
        let t = self
            .table
            .get_mut(tx.0)
            .ok_or(EndpointError::NoTransaction)?;
        let fx = match &mut t.machine {
            Machine::ServerInvite(m) => m.on_tu_response(now, code),
            Machine::ServerNonInvite(m) => m.on_tu_response(now, code),
            _ => return Err(EndpointError::InvalidState),
        }
        .map_err(|_| EndpointError::InvalidState)?;
        t.response_len = bytes.len();
        self.region_mut(Region::Response(tx.0.index))[..bytes.len()].copy_from_slice(bytes);
        self.apply(now, tx.0, fx);
        Ok(())
    }

    /// Where a server transaction's responses go (§18.2.2), and its transport and local
    /// address.
    pub fn response_destination(&self, tx: TransactionId) -> Option<Destination> {
        let t = self.table.get(tx.0)?;
        Some(Destination {
            transport: t.transport,
            local: t.local,
            remote: t.remote,
        })
    }

    /// Sends a response through a server transaction (§17.2): the endpoint copies Via (top
    /// Via with `received`/`rport`, §18.2.1), From, To (tag added), Call-ID and CSeq from the
    /// request, and sends it where §18.2.2 says.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: TransactionId,
        parts: &ResponseParts<'_>,
    ) -> Result<(), EndpointError> {
        let t = *self.table.get(tx.0).ok_or(EndpointError::NoTransaction)?;
        if t.ending || !can_respond(&t.machine, parts.code) {
            return Err(EndpointError::InvalidState);
        }
        self.preserve_pending_response(tx.0)?;
        let len = self.write_response(tx.0, &t, parts)?;
        let code = parts.code;
        let t = self
            .table
            .get_mut(tx.0)
            .ok_or(EndpointError::NoTransaction)?;
        let fx = match &mut t.machine {
            Machine::ServerInvite(m) => m.on_tu_response(now, code),
            Machine::ServerNonInvite(m) => m.on_tu_response(now, code),
            _ => return Err(EndpointError::InvalidState),
        }
        .map_err(|_| EndpointError::InvalidState)?;
        t.response_len = len;
        let rfc2543 = t.rfc2543;
        self.apply(now, tx.0, fx);
        // A 2543 INVITE's ACK is matched by the To tag of the response (§17.2.3).
        if rfc2543 && code >= 300 {
            if let Some(k) = self.rfc2543_ack_alias(tx.0) {
                self.table.add_alias(tx.0, k);
            }
        }
        Ok(())
    }

    /// A response still waiting in the queue would be overwritten by the next one (a 180
    /// and a 486 sent in one go): move it to a scratch region first.
    fn preserve_pending_response(&mut self, id: SlotId) -> Result<(), EndpointError> {
        let waiting = self.transmits.iter_mut().any(
            |p| matches!(p, Pending::Transmit { id: i, region: Region::Response(_) } if *i == id),
        );
        if !waiting {
            return Ok(());
        }
        let t = *self.table.get(id).ok_or(EndpointError::NoTransaction)?;
        let r = self.take_scratch().ok_or(EndpointError::Busy)?;
        let from = self.region_range(Region::Response(id.index));
        let to = self.region_range(Region::Scratch(r));
        self.arena
            .copy_within(from.start..from.start + t.response_len, to.start);
        self.fill_scratch(r, t.response_len, t.transport, t.local, t.remote);
        for p in self.transmits.iter_mut() {
            if matches!(p, Pending::Transmit { id: i, region: Region::Response(_) } if *i == id) {
                *p = Pending::Scratch {
                    region: r,
                    event: None,
                };
                break;
            }
        }
        if let Some(t) = self.table.get_mut(id) {
            t.queued_transmits = t.queued_transmits.saturating_sub(1);
        }
        Ok(())
    }

    /// Sends the stored 2xx of a server INVITE transaction again: the TU retransmits its 2xx
    /// until the ACK comes (§13.3.1.4), and RFC 6026 passes them through the Accepted state.
    pub fn retransmit_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
    ) -> Result<(), EndpointError> {
        let t = self
            .table
            .get_mut(tx.0)
            .ok_or(EndpointError::NoTransaction)?;
        let fx = match &mut t.machine {
            Machine::ServerInvite(m)
                if m.state() == crate::transaction::ServerInviteState::Accepted =>
            {
                m.on_tu_response(now, 200)
                    .map_err(|_| EndpointError::InvalidState)?
            }
            _ => return Err(EndpointError::InvalidState),
        };
        self.stats.retransmissions += 1;
        self.apply(now, tx.0, fx);
        Ok(())
    }

    /// Cancels a pending INVITE (§9.1): a CANCEL with the INVITE's Request-URI, Call-ID, To,
    /// From, Route, CSeq number and top Via (same branch), in a new non-INVITE client
    /// transaction. Send it only after a provisional response (§9.1).
    pub fn send_cancel(
        &mut self,
        now: Instant,
        invite: TransactionId,
    ) -> Result<TransactionId, EndpointError> {
        let t = *self
            .table
            .get(invite.0)
            .ok_or(EndpointError::NoTransaction)?;
        if !matches!(t.machine, Machine::ClientInvite(_)) {
            return Err(EndpointError::InvalidState);
        }
        // Build the CANCEL into a scratch region, then move it into the new slot.
        let scratch = self.take_scratch().ok_or(EndpointError::Busy)?;
        let built = self.build_cancel(invite.0, &t, scratch);
        let (len, key) = match built {
            Some(v) => v,
            None => {
                self.scratch[scratch].busy = false;
                return Err(EndpointError::InvalidState);
            }
        };
        let reliable = t.transport.is_reliable();
        let (m, fx) = ClientNonInviteTransaction::start(now, reliable, self.config.timers);
        let tx = Tx {
            machine: Machine::ClientNonInvite(m),
            request_len: len,
            response_len: 0,
            deadline: None,
            ending: false,
            queued_transmits: 0,
            reap: false,
            tu_tag: 0,
            ..t
        };
        let id = match self.table.insert(key, tx) {
            Ok(id) => id,
            Err(_) => {
                self.scratch[scratch].busy = false;
                return Err(EndpointError::TableFull);
            }
        };
        let from = self.region_range(Region::Scratch(scratch));
        let to = self.region_range(Region::Request(id.index));
        self.arena
            .copy_within(from.start..from.start + len, to.start);
        self.scratch[scratch].busy = false;
        self.apply(now, id, fx);
        Ok(TransactionId(id))
    }

    fn build_cancel(
        &mut self,
        id: SlotId,
        t: &Tx,
        scratch: usize,
    ) -> Option<(usize, TransactionKey)> {
        let req_range = self.region_range(Region::Request(id.index));
        let out_range = self.region_range(Region::Scratch(scratch));
        let (low, high) = self.arena.split_at_mut(out_range.start);
        let req_bytes = &low[req_range.start..req_range.start + t.request_len];
        let out = &mut high[..out_range.len()];
        let mut rh = [Header::EMPTY; MAX_HEADERS];
        let req = Parser::datagram()
            .parse(req_bytes, &mut rh)
            .ok()?
            .complete()?;
        let via = req.header(crate::message::HeaderName::Via)?;
        let top_via = crate::message::lex::CommaValues::new(via.value).next()?;
        let branch = req.top_via().ok()??.branch()?;
        let mut w = Writer::new(out);
        w.request_line("CANCEL", req.request_uri()?.raw()).ok()?;
        w.header("Via", top_via).ok()?;
        w.header("Max-Forwards", b"70").ok()?;
        for r in req.headers_named(crate::message::HeaderName::Route) {
            w.header("Route", r.value).ok()?;
        }
        for name in [
            crate::message::HeaderName::To,
            crate::message::HeaderName::From,
            crate::message::HeaderName::CallId,
        ] {
            let h = req.header(name)?;
            w.header(h.name.as_str(), h.value).ok()?;
        }
        w.put(b"CSeq: ").ok()?;
        w.put_u32(req.cseq().ok()?.seq).ok()?;
        w.put(b" CANCEL\r\n").ok()?;
        w.body(b"").ok()?;
        let mut key = KeyHasher::new(self.secret.0, self.secret.1, KeyKind::Client);
        key.field(branch.as_bytes());
        key.field(b"CANCEL");
        Some((w.len(), key.finish()))
    }

    /// Writes a response to the stored request into the slot's response region.
    fn write_response(
        &mut self,
        id: SlotId,
        t: &Tx,
        parts: &ResponseParts<'_>,
    ) -> Result<usize, EndpointError> {
        let m = self.config.max_message;
        let base = (2 * id.index as usize) * m;
        let (req, resp) = self.arena[base..base + 2 * m].split_at_mut(m);
        let mut headers = [Header::EMPTY; MAX_HEADERS];
        let Ok(Status::Complete(head)) =
            Parser::new(Framing::Datagram).parse_head(&req[..t.request_len], &mut headers)
        else {
            return Err(EndpointError::InvalidState);
        };
        let add = t.via_received;
        let out = parts
            .write_with_top_via(head.headers, resp, &mut |w: &mut Writer<'_>, v: &[u8]| {
                transport::write_top_via(w, v, &add)
            })
            .map_err(|_| EndpointError::TooLarge)?;
        Ok(out.len())
    }

    /// Sends bytes outside any transaction: the ACK for a 2xx (§13.2.2.4), a stateless
    /// proxy's forwarding (§16.11). The bytes are copied; drain `poll_output` to send them.
    pub fn send_stateless(
        &mut self,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) -> Result<(), EndpointError> {
        if bytes.len() > self.config.max_message {
            return Err(EndpointError::TooLarge);
        }
        let r = self.take_scratch().ok_or(EndpointError::Busy)?;
        self.region_mut(Region::Scratch(r))[..bytes.len()].copy_from_slice(bytes);
        self.fill_scratch(r, bytes.len(), transport, local, remote);
        self.transmits
            .push(Pending::Scratch {
                region: r,
                event: None,
            })
            .map_err(|_| {
                self.scratch[r].busy = false;
                EndpointError::QueueFull
            })
    }

    /// The next output. Drain until `None` or [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Option<Output<'_>> {
        self.next_output()
    }

    /// Files a transaction under a number of the TU's choosing (an index into its own
    /// table, say), so that an event naming the transaction finds the TU's state at once;
    /// `false` if there is no such transaction. New transactions have tag 0.
    pub fn set_tu_tag(&mut self, tx: TransactionId, tag: u32) -> bool {
        match self.table.get_mut(tx.0) {
            Some(t) => {
                t.tu_tag = tag;
                true
            }
            None => false,
        }
    }

    /// The number set by [`set_tu_tag`](Self::set_tu_tag), if the transaction exists.
    pub fn tu_tag(&self, tx: TransactionId) -> Option<u32> {
        self.table.get(tx.0).map(|t| t.tu_tag)
    }

    /// The request a server transaction holds, or a client transaction sent.
    pub fn request_bytes(&self, tx: TransactionId) -> Option<&[u8]> {
        let t = self.table.get(tx.0)?;
        Some(&self.region(Region::Request(tx.0.index))[..t.request_len])
    }

    fn hasher(&self, kind: KeyKind) -> KeyHasher {
        KeyHasher::new(self.secret.0, self.secret.1, kind)
    }

    fn take_scratch(&mut self) -> Option<usize> {
        let r = self.scratch[..self.scratch_count]
            .iter()
            .position(|m| !m.busy)?;
        self.scratch[r].busy = true;
        Some(r)
    }

    /// Records what a taken scratch region holds and where it goes.
    fn fill_scratch(
        &mut self,
        r: usize,
        len: usize,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        if let Some(m) = self.scratch.get_mut(r) {
            *m = ScratchMeta {
                busy: true,
                len,
                transport,
                local,
                remote,
            };
        }
    }

    /// Frees a scratch region (its bytes stay until the next write).
    fn free_scratch(&mut self, r: usize) {
        if let Some(m) = self.scratch.get_mut(r) {
            m.busy = false;
        }
    }

    fn region_range(&self, r: Region) -> core::ops::Range<usize> {
        let m = self.config.max_message;
        let cap = self.table.capacity();
        let i = match r {
            Region::Request(s) => 2 * s as usize,
            Region::Response(s) => 2 * s as usize + 1,
            Region::Scratch(k) => 2 * cap + k,
            Region::Poll => 2 * cap + self.scratch_count,
        };
        i * m..(i + 1) * m
    }

    /// A region's bytes; empty if the arena is too small to hold it (a misconfigured
    /// endpoint then fails to store messages instead of panicking).
    fn region(&self, r: Region) -> &[u8] {
        let range = self.region_range(r);
        self.arena.get(range).unwrap_or(&[])
    }

    fn region_mut(&mut self, r: Region) -> &mut [u8] {
        let range = self.region_range(r);
        self.arena.get_mut(range).unwrap_or(&mut [])
    }

    /// Carries out a state machine's effects and re-files its deadline.
    fn apply(&mut self, _now: Instant, id: SlotId, fx: Effects) {
        let Some(t) = self.table.get(id).copied() else {
            return;
        };
        let client = t.machine.is_client();
        if fx.send_trying {
            self.send_trying(id, &t);
        }
        if fx.deliver {
            let kind = if client {
                EventKind::Response
            } else {
                EventKind::Request { cancels: None }
            };
            self.push(Pending::Event { id, kind });
        }
        if fx.transmit {
            let region = if client {
                Region::Request(id.index)
            } else {
                Region::Response(id.index)
            };
            self.push(Pending::Transmit { id, region });
        }
        if fx.send_ack {
            self.push(Pending::Ack { id });
        }
        if fx.timed_out {
            self.push(Pending::Event {
                id,
                kind: EventKind::Timeout,
            });
        }
        if fx.transport_error {
            self.push(Pending::Event {
                id,
                kind: EventKind::TransportError,
            });
        }
        let deadline = self.table.get(id).and_then(|t| t.machine.next_deadline());
        if fx.terminated {
            if let Some(t) = self.table.get_mut(id) {
                t.ending = true;
            }
            self.table.set_deadline(id, None);
            self.push(Pending::Event {
                id,
                kind: EventKind::Terminated,
            });
        } else {
            self.table.set_deadline(id, deadline);
            if let Some(t) = self.table.get_mut(id) {
                t.deadline = deadline;
            }
        }
    }

    /// §17.2.1: the transaction sends 100 Trying when the TU has not answered in 200 ms.
    fn send_trying(&mut self, id: SlotId, t: &Tx) {
        let parts = ResponseParts::new(100, "Trying");
        if let Ok(len) = self.write_response(id, t, &parts) {
            if let Some(t) = self.table.get_mut(id) {
                t.response_len = len;
                if let Machine::ServerInvite(m) = &mut t.machine {
                    m.on_trying_sent();
                }
            }
            self.push(Pending::Transmit {
                id,
                region: Region::Response(id.index),
            });
        }
    }

    fn push(&mut self, p: Pending) {
        let to_transmits = matches!(
            p,
            Pending::Transmit { .. } | Pending::Ack { .. } | Pending::Scratch { event: None, .. }
        );
        let result = if to_transmits {
            if let Pending::Transmit { id, .. } | Pending::Ack { id } = p {
                if let Some(t) = self.table.get_mut(id) {
                    t.queued_transmits = t.queued_transmits.saturating_add(1);
                }
            }
            self.transmits.push(p)
        } else {
            self.events.push(p)
        };
        // One input queues at most MAX_OUTPUTS_PER_INPUT items and timers wait for room, so
        // a queue only overflows when the caller does not drain it. Then the new item is
        // lost (a retransmission recovers a lost transmit), except that a transaction that
        // ends is still freed, so the table never leaks.
        if let Err(p) = result {
            match p {
                Pending::Event {
                    id,
                    kind: EventKind::Terminated,
                } => {
                    self.table.remove(id);
                }
                Pending::Transmit { id, .. } | Pending::Ack { id } => {
                    if let Some(t) = self.table.get_mut(id) {
                        t.queued_transmits = t.queued_transmits.saturating_sub(1);
                    }
                }
                Pending::Scratch { region, .. } => self.free_scratch(region),
                _ => {}
            }
        }
    }

    /// The 2543 ACK-matching key for a server INVITE transaction that sent a final
    /// response: Request-URI, From tag, Call-ID, CSeq number, top Via, and the response's
    /// To tag (§17.2.3).
    fn rfc2543_ack_alias(&self, id: SlotId) -> Option<TransactionKey> {
        let t = self.table.get(id)?;
        let mut rh = [Header::EMPTY; MAX_HEADERS];
        let req = Parser::datagram()
            .parse(
                &self.region(Region::Request(id.index))[..t.request_len],
                &mut rh,
            )
            .ok()?
            .complete()?;
        let mut sh = [Header::EMPTY; MAX_HEADERS];
        let resp = Parser::datagram()
            .parse(
                &self.region(Region::Response(id.index))[..t.response_len],
                &mut sh,
            )
            .ok()?
            .complete()?;
        let to_tag = resp.to().ok()?.tag().unwrap_or("");
        receive::rfc2543_key(self.hasher(KeyKind::Server2543), &req, true, to_tag)
    }
}

/// Starts the client machine for a request with this method (§17.1): INVITE or not.
fn start_client(
    now: Instant,
    method: &str,
    reliable: bool,
    timers: TimerConfig,
) -> (Machine, Effects) {
    if method == "INVITE" {
        let (m, fx) = ClientInviteTransaction::start(now, reliable, timers);
        (Machine::ClientInvite(m), fx)
    } else {
        let (m, fx) = ClientNonInviteTransaction::start(now, reliable, timers);
        (Machine::ClientNonInvite(m), fx)
    }
}

impl Tx {
    /// A client transaction towards `dest` with nothing stored yet.
    fn client(machine: Machine, dest: Destination) -> Tx {
        Tx {
            machine,
            transport: dest.transport,
            local: dest.local,
            remote: dest.remote,
            request_len: 0,
            response_len: 0,
            via_received: ViaReceived::default(),
            rfc2543: false,
            deadline: None,
            ending: false,
            queued_transmits: 0,
            reap: false,
            tu_tag: 0,
        }
    }
}

/// Whether a server transaction takes a response with this code now (checked before its
/// stored response is overwritten).
fn can_respond(m: &Machine, code: u16) -> bool {
    match m {
        Machine::ServerInvite(t) => t.can_respond(code),
        Machine::ServerNonInvite(t) => t.can_respond(code),
        _ => false,
    }
}

/// Writes a socket address's IP as a Via host (IPv6 in brackets).
fn write_host(buf: &mut [u8; 64], addr: SocketAddr) -> Result<&str, EndpointError> {
    let mut w = Writer::new(&mut buf[..]);
    write_ip(&mut w, addr.ip())?;
    core::str::from_utf8(w.finish()).map_err(|_| EndpointError::TooLarge)
}

/// Writes an IP address as a URI or Via host: IPv4 dotted-decimal, written by hand (no
/// `core::fmt` on a UA's IPv4 path), IPv6 in brackets in its RFC 5952 text form.
pub(crate) fn write_ip(w: &mut Writer<'_>, ip: core::net::IpAddr) -> Result<(), WriteError> {
    match ip {
        core::net::IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    w.put(b".")?;
                }
                w.put_u32(u32::from(octet))?;
            }
            Ok(())
        }
        core::net::IpAddr::V6(a) => {
            core::fmt::Write::write_fmt(w, format_args!("[{a}]")).map_err(|_| WriteError)
        }
    }
}
