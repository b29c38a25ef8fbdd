//! A node that sends scripted bytes at given times and records what it receives.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use sipwire_core::time::Instant;

use crate::{Node, Packet, Transport};

/// A node that sends scripted raw bytes at given times and records everything it receives:
/// for tests of peers that misbehave, and for replaying captured flows.
///
/// It never answers on its own. Sends scheduled for the same instant go out in the order
/// they were scheduled; a send scheduled in the past goes out at the simulator's next step.
#[derive(Debug)]
pub struct ScriptedPeer {
    addr: SocketAddr,
    script: BTreeMap<(Instant, u64), Packet>,
    scheduled: u64,
    outbox: VecDeque<Packet>,
    received: Vec<(Instant, Packet)>,
}

impl ScriptedPeer {
    /// A peer owning `addr`, with an empty script.
    pub fn new(addr: SocketAddr) -> Self {
        ScriptedPeer {
            addr,
            script: BTreeMap::new(),
            scheduled: 0,
            outbox: VecDeque::new(),
            received: Vec::new(),
        }
    }

    /// The address this peer owns and sends from.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Send `bytes` to `dst` over `transport` at `at`.
    pub fn send_at(
        &mut self,
        at: Instant,
        transport: Transport,
        dst: SocketAddr,
        bytes: impl Into<Vec<u8>>,
    ) {
        let packet = Packet {
            transport,
            src: self.addr,
            dst,
            bytes: bytes.into(),
        };
        self.script.insert((at, self.scheduled), packet);
        self.scheduled += 1;
    }

    /// Everything received so far, with arrival times, in arrival order.
    pub fn received(&self) -> &[(Instant, Packet)] {
        &self.received
    }

    /// How many scripted sends have not gone out yet.
    pub fn pending(&self) -> usize {
        self.script.len() + self.outbox.len()
    }
}

impl Node for ScriptedPeer {
    /// The one address given to [`ScriptedPeer::new`].
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }

    fn receive(&mut self, now: Instant, packet: Packet) {
        self.received.push((now, packet));
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.script.first_entry() {
            if entry.key().0 > now {
                break;
            }
            self.outbox.push_back(entry.remove());
        }
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.script.first_key_value().map(|(&(at, _), _)| at)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
