//! A simulated node that runs a sipwire [`Endpoint`] and a transaction user (TU) on top of it.
//!
//! The node does what an I/O adapter does: it hands received datagrams (and stream messages,
//! framed by Content-Length) to the endpoint, drains its outputs after every input, turns
//! transmissions into packets, arms the one timer, and hands events to the TU, which answers
//! with commands on the endpoint.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use sipwire_core::endpoint::{Config, Endpoint, Event, Input, Output, TransactionId, Tx};
use sipwire_core::message::{Header, Parser, Status};
use sipwire_core::time::Instant;
use sipwire_core::transaction::Slot;
use sipwire_core::transport::Transport as SipTransport;

use crate::{Node, Packet, Transport};

/// An endpoint event with its bytes copied out, so the TU can keep it while it commands the
/// endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedEvent {
    /// A new request in a server transaction.
    Request {
        /// The server transaction.
        tx: TransactionId,
        /// The request.
        bytes: Vec<u8>,
        /// The INVITE transaction a CANCEL matched.
        cancels: Option<TransactionId>,
    },
    /// A response in a client transaction.
    Response {
        /// The client transaction.
        tx: TransactionId,
        /// The response.
        bytes: Vec<u8>,
    },
    /// An ACK outside any transaction (the ACK for a 2xx).
    Ack {
        /// The ACK.
        bytes: Vec<u8>,
        /// Its source.
        remote: SocketAddr,
    },
    /// A response that matched no transaction.
    StrayResponse {
        /// The response.
        bytes: Vec<u8>,
        /// Its source.
        remote: SocketAddr,
    },
    /// A request to a stateless endpoint.
    StatelessRequest {
        /// The request.
        bytes: Vec<u8>,
        /// Its source.
        remote: SocketAddr,
    },
    /// Timer B, F or H fired.
    Timeout {
        /// The transaction.
        tx: TransactionId,
    },
    /// The transport failed.
    TransportError {
        /// The transaction.
        tx: TransactionId,
    },
    /// The transaction ended.
    Terminated {
        /// The transaction.
        tx: TransactionId,
    },
}

impl From<Event<'_>> for OwnedEvent {
    fn from(e: Event<'_>) -> Self {
        match e {
            Event::Request { tx, bytes, cancels } => OwnedEvent::Request {
                tx,
                bytes: bytes.to_vec(),
                cancels,
            },
            Event::Response { tx, bytes } => OwnedEvent::Response {
                tx,
                bytes: bytes.to_vec(),
            },
            Event::Ack { bytes, remote } => OwnedEvent::Ack {
                bytes: bytes.to_vec(),
                remote,
            },
            Event::StrayResponse { bytes, remote } => OwnedEvent::StrayResponse {
                bytes: bytes.to_vec(),
                remote,
            },
            Event::StatelessRequest { bytes, remote } => OwnedEvent::StatelessRequest {
                bytes: bytes.to_vec(),
                remote,
            },
            Event::Timeout { tx } => OwnedEvent::Timeout { tx },
            Event::TransportError { tx } => OwnedEvent::TransportError { tx },
            Event::Terminated { tx } => OwnedEvent::Terminated { tx },
        }
    }
}

/// What runs above the endpoint in a simulated node.
pub trait TransactionUser: 'static {
    /// An event arrived; answer with commands on `endpoint`.
    fn on_event(&mut self, now: Instant, endpoint: &mut Endpoint<'static>, event: OwnedEvent);
}

/// A simulated SIP node: an [`Endpoint`] with owned storage and a [`TransactionUser`].
pub struct EndpointNode<U: TransactionUser> {
    endpoint: Endpoint<'static>,
    addr: SocketAddr,
    tu: U,
    outbox: VecDeque<Packet>,
    next_timeout: Option<Instant>,
    streams: BTreeMap<SocketAddr, Vec<u8>>,
}

