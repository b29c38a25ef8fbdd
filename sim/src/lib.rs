//! # sipwire-sim
//!
//! A deterministic, event-driven network simulator for sipwire's sans-IO nodes.
//!
//! A [`Sim`] holds [`Node`]s (anything speaking the sans-IO loop: `receive`,
//! `handle_timeout`, `poll_transmit`, `poll_timeout`) and the directed links between them.
//! It never ticks: virtual time jumps straight to the next event, the earliest packet arrival
//! or node deadline. Links add latency and jitter and, for UDP, loss, duplication and
//! reordering, each drawn from its own seeded ChaCha8 stream; scripted hooks
//! ([`Sim::drop_next`], [`Sim::hold`], [`Sim::release`]) replay exact scenarios. Every run is
//! bounded in steps. What happened is kept as a [`trace`](Sim::trace), drawn as a
//! [`ladder`](Sim::ladder) diagram, and written as a [`pcap`](Sim::pcap) that Wireshark,
//! tshark and sngrep open. The same seed gives the same bytes, every time.
//!
//! ```
//! use sipwire_sim::{Duration, Instant, LinkConfig, ScriptedPeer, Sim, Transport};
//!
//! let (a, b) = ("192.0.2.1:5060".parse()?, "192.0.2.2:5060".parse()?);
//! let mut alice = ScriptedPeer::new(a);
//! alice.send_at(Instant::ZERO, Transport::Udp, b, &b"OPTIONS sip:b SIP/2.0\r\n\r\n"[..]);
//!
//! let mut sim = Sim::new(1);
//! let alice = sim.add_node("alice", Box::new(alice));
//! let bob = sim.add_node("bob", Box::new(ScriptedPeer::new(b)));
//! let ms10 = LinkConfig::with_latency(Duration::from_millis(10));
//! sim.link(alice, bob, ms10, ms10);
//! sim.run()?;
//!
//! let got = sim.node::<ScriptedPeer>(bob).received();
//! assert_eq!(got[0].0, Instant::from_millis(10));
//! assert!(sim.ladder().contains("OPTIONS"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Order of events
//!
//! Each step handles one event: the packet with the earliest arrival, or the node with the
//! earliest deadline. At equal times packets go first, in the order they were scheduled, then
//! deadlines, by node id. After a node handles an event its `poll_transmit` is drained; each
//! packet's fate is decided right then (see [`LinkConfig`] for the draws).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod endpoint_node;
mod label;
mod ladder;
mod link;
mod node;
mod pcap;
mod proxy_node;
mod scripted;
mod trace;
mod ua_node;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

pub use endpoint_node::{EndpointNode, OwnedEvent, TransactionUser};
pub use label::start_line_label;
pub use link::LinkConfig;
pub use node::{Node, NodeId, Packet, Transport};
pub use pcap::MSS as PCAP_TCP_MSS;
pub use proxy_node::{ProxyApplication, ProxyNode};
pub use scripted::ScriptedPeer;
pub use sipwire_core::time::{Duration, Instant};
pub use trace::{DropReason, PacketId, TraceEvent, TraceKind};
pub use ua_node::{Application, UaNode};

use link::{Fate, Flight, Link};

/// The step bound of a new [`Sim`].
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// Why a run stopped short.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// The run handled `limit` events (packet arrivals and deadlines) without going idle or
    /// reaching its end time: a node keeps asking for work.
    StepLimit {
        /// The bound, from [`Sim::set_max_steps`].
        limit: u64,
        /// Virtual time when it was hit.
        now: Instant,
    },
    /// One node's `poll_transmit` gave more than `limit` packets in one drain.
    TransmitLimit {
        /// The node's name.
        node: String,
        /// The bound, from [`Sim::set_max_steps`].
        limit: u64,
        /// Virtual time when it was hit.
        now: Instant,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::StepLimit { limit, now } => {
                write!(f, "step bound of {limit} steps hit at {now}")
            }
            SimError::TransmitLimit { node, limit, now } => write!(
                f,
                "transmit bound hit at {now}: node {node:?} sent over {limit} packets in one drain"
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// Why a run returned normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// No packet in flight and no node deadline (held packets do not count).
    Idle,
    /// The next event lies after the run's end time.
    Until,
}

/// What one call of [`Sim::run`] or [`Sim::run_until`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    /// Events handled: packet arrivals plus node deadlines.
    pub steps: u64,
    /// Node deadlines among them.
    pub timeouts: u64,
    /// Packets the nodes sent.
    pub sent: u64,
    /// Packets (and duplicate copies) that arrived.
    pub delivered: u64,
    /// Packets that were dropped, for any reason.
    pub dropped: u64,
    /// Why the run returned.
    pub stop: Stop,
}

