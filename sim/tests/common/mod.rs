//! Test nodes and helpers shared by the simulator's tests.
#![allow(dead_code)]

use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;

use sipwire_sim::{Instant, Node, Packet};

/// `10.0.0.<host>:5060`.
pub fn addr(host: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, host], 5060))
}

/// Answers every packet with the same bytes, to its source, over the same transport.
#[derive(Debug)]
pub struct Echo {
    pub addr: SocketAddr,
    pub received: Vec<(Instant, Packet)>,
    out: VecDeque<Packet>,
}

impl Echo {
    pub fn new(addr: SocketAddr) -> Echo {
        Echo {
            addr,
            received: Vec::new(),
            out: VecDeque::new(),
        }
    }
}

impl Node for Echo {
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }
    fn receive(&mut self, now: Instant, packet: Packet) {
        self.out.push_back(Packet {
            transport: packet.transport,
            src: self.addr,
            dst: packet.src,
            bytes: packet.bytes.clone(),
        });
        self.received.push((now, packet));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
