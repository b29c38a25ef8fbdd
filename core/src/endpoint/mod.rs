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
//!
//! The arena's message regions are a pool, not two per slot: a transaction takes a region
//! for its request and one for its response when it needs them, and returns each as soon as
//! its state no longer reads the bytes (a non-INVITE server transaction in Completed holds
//! only its final response through Timer J; a client non-INVITE in Completed holds nothing
//! through Timer K). An arena sized with [`Endpoint::arena_len_with_regions`] can so hold
//! fewer regions than two per slot; when the pool cannot take a new transaction, it is
//! refused like a full table.

mod output;
mod pool;
mod receive;
#[cfg(test)]
mod tests;

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
use output::{EventKind, Part, Pending, Queue, Region};
use pool::NO_REGION;

/// The most header lines the endpoint reads in one message it receives.
pub const MAX_HEADERS: usize = 64;
/// The most outputs one input or one timer firing queues.
const MAX_OUTPUTS_PER_INPUT: usize = 6;
/// The most scratch messages held at once (503s, 400s, stray messages, ACKs for 2xx): one in
/// a region of its own, the others in pool regions nobody has reserved.
/// [`Endpoint::arena_len`] adds `SCRATCH_REGIONS - 1` pool regions for them.
pub const SCRATCH_REGIONS: usize = 4;

/// Endpoint settings. Capacities are in the storage handed to [`Endpoint::new`].
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// T1, T2, T4 and the timers derived from them.
    pub timers: TimerConfig,
    /// Seed for branches, tags and the matching keys' secret: one seed reproduces a run.
    pub seed: u64,
    /// The largest message the endpoint stores (a request, or a response), in bytes: the
    /// size of each arena region.
    pub max_message: usize,
    /// The Retry-After, in seconds, of the 503 sent when the table is full.
    pub retry_after: u32,
    /// The path MTU if known, for the UDP→TCP rule of §18.1.1.
    pub path_mtu: Option<u16>,
    /// A stateless element (§16.11): received requests create no server transaction and
    /// arrive as [`Event::StatelessRequest`].
    pub stateless: bool,
    /// Whether INVITE transactions in RFC 6026's Accepted states keep their INVITE and 2xx
    /// until Timers L and M: a UA needs them (`retransmit_response`, the ACK for a forked
    /// 2xx). A proxy, which passes later 2xx on statelessly (§16.7 step 5), clears it and
    /// gets the regions back at the 2xx.
    pub keep_accepted: bool,
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
            keep_accepted: true,
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
    /// The transaction table is full, or the arena has no free region for the message
    /// (every region is held or reserved by live transactions).
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
    /// The pool regions holding the request and the last response (`NO_REGION`: none).
    request: u32,
    response: u32,
    /// Regions reserved for this transaction beyond those it holds (see `pool`).
    reserved: u8,
    /// Lengths of the stored request and response.
    request_len: usize,
    response_len: usize,
    /// Server side: what to add to the top Via in responses (§18.2.1).
    via_received: ViaReceived,
    /// Server side: the request was in RFC 2543 form (no magic cookie, §17.2.3).
    #[cfg_attr(not(feature = "rfc2543"), allow(dead_code))]
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
    /// Scratch messages in use (entry 0 in the fixed scratch region, the others in pool
    /// regions), and where each goes (kept here, not in the queues, to keep items small).
    scratch: [ScratchMeta; SCRATCH_REGIONS],
    /// Pool regions in the arena, free ones, and ones reserved for live transactions.
    pool_len: u32,
    free_len: u32,
    reserved: usize,
    stats: Stats,
}

/// A scratch region's state: in use or not, and the message it holds.
#[derive(Clone, Copy, Debug)]
struct ScratchMeta {
    busy: bool,
    /// The pool region holding it, or `NO_REGION` for the fixed scratch region.
    region: u32,
    len: usize,
    transport: Transport,
    local: SocketAddr,
    remote: SocketAddr,
}