/// A node and what the simulator knows of it.
struct Slot {
    name: String,
    node: Box<dyn Node>,
}

/// The simulator: nodes, links, virtual time, and the record of what happened.
pub struct Sim {
    seed: u64,
    now: Instant,
    max_steps: u64,
    nodes: Vec<Slot>,
    routes: BTreeMap<SocketAddr, NodeId>,
    default_link: LinkConfig,
    links: BTreeMap<(NodeId, NodeId), Link>,
    /// Packets in flight, by arrival time then scheduling order.
    queue: BTreeMap<(Instant, u64), Flight>,
    scheduled: u64,
    packets: Vec<Packet>,
    trace: Vec<TraceEvent>,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field(
                "nodes",
                &self.nodes.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("in_flight", &self.queue.len())
            .field("trace_len", &self.trace.len())
            .finish_non_exhaustive()
    }
}

impl Sim {
    /// An empty simulation at time zero whose every random draw derives from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            now: Instant::ZERO,
            max_steps: DEFAULT_MAX_STEPS,
            nodes: Vec::new(),
            routes: BTreeMap::new(),
            default_link: LinkConfig::default(),
            links: BTreeMap::new(),
            queue: BTreeMap::new(),
            scheduled: 0,
            packets: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// The seed given to [`Sim::new`].
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Add a node called `name` (used in the ladder and in errors); packets to any of its
    /// [`addrs`](Node::addrs), asked now and only now, are delivered to it.
    ///
    /// # Panics
    ///
    /// If another node already owns one of its addresses: that is a broken test setup.
    pub fn add_node(&mut self, name: &str, node: Box<dyn Node>) -> NodeId {
        let id = NodeId(self.nodes.len());
        for addr in node.addrs() {
            if let Some(owner) = self.routes.insert(addr, id) {
                panic!(
                    "sim: node {name:?} claims {addr}, already owned by {:?}",
                    self.nodes[owner.0].name
                );
            }
        }
        self.nodes.push(Slot {
            name: name.to_owned(),
            node,
        });
        id
    }

    /// The name a node was added with.
    ///
    /// # Panics
    ///
    /// If `id` is not from this simulator.
    pub fn name(&self, id: NodeId) -> &str {
        &self.nodes[id.0].name
    }

