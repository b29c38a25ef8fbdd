//! What the simulator runs: nodes that speak the sans-IO loop, and the packets between them.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;

use sipwire_core::time::Instant;

/// Transport of a packet.
///
/// The simulator treats the two differently on a link (see [`LinkConfig`](crate::LinkConfig)):
/// UDP datagrams may be lost, duplicated and reordered; TCP segments are reliable and arrive
/// in the order they were sent (the simulated kernel retransmits, so impairment shows only as
/// latency and jitter), except where a scripted hook drops them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// A datagram.
    Udp,
    /// A chunk of a byte stream on a connection between `src` and `dst`.
    Tcp,
}

impl Transport {
    /// The simulator's transport for a sipwire transport: UDP stays UDP, every stream
    /// transport travels as TCP.
    pub fn from_sip(t: sipwire_core::transport::Transport) -> Transport {
        match t {
            sipwire_core::transport::Transport::Udp => Transport::Udp,
            _ => Transport::Tcp,
        }
    }

    /// The sipwire transport a packet arrived over.
    pub fn to_sip(self) -> sipwire_core::transport::Transport {
        match self {
            Transport::Udp => sipwire_core::transport::Transport::Udp,
            Transport::Tcp => sipwire_core::transport::Transport::Tcp,
        }
    }
}

/// One packet handed between nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// How the bytes travel.
    pub transport: Transport,
    /// The sender's address (the simulator does not check that the sender owns it).
    pub src: SocketAddr,
    /// The destination; the node owning this address receives the packet.
    pub dst: SocketAddr,
    /// The payload: a whole datagram for UDP, a piece of the stream for TCP.
    pub bytes: Vec<u8>,
}

impl Packet {
    /// A UDP datagram from `src` to `dst`.
    pub fn udp(src: SocketAddr, dst: SocketAddr, bytes: impl Into<Vec<u8>>) -> Packet {
        Packet {
            transport: Transport::Udp,
            src,
            dst,
            bytes: bytes.into(),
        }
    }

    /// A TCP stream chunk from `src` to `dst`.
    pub fn tcp(src: SocketAddr, dst: SocketAddr, bytes: impl Into<Vec<u8>>) -> Packet {
        Packet {
            transport: Transport::Tcp,
            src,
            dst,
            bytes: bytes.into(),
        }
    }
}

/// The handle of a node in a [`Sim`](crate::Sim), in the order nodes were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(crate) usize);

impl NodeId {
    /// The node's position: 0 for the first node added, 1 for the next, and so on.
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node#{}", self.0)
    }
}

/// What a simulated node must do: the sans-IO loop, as quinn-proto and the sipwire endpoint
/// shape it.
///
/// After every [`receive`](Node::receive) and [`handle_timeout`](Node::handle_timeout) (and at
/// the start of every run) the simulator drains [`poll_transmit`](Node::poll_transmit) until it
/// returns `None`, then asks [`poll_timeout`](Node::poll_timeout) for the next deadline.
pub trait Node {
    /// Addresses this node owns: packets sent to these are delivered to it.
    ///
    /// Asked once, when the node is added with [`Sim::add_node`](crate::Sim::add_node).
    fn addrs(&self) -> Vec<SocketAddr>;

    /// A packet arrived at `now`.
    fn receive(&mut self, now: Instant, packet: Packet);

    /// The time `now` has come. The simulator calls it only when `now` has reached the
    /// deadline the node reported, but a node must tolerate an early or repeated call.
    fn handle_timeout(&mut self, now: Instant);

    /// The next packet to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Packet>;

    /// The earliest time this node wants [`handle_timeout`](Node::handle_timeout), or `None`
    /// if it waits for nothing. A deadline in the past means "now".
    fn poll_timeout(&self) -> Option<Instant>;

    /// Downcasting hook so tests can inspect their nodes: return `self`.
    fn as_any(&self) -> &dyn Any;

    /// Downcasting hook so tests can drive their nodes: return `self`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}