impl ScratchMeta {
    const FREE: ScratchMeta = ScratchMeta {
        busy: false,
        region: NO_REGION,
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
    /// The arena size needed for `transactions` slots at `max_message` bytes: two pool
    /// regions per transaction (a request and a response, today's worst case, so every slot
    /// can be used in any state) and [`SCRATCH_REGIONS`] scratch regions. An ACK for a
    /// non-2xx final response, built when polled, takes whichever of these is free for the
    /// moment.
    pub const fn arena_len(transactions: usize, max_message: usize) -> usize {
        Self::arena_len_with(transactions, max_message, SCRATCH_REGIONS)
    }

    /// The arena size for `transactions` slots at `max_message` bytes with
    /// `scratch_regions` scratch regions (1 to [`SCRATCH_REGIONS`]). Scratch regions hold
    /// stateless messages until they are polled: a stateless 400/503/513, a received ACK
    /// for a 2xx or a stray response, a sent ACK for a 2xx, a CANCEL being built. A UA that
    /// drains its outputs after every input (a phone) needs one; a busy server more, or
    /// [`Endpoint::send_stateless`] and friends answer [`EndpointError::Busy`] and received
    /// strays are dropped (the peer retransmits). One scratch region is the arena's own;
    /// the others are pool regions, used by scratch messages when no transaction has them
    /// reserved.
    pub const fn arena_len_with(
        transactions: usize,
        max_message: usize,
        scratch_regions: usize,
    ) -> usize {
        Self::arena_len_with_regions(
            2 * transactions + scratch_regions.saturating_sub(1),
            max_message,
        )
    }

    /// The arena size for a pool of `regions` regions of `max_message` bytes, shared by all
    /// transactions, plus the fixed scratch region.
    ///
    /// Each region is `max_message` bytes and costs 4 bytes of bookkeeping (the free list).
    /// A live transaction holds at most two regions and only while its state needs them
    /// (see the module docs); a new one is admitted when two regions are free beyond those
    /// reserved for the others, else it is refused like a full table (503 with Retry-After
    /// for a request, [`EndpointError::TableFull`] for a command). `2 × transactions`
    /// regions never refuse a transaction the table could take; fewer trade that for
    /// memory: a server whose transactions spend their Timer J or K in Completed needs one
    /// or none each. [`Endpoint::new`] derives the pool size from the arena's length.
    pub const fn arena_len_with_regions(regions: usize, max_message: usize) -> usize {
        (regions + 1) * max_message + regions * pool::STACK_ENTRY
    }

    /// An endpoint over caller storage. The transaction capacity is `slots.len()`; the
    /// arena is sized by [`Endpoint::arena_len`] (a region pool of two per slot) or
    /// [`Endpoint::arena_len_with_regions`] (a smaller pool): after the fixed scratch
    /// region, every `max_message + 4` bytes is one pool region.
    pub fn new(
        config: Config,
        slots: impl Into<Storage<'s, Slot<Tx>>>,
        arena: impl Into<Storage<'s, u8>>,
    ) -> Self {
        let mut rng = Rng::new(config.seed);
        let secret = (rng.next_u64(), rng.next_u64());
        let arena = arena.into();
        let m = config.max_message.max(1);
        let pool_len = (arena.len().saturating_sub(m) / (m + pool::STACK_ENTRY))
            .min((NO_REGION - 1) as usize) as u32;
        let mut ep = Endpoint {
            config,
            rng,
            secret,
            table: Table::new(slots),
            arena,
            transmits: Queue::new(),
            events: Queue::new(),
            scratch: [ScratchMeta::FREE; SCRATCH_REGIONS],
            pool_len,
            free_len: 0,
            reserved: 0,
            stats: Stats::default(),
        };
        ep.init_pool();
        ep
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
                Some(t) => t.machine.on_timeout(now, &self.config.timers),
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
        let id = self.insert_client(key, placeholder)?;
        let mut host = [0u8; 64];
        let written = self.write_request(id, dest, transport, &branch, parts, &mut host);
        let len = match written {
            Ok(n) => n,
            Err(e) => {
                self.remove_tx(id);
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
                    self.remove_tx(id);
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
        let r = self
            .table
            .get(id)
            .map(|t| t.request)
            .ok_or(EndpointError::NoTransaction)?;
        let region = self.region_mut(Region::Pool(r));
        Ok(p.write(region)?.len())
    }

    /// Inserts a new client transaction and gives it its request region: `TableFull` if
    /// the table or the region pool cannot take it.
    fn insert_client(&mut self, key: TransactionKey, tx: Tx) -> Result<SlotId, EndpointError> {
        if !self.can_admit() {
            return Err(EndpointError::TableFull);
        }
        let id = self
            .table
            .insert(key, tx)
            .map_err(|_| EndpointError::TableFull)?;
        if !self.admit(id) {
            self.remove_tx(id);
            return Err(EndpointError::TableFull);
        }
        Ok(id)
    }

    /// Copies `bytes` into the transaction's request region.
    fn store_request(&mut self, id: SlotId, bytes: &[u8]) {
        let Some(r) = self.table.get(id).map(|t| t.request) else {
            return;
        };
        let range = self.pool_bytes(r, bytes.len());
        if let Some(dst) = self.arena.get_mut(range) {
            if dst.len() == bytes.len() {
                dst.copy_from_slice(bytes);
            }
        }
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
        let id = self.insert_client(key, tx)?;
        self.store_request(id, bytes);
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
        let r = self.response_region(tx.0)?;
        let t = self
            .table
            .get_mut(tx.0)
            .ok_or(EndpointError::NoTransaction)?;
        let fx = match &mut t.machine {
            Machine::ServerInvite(m) => m.on_tu_response(now, &self.config.timers, code),
            Machine::ServerNonInvite(m) => m.on_tu_response(now, &self.config.timers, code),
            _ => return Err(EndpointError::InvalidState),
        }
        .map_err(|_| EndpointError::InvalidState)?;
        t.response_len = bytes.len();
        let range = self.pool_bytes(r, bytes.len());
        if let Some(dst) = self.arena.get_mut(range) {
            dst.copy_from_slice(bytes);
        }
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
            Machine::ServerInvite(m) => m.on_tu_response(now, &self.config.timers, code),
            Machine::ServerNonInvite(m) => m.on_tu_response(now, &self.config.timers, code),
            _ => return Err(EndpointError::InvalidState),
        }
        .map_err(|_| EndpointError::InvalidState)?;
        t.response_len = len;
        // A 2543 INVITE's ACK is matched by the To tag of the response (§17.2.3); computed
        // before `apply`, which returns the INVITE's region in Completed.
        #[cfg(feature = "rfc2543")]
        if t.rfc2543 && code >= 300 {
            if let Some(k) = self.rfc2543_ack_alias(tx.0) {
                self.table.add_alias(tx.0, k);
            }
        }
        self.apply(now, tx.0, fx);
        Ok(())
    }

    /// A response still waiting in the queue would be overwritten by the next one (a 180
    /// and a 486 sent in one go): move it to a scratch region first.
    fn preserve_pending_response(&mut self, id: SlotId) -> Result<(), EndpointError> {
        let waiting = self
            .transmits
            .iter()
            .any(|p| matches!(p, Pending::Transmit { id: i, part: Part::Response } if *i == id));
        if !waiting {
            return Ok(());
        }
        let t = self.table.get(id).ok_or(EndpointError::NoTransaction)?;
        let (response, len) = (t.response, t.response_len);
        let (transport, local, remote) = (t.transport, t.local, t.remote);
        let r = self.take_scratch().ok_or(EndpointError::Busy)?;
        let from = self.pool_bytes(response, len);
        let to = self.region_range(Region::Scratch(r));
        if from.end <= self.arena.len() && to.start + from.len() <= self.arena.len() {
            crate::bytes::copy_within(&mut self.arena, from, to.start);
        }
        self.fill_scratch(r, len, transport, local, remote);
        for p in self.transmits.iter_mut() {
            if matches!(p, Pending::Transmit { id: i, part: Part::Response } if *i == id) {
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
                m.on_tu_response(now, &self.config.timers, 200)
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
        let t = self
            .table
            .get(invite.0)
            .ok_or(EndpointError::NoTransaction)?;
        if !matches!(t.machine, Machine::ClientInvite(_)) {
            return Err(EndpointError::InvalidState);
        }
        // §9.1: the CANCEL goes where the INVITE went, over the same transport.
        let dest = Destination {
            transport: t.transport,
            local: t.local,
            remote: t.remote,
        };
        let (request, request_len) = (t.request, t.request_len);
        // Build the CANCEL into a scratch region, then move it into the new slot.
        let scratch = self.take_scratch().ok_or(EndpointError::Busy)?;
        let built = self.build_cancel(request, request_len, scratch);
        let (len, key) = match built {
            Some(v) => v,
            None => {
                self.free_scratch(scratch);
                return Err(EndpointError::InvalidState);
            }
        };
        let reliable = dest.transport.is_reliable();
        let (m, fx) = ClientNonInviteTransaction::start(now, reliable, self.config.timers);
        let tx = Tx {
            request_len: len,
            ..Tx::client(Machine::ClientNonInvite(m), dest)
        };
        let id = match self.insert_client(key, tx) {
            Ok(id) => id,
            Err(e) => {
                self.free_scratch(scratch);
                return Err(e);
            }
        };
        let from = self.region_range(Region::Scratch(scratch));
        let to = self.pool_bytes(self.table.get(id).map_or(NO_REGION, |t| t.request), len);
        if from.start + to.len() <= self.arena.len() && to.end <= self.arena.len() {
            crate::bytes::copy_within(&mut self.arena, from.start..from.start + to.len(), to.start);
        }
        self.free_scratch(scratch);
        self.apply(now, id, fx);
        Ok(TransactionId(id))
    }

    fn build_cancel(
        &mut self,
        request: u32,
        request_len: usize,
        scratch: usize,
    ) -> Option<(usize, TransactionKey)> {
        let req_range = self.pool_bytes(request, request_len);
        let out_range = self.region_range(Region::Scratch(scratch));
        let (others, out) = pool::split_out(&mut self.arena, out_range);
        let req_bytes = others.get(req_range);
        let mut rh = [Header::EMPTY; MAX_HEADERS];
        let req = Parser::datagram()
            .parse(req_bytes, &mut rh)
            .ok()?
            .complete()?;
        let branch = req.top_via().ok()??.branch()?;
        let to = req.header(crate::message::HeaderName::To)?.value;
        let len = output::write_ack_or_cancel(out, &req, "CANCEL", to)?;
        let mut key = KeyHasher::new(self.secret.0, self.secret.1, KeyKind::Client);
        key.field(branch.as_bytes());
        key.field(b"CANCEL");
        Some((len, key.finish()))
    }

    /// Writes a response to the stored request into the slot's response region.
    fn write_response(
        &mut self,
        id: SlotId,
        t: &Tx,
        parts: &ResponseParts<'_>,
    ) -> Result<usize, EndpointError> {
        if t.request == NO_REGION {
            return Err(EndpointError::InvalidState);
        }
        let r = self.response_region(id)?;
        let req_range = self.pool_bytes(t.request, t.request_len);
        let out_range = self.region_range(Region::Pool(r));
        let (others, resp) = pool::split_out(&mut self.arena, out_range);
        let req = others.get(req_range);
        let mut headers = [Header::EMPTY; MAX_HEADERS];
        let Ok(Status::Complete(head)) =
            Parser::new(Framing::Datagram).parse_head(req, &mut headers)
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
        let Some(dst) = self.region_mut(Region::Scratch(r)).get_mut(..bytes.len()) else {
            self.free_scratch(r);
            return Err(EndpointError::TooLarge);
        };
        dst.copy_from_slice(bytes);
        self.fill_scratch(r, bytes.len(), transport, local, remote);
        self.transmits
            .push(Pending::Scratch {
                region: r,
                event: None,
            })
            .map_err(|_| {
                self.free_scratch(r);
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

    /// The request a server transaction holds, or a client transaction sent; `None` once
    /// the transaction's state no longer keeps it (a server transaction after its final
    /// response, except an INVITE's 2xx; a client non-INVITE after its final response).
    pub fn request_bytes(&self, tx: TransactionId) -> Option<&[u8]> {
        let t = self.table.get(tx.0)?;
        if t.request == NO_REGION {
            return None;
        }
        self.arena.get(self.pool_bytes(t.request, t.request_len))
    }

    fn hasher(&self, kind: KeyKind) -> KeyHasher {
        KeyHasher::new(self.secret.0, self.secret.1, kind)
    }

    /// A free scratch entry: the fixed scratch region first, else a pool region that no
    /// transaction has reserved.
    fn take_scratch(&mut self) -> Option<usize> {
        let k = self.scratch.iter().position(|m| !m.busy)?;
        let region = if k == 0 {
            NO_REGION
        } else {
            self.spare_region()?
        };
        let m = self.scratch.get_mut(k)?;
        m.busy = true;
        m.region = region;
        Some(k)
    }

    /// Records what a taken scratch region holds and where it goes. (`small-code`: out of
    /// line, one copy for its callers.)
    #[cfg_attr(feature = "small-code", inline(never))]
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
                region: m.region,
                len,
                transport,
                local,
                remote,
            };
        }
    }

    /// Frees a scratch entry, returning its pool region (its bytes stay until the next
    /// input or command writes the region).
    fn free_scratch(&mut self, r: usize) {
        let Some(m) = self.scratch.get_mut(r) else {
            return;
        };
        let region = m.region;
        m.busy = false;
        m.region = NO_REGION;
        if region != NO_REGION {
            self.return_region(region);
        }
    }

    /// Where an ACK for a non-2xx final response is built when polled (§17.1.1.3): the fixed
    /// scratch region if no scratch message holds it, else the free pool region on top of
    /// the free stack, taken for the moment only. Nothing else writes either before the
    /// next input or command (the only places a region is taken and written), so the ACK's
    /// bytes outlive the [`Transmit`] that borrows them. `None` when every region holds a
    /// message (only under full load): the ACK is not sent; over
    /// UDP the peer's next retransmission of the response (Timer G) is acknowledged instead,
    /// over TCP the peer's transaction ends at Timer H, as for a lost ACK.
    fn ack_region(&self) -> Option<core::ops::Range<usize>> {
        if self.scratch.first().is_some_and(|m| !m.busy) {
            return Some(self.region_range(Region::Scratch(0)));
        }
        let r = self.peek_region()?;
        Some(self.region_range(Region::Pool(r)))
    }

    fn region_range(&self, r: Region) -> core::ops::Range<usize> {
        let m = self.config.max_message;
        let i = match r {
            Region::Scratch(k) => match self.scratch.get(k).map(|s| s.region) {
                Some(p) if p != NO_REGION && p < self.pool_len => 1 + p as usize,
                _ => 0,
            },
            Region::Pool(p) if p < self.pool_len => 1 + p as usize,
            Region::Pool(_) => return 0..0,
        };
        i * m..(i + 1) * m
    }

    /// A region's bytes, mutably; empty if the arena is too small to hold it (a
    /// misconfigured endpoint then fails to store messages instead of panicking).
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
            let part = if client {
                Part::Request
            } else {
                Part::Response
            };
            self.push(Pending::Transmit { id, part });
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
        // The new state may need fewer stored bytes (see `pool`).
        self.reclaim(id);
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
                part: Part::Response,
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
                    self.remove_tx(id);
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

    #[cfg(feature = "rfc2543")]
    /// The 2543 ACK-matching key for a server INVITE transaction that sent a final
    /// response: Request-URI, From tag, Call-ID, CSeq number, top Via, and the response's
    /// To tag (§17.2.3).
    fn rfc2543_ack_alias(&self, id: SlotId) -> Option<TransactionKey> {
        let t = self.table.get(id)?;
        let mut rh = [Header::EMPTY; MAX_HEADERS];
        let req = Parser::datagram()
            .parse(
                self.arena.get(self.pool_bytes(t.request, t.request_len))?,
                &mut rh,
            )
            .ok()?
            .complete()?;
        let mut sh = [Header::EMPTY; MAX_HEADERS];
        let resp = Parser::datagram()
            .parse(
                self.arena
                    .get(self.pool_bytes(t.response, t.response_len))?,
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
            request: NO_REGION,
            response: NO_REGION,
            reserved: 0,
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
    crate::message::ip::write_host_ip(&mut w, addr.ip())?;
    core::str::from_utf8(w.finish()).map_err(|_| EndpointError::TooLarge)
}
