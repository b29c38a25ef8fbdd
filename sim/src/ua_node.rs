//! A simulated phone: a sipwire [`UserAgent`] with a scripted application on top.

use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;

use sipwire_core::endpoint::{Config, Endpoint, Input, Tx};
use sipwire_core::time::Instant;
use sipwire_core::transaction::Slot;
use sipwire_core::ua::{Call, ResolutionSlot, UaConfig, UaEvent, UserAgent};

use crate::{Node, Packet, Transport};

/// What the application on a simulated phone does with the UA's events.
pub trait Application: 'static {
    /// An event arrived; answer with commands on `ua`.
    fn on_event(&mut self, now: Instant, ua: &mut UserAgent<'static, 'static>, event: UaEvent);
}

/// A simulated SIP phone.
pub struct UaNode<A: Application> {
    ua: UserAgent<'static, 'static>,
    addr: SocketAddr,
    app: A,
    outbox: VecDeque<Packet>,
    /// Every event the UA raised, with its time, for assertions.
    pub log: Vec<(Instant, UaEvent)>,
}

impl<A: Application> UaNode<A> {
    /// A phone with `config` (its `local` is the node's address), room for `transactions`
    /// transactions and `calls` calls (and as many RFC 3263 resolutions).
    pub fn new(
        config: UaConfig<'static>,
        endpoint: Config,
        transactions: usize,
        calls: usize,
        app: A,
    ) -> Self {
        let slots: Vec<Slot<Tx>> = (0..transactions).map(|_| Slot::default()).collect();
        let arena = vec![0u8; Endpoint::arena_len(transactions, endpoint.max_message)];
        let ep = Endpoint::new(endpoint, slots, arena);
        let calls: Vec<Call> = (0..calls).map(|_| Call::default()).collect();
        let inbox = vec![0u8; endpoint.max_message];
        let resolutions: Vec<ResolutionSlot> = (0..calls.len())
            .map(|_| ResolutionSlot::default())
            .collect();
        let ua = UserAgent::new(config, ep, calls, inbox)
            .expect("valid UA configuration")
            .with_resolutions(resolutions);
        UaNode {
            ua,
            addr: config.local,
            app,
            outbox: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// The UA, to inspect.
    pub fn ua(&self) -> &UserAgent<'static, 'static> {
        &self.ua
    }

    /// The application, to inspect.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The application, to change.
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }

    /// The events so far, without times.
    pub fn events(&self) -> Vec<UaEvent> {
        self.log.iter().map(|(_, e)| *e).collect()
    }

    /// Runs a command on the UA at `now` and drains its outputs.
    pub fn command<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut UserAgent<'static, 'static>, &mut A) -> R,
    ) -> R {
        let r = f(&mut self.ua, &mut self.app);
        self.drain(now);
        r
    }

    fn drain(&mut self, now: Instant) {
        for _ in 0..1_000 {
            while let Some(t) = self.ua.poll_transmit() {
                let transport = Transport::from_sip(t.transport);
                self.outbox.push_back(Packet {
                    transport,
                    src: t.local,
                    dst: t.remote,
                    bytes: t.bytes.to_vec(),
                });
            }
            let Some(e) = self.ua.poll_event() else {
                return;
            };
            self.log.push((now, e));
            self.app.on_event(now, &mut self.ua, e);
        }
    }
}

impl<A: Application> Node for UaNode<A> {
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }

    fn receive(&mut self, now: Instant, packet: Packet) {
        let transport = packet.transport.to_sip();
        self.ua.handle(
            now,
            Input::Received {
                transport,
                local: self.addr,
                remote: packet.src,
                bytes: &packet.bytes,
            },
        );
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle(now, Input::Timeout);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ua.poll_timeout()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