    /// The node `id`, as its concrete type.
    ///
    /// # Panics
    ///
    /// If `id` is not from this simulator or the node is not a `T`; see [`Sim::try_node`].
    pub fn node<T: Node + 'static>(&self, id: NodeId) -> &T {
        match self.try_node(id) {
            Some(node) => node,
            None => panic!("sim: {id} is not a {}", std::any::type_name::<T>()),
        }
    }

    /// The node `id`, as its concrete type, to drive it (issue a command) between runs.
    /// Packets it queues go out at the start of the next run.
    ///
    /// # Panics
    ///
    /// If `id` is not from this simulator or the node is not a `T`; see
    /// [`Sim::try_node_mut`].
    pub fn node_mut<T: Node + 'static>(&mut self, id: NodeId) -> &mut T {
        match self.try_node_mut(id) {
            Some(node) => node,
            None => panic!("sim: {id} is not a {}", std::any::type_name::<T>()),
        }
    }

    /// The node `id` as a `T`, or `None` if there is no such node or it is of another type.
    pub fn try_node<T: Node + 'static>(&self, id: NodeId) -> Option<&T> {
        self.nodes.get(id.0)?.node.as_any().downcast_ref()
    }

    /// The node `id` as a mutable `T`, or `None` if there is no such node or it is of
    /// another type.
    pub fn try_node_mut<T: Node + 'static>(&mut self, id: NodeId) -> Option<&mut T> {
        self.nodes.get_mut(id.0)?.node.as_any_mut().downcast_mut()
    }

    /// Configure the link between `a` and `b`: `ab` for packets from `a` to `b`, `ba` for
    /// the way back. May be called mid-run to change conditions; each direction keeps its
    /// random stream (seeded from the simulator seed and the ordered pair of node indices
    /// only, so adding a link never perturbs another link's draws) and its hooks.
    pub fn link(&mut self, a: NodeId, b: NodeId, ab: LinkConfig, ba: LinkConfig) {
        self.link_state(a, b).config = Some(ab);
        self.link_state(b, a).config = Some(ba);
    }

    /// The configuration of every direction not set by [`Sim::link`] (initially a perfect,
    /// instantaneous link).
    pub fn default_link(&mut self, cfg: LinkConfig) {
        self.default_link = cfg;
    }

    /// Drop the next `n` packets sent from `from` to `to` (any transport), on top of any
    /// drops still pending. They still take their random draws.
    pub fn drop_next(&mut self, from: NodeId, to: NodeId, n: usize) {
        self.link_state(from, to).drop_next(n);
    }

    /// Hold packets from `from` to `to`: queue them, in order, until [`Sim::release`].
    /// Loss and duplication still apply as they are sent; jitter and reordering do not.
    pub fn hold(&mut self, from: NodeId, to: NodeId) {
        self.link_state(from, to).hold();
    }

    /// Stop holding packets from `from` to `to`, and deliver all held ones, in order, at
    /// the current time plus the link's latency.
    pub fn release(&mut self, from: NodeId, to: NodeId) {
        let default = self.default_link;
        let now = self.now;
        let (at, held) = self.link_state(from, to).release(&default, now);
        for flight in held {
            self.schedule(at, flight);
        }
    }

    /// Set the step bound of each run, and of each drain of one node's `poll_transmit`.
    pub fn set_max_steps(&mut self, n: u64) {
        self.max_steps = n;
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Run until idle (no packet in flight, no node deadline), or return the step-bound
    /// error. Virtual time is left at the last event.
    pub fn run(&mut self) -> Result<RunStats, SimError> {
        self.run_inner(None)
    }

    /// Run the events up to and including `until`, then set the time to `until` (if later);
    /// returns early when idle, with the time still moved to `until`.
    pub fn run_until(&mut self, until: Instant) -> Result<RunStats, SimError> {
        let stats = self.run_inner(Some(until))?;
        self.now = self.now.max(until);
        Ok(stats)
    }

    /// Every packet event, in the order it happened (times never decrease).
    pub fn trace(&self) -> &[TraceEvent] {
        &self.trace
    }

    /// A packet as its node sent it.
    ///
    /// # Panics
    ///
    /// If `id` is not from this simulator's trace.
    pub fn packet(&self, id: PacketId) -> &Packet {
        &self.packets[id.0]
    }

    /// The ladder diagram of the run so far, in the style of RFC 3665's figures. The same
    /// events give the same text.
    ///
    /// ```text
    ///               alice               bob
    ///                 |                  |
    ///   0.000000s     |----- INVITE --x  |  dropped by hook
    ///   0.510000s     |----- INVITE ---->|
    ///   0.530000s     |<---- 200 OK -----|
    ///   0.530000s     |<---- 200 OK -----|  dup
    ///   0.610000s     |------ ACK ------>|
    ///   0.800000s     |                  |  ACK to 10.0.0.9:5060 no route
    /// ```
    ///
    /// One column per node, in the order nodes were added, headed by its name. One line per
    /// delivered packet (at its arrival time) and per dropped packet (at its send time, with an
    /// `x` short of the receiver and the reason at the right). A packet to an address no node
    /// owns is a line with only the reason. A duplicate's arrow says `dup` at the right.
    /// Arrows are labelled by [`start_line_label`]; an arrow between distant columns crosses
    /// the ones between.
    pub fn ladder(&self) -> String {
        let names: Vec<&str> = self.nodes.iter().map(|s| s.name.as_str()).collect();
        ladder::render(&names, &self.trace, &self.packets)
    }

    /// A classic libpcap capture of the run so far, for Wireshark, tshark or sngrep. The same
    /// events give the same bytes.
    ///
    /// - Format: little-endian, microsecond timestamps (the virtual time, so the epoch is
    ///   1970-01-01 plus the simulator's zero), `LINKTYPE_RAW` (101): each record is a raw
    ///   IPv4 or IPv6 packet with correct lengths and checksums (IPv4 header, UDP, TCP).
    /// - Capture point: the senders' side. Each packet appears once, at its send time, even if
    ///   the link then lost, held, delayed or duplicated it (the trace says what happened).
    /// - TCP: the first packet between two addresses, in either direction, is preceded by a
    ///   SYN, SYN-ACK, ACK handshake at the same time stamp, its sender being the client.
    ///   Payloads are cut into segments of at most [`PCAP_TCP_MSS`] bytes, with sequence and
    ///   acknowledgement numbers consistent per direction, so readers reassemble SIP over
    ///   TCP. Connections are never closed; there are no pure ACKs of data.
    /// - Left out: packets whose source and destination are of different address families
    ///   (no wire carries them), and UDP datagrams larger than an IP packet holds.
    pub fn pcap(&self) -> Vec<u8> {
        pcap::capture(
            self.trace
                .iter()
                .filter(|e| e.kind == TraceKind::Sent)
                .map(|e| (e.time, &self.packets[e.packet.0])),
        )
    }

    /// Write [`Sim::pcap`] to `path`.
    pub fn write_pcap(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.pcap())
    }

    fn link_state(&mut self, from: NodeId, to: NodeId) -> &mut Link {
        let seed = self.seed;
        self.links
            .entry((from, to))
            .or_insert_with(|| Link::new(seed, from, to))
    }

    fn run_inner(&mut self, until: Option<Instant>) -> Result<RunStats, SimError> {
        let mut stats = RunStats {
            steps: 0,
            timeouts: 0,
            sent: 0,
            delivered: 0,
            dropped: 0,
            stop: Stop::Idle,
        };
        // Packets queued by commands between runs go out now.
        for i in 0..self.nodes.len() {
            self.drain(NodeId(i), &mut stats)?;
        }
        loop {
            let packet_at = self.queue.first_key_value().map(|(&(at, _), _)| at);
            let deadline = self.earliest_deadline();
            let next = match (packet_at, deadline) {
                (None, None) => break,
                (Some(p), None) => p,
                (None, Some((d, _))) => d,
                (Some(p), Some((d, _))) => p.min(d),
            };
            if until.is_some_and(|u| next > u) {
                stats.stop = Stop::Until;
                break;
            }
            if stats.steps >= self.max_steps {
                return Err(SimError::StepLimit {
                    limit: self.max_steps,
                    now: self.now,
                });
            }
            stats.steps += 1;
            self.now = self.now.max(next);
            if packet_at == Some(next) {
                if let Some((_, flight)) = self.queue.pop_first() {
                    self.deliver(flight, &mut stats)?;
                }
            } else if let Some((_, id)) = deadline {
                stats.timeouts += 1;
                self.nodes[id.0].node.handle_timeout(self.now);
                self.drain(id, &mut stats)?;
            }
        }
        Ok(stats)
    }

    /// The earliest node deadline, not before now, and its node (lowest id on ties).
    fn earliest_deadline(&self) -> Option<(Instant, NodeId)> {
        let mut best: Option<(Instant, NodeId)> = None;
        for (i, slot) in self.nodes.iter().enumerate() {
            if let Some(at) = slot.node.poll_timeout() {
                let at = at.max(self.now);
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, NodeId(i)));
                }
            }
        }
        best
    }

    fn deliver(&mut self, flight: Flight, stats: &mut RunStats) -> Result<(), SimError> {
        stats.delivered += 1;
        self.trace.push(TraceEvent {
            time: self.now,
            packet: flight.id,
            from: flight.from,
            to: Some(flight.to),
            kind: TraceKind::Delivered {
                duplicate: flight.duplicate,
            },
        });
        self.nodes[flight.to.0]
            .node
            .receive(self.now, flight.packet);
        self.drain(flight.to, stats)
    }

    /// Send everything node `id` has to send.
    fn drain(&mut self, id: NodeId, stats: &mut RunStats) -> Result<(), SimError> {
        let mut sent = 0u64;
        while let Some(packet) = self.nodes[id.0].node.poll_transmit(self.now) {
            sent += 1;
            if sent > self.max_steps {
                return Err(SimError::TransmitLimit {
                    node: self.nodes[id.0].name.clone(),
                    limit: self.max_steps,
                    now: self.now,
                });
            }
            self.transmit(id, packet, stats);
        }
        Ok(())
    }

    /// Put one packet on the network and decide its fate.
    fn transmit(&mut self, from: NodeId, packet: Packet, stats: &mut RunStats) {
        stats.sent += 1;
        let id = PacketId(self.packets.len());
        let to = self.routes.get(&packet.dst).copied();
        let now = self.now;
        let event = move |trace: &mut Vec<TraceEvent>, kind| {
            trace.push(TraceEvent {
                time: now,
                packet: id,
                from,
                to,
                kind,
            })
        };
        event(&mut self.trace, TraceKind::Sent);
        let Some(to) = to else {
            stats.dropped += 1;
            event(&mut self.trace, TraceKind::Dropped(DropReason::NoRoute));
            self.packets.push(packet);
            return;
        };
        let default = self.default_link;
        let flight = |duplicate| Flight {
            id,
            from,
            to,
            packet: packet.clone(),
            duplicate,
        };
        let link = self.link_state(from, to);
        match link.fate(&default, now, packet.transport) {
            Fate::Drop(reason) => {
                stats.dropped += 1;
                event(&mut self.trace, TraceKind::Dropped(reason));
            }
            Fate::Hold { duplicate } => {
                link.push_held(flight(false));
                if duplicate {
                    link.push_held(flight(true));
                    event(&mut self.trace, TraceKind::Duplicated);
                }
                event(&mut self.trace, TraceKind::Held);
            }
            Fate::Deliver { at, copy_at } => {
                self.schedule(at, flight(false));
                if let Some(copy_at) = copy_at {
                    event(&mut self.trace, TraceKind::Duplicated);
                    self.schedule(copy_at, flight(true));
                }
            }
        }
        self.packets.push(packet);
    }

    fn schedule(&mut self, at: Instant, flight: Flight) {
        self.queue.insert((at, self.scheduled), flight);
        self.scheduled += 1;
    }
}