impl<U: TransactionUser> EndpointNode<U> {
    /// A node at `addr` with room for `transactions` transactions of `config.max_message`
    /// bytes each.
    pub fn new(addr: SocketAddr, config: Config, transactions: usize, tu: U) -> Self {
        let slots: Vec<Slot<Tx>> = (0..transactions).map(|_| Slot::default()).collect();
        let arena = vec![0u8; Endpoint::arena_len(transactions, config.max_message)];
        EndpointNode {
            endpoint: Endpoint::new(config, slots, arena),
            addr,
            tu,
            outbox: VecDeque::new(),
            next_timeout: None,
            streams: BTreeMap::new(),
        }
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint, to inspect.
    pub fn endpoint(&self) -> &Endpoint<'static> {
        &self.endpoint
    }

    /// The TU, to inspect.
    pub fn tu(&self) -> &U {
        &self.tu
    }

    /// The TU, to change.
    pub fn tu_mut(&mut self) -> &mut U {
        &mut self.tu
    }

    /// Runs a command on the endpoint (and TU) at `now`, then drains the outputs. Packets it
    /// produces leave at the start of the next simulator run.
    pub fn command<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Endpoint<'static>, &mut U) -> R,
    ) -> R {
        let r = f(&mut self.endpoint, &mut self.tu);
        self.drain(now);
        r
    }

    fn drain(&mut self, now: Instant) {
        // Events may lead the TU to commands, whose outputs may hold more events: repeat
        // until the endpoint is quiet. Each round handles what the previous round produced.
        for _ in 0..1_000 {
            let mut events = Vec::new();
            self.next_timeout = None;
            while let Some(out) = self.endpoint.poll_output() {
                match out {
                    Output::Transmit(t) => {
                        let transport = Transport::from_sip(t.transport);
                        self.outbox.push_back(Packet {
                            transport,
                            src: t.local,
                            dst: t.remote,
                            bytes: t.bytes.to_vec(),
                        });
                    }
                    Output::Event(e) => events.push(OwnedEvent::from(e)),
                    Output::Timeout(at) => {
                        self.next_timeout = Some(at);
                        break;
                    }
                }
            }
            if events.is_empty() {
                return;
            }
            for e in events {
                self.tu.on_event(now, &mut self.endpoint, e);
            }
        }
    }

    fn deliver(&mut self, now: Instant, transport: SipTransport, remote: SocketAddr, bytes: &[u8]) {
        self.endpoint.handle(
            now,
            Input::Received {
                transport,
                local: self.addr,
                remote,
                bytes,
            },
        );
    }
}

impl<U: TransactionUser> Node for EndpointNode<U> {
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }

    fn receive(&mut self, now: Instant, packet: Packet) {
        match packet.transport {
            Transport::Udp => self.deliver(now, SipTransport::Udp, packet.src, &packet.bytes),
            Transport::Tcp => {
                // Frame the stream by Content-Length (§18.3), one message at a time.
                let mut buf = self.streams.remove(&packet.src).unwrap_or_default();
                buf.extend_from_slice(&packet.bytes);
                loop {
                    // RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF pong;
                    // a lone CRLF (a pong, or stray line ends) is dropped.
                    if buf.starts_with(b"\r\n\r\n") {
                        buf.drain(..4);
                        self.outbox
                            .push_back(Packet::tcp(self.addr, packet.src, &b"\r\n"[..]));
                        continue;
                    }
                    if buf.starts_with(b"\r\n") && buf.len() > 2 && buf[2] != b'\r' {
                        buf.drain(..2);
                        continue;
                    }
                    let mut slots = [Header::EMPTY; 64];
                    let len = match Parser::stream().parse(&buf, &mut slots) {
                        Ok(Status::Complete(m)) => m.len(),
                        Ok(Status::Partial) => break,
                        Err(_) => {
                            // A broken stream: drop what is buffered (a real adapter would
                            // close the connection).
                            buf.clear();
                            break;
                        }
                    };
                    let msg: Vec<u8> = buf.drain(..len).collect();
                    self.deliver(now, SipTransport::Tcp, packet.src, &msg);
                    self.drain(now);
                }
                if !buf.is_empty() {
                    self.streams.insert(packet.src, buf);
                }
            }
        }
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle(now, Input::Timeout);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
