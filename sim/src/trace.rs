//! The record of a run: every packet event, in the order it happened.

use std::fmt;

use sipwire_core::time::Instant;

use crate::NodeId;

/// The handle of a packet a node sent, in sending order; [`Sim::packet`](crate::Sim::packet)
/// gives its bytes. A duplicate shares its original's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketId(pub(crate) usize);

impl PacketId {
    /// The packet's position among all packets sent: 0 for the first.
    pub fn index(self) -> usize {
        self.0
    }
}

/// Why a packet never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The link's random loss (UDP only).
    Loss,
    /// A scripted [`Sim::drop_next`](crate::Sim::drop_next).
    Hook,
    /// No node owns the destination address.
    NoRoute,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Loss => "lost",
            DropReason::Hook => "dropped by hook",
            DropReason::NoRoute => "no route",
        })
    }
}

/// What happened to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TraceKind {
    /// A node sent it (the first event of every packet).
    Sent,
    /// It will never arrive.
    Dropped(DropReason),
    /// The link made a second copy, which will arrive on its own.
    Duplicated,
    /// A [`Sim::hold`](crate::Sim::hold) queued it until [`Sim::release`](crate::Sim::release).
    Held,
    /// It reached its node; `duplicate` is true for the link's extra copy.
    Delivered {
        /// This is the copy a [`Duplicated`](TraceKind::Duplicated) made.
        duplicate: bool,
    },
}

/// One packet event, stamped with the virtual time it happened at.
///
/// A packet's events, in order: `Sent`, then either `Dropped`, or (`Duplicated`)? (`Held`)?
/// and one `Delivered` per copy. Fates are decided at send time, so `Dropped`, `Duplicated`
/// and `Held` carry the send time; `Delivered` carries the arrival time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    /// When it happened.
    pub time: Instant,
    /// Which packet.
    pub packet: PacketId,
    /// The node that sent it.
    pub from: NodeId,
    /// The node owning its destination, `None` when no node does.
    pub to: Option<NodeId>,
    /// What happened.
    pub kind: TraceKind,
}
