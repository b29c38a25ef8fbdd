//! A simulated proxy (and registrar front end): a sipwire [`Proxy`] with an application
//! that answers what the proxy hands up (REGISTERs for its domains).

use std::any::Any;
use std::collections::VecDeque;
use std::net::SocketAddr;

use sipwire_core::endpoint::{Config, Endpoint, Input, Tx};
use sipwire_core::proxy::{Context, Locator, Proxy, ProxyConfig, ProxyEvent, ResolutionSlot};
use sipwire_core::time::Instant;
use sipwire_core::transaction::Slot;

use crate::{Node, Packet, Transport};

/// What runs beside a simulated proxy.
pub trait ProxyApplication<L: Locator + 'static>: 'static {
    /// An event arrived.
    fn on_event(&mut self, now: Instant, proxy: &mut Proxy<'static, 'static, L>, event: ProxyEvent);
}

/// A simulated proxy node.
pub struct ProxyNode<L: Locator + 'static, A: ProxyApplication<L>> {
    proxy: Proxy<'static, 'static, L>,
    addr: SocketAddr,
    app: A,
    outbox: VecDeque<Packet>,
    /// Every event, with its time.
    pub log: Vec<(Instant, ProxyEvent)>,
}

impl<L: Locator + 'static, A: ProxyApplication<L>> ProxyNode<L, A> {
    /// A proxy at `config.local` with `transactions` slots and `contexts` response contexts
    /// (and as many RFC 3263 resolutions).
    pub fn new(
        config: ProxyConfig<'static>,
        endpoint: Config,
        transactions: usize,
        contexts: usize,
        locator: L,
        app: A,
    ) -> Self {
        // A proxy passes later 2xx on by Via (§16.7 step 5): Accepted INVITEs keep no bytes.
        let endpoint = Config {
            keep_accepted: false,
            ..endpoint
        };
        let slots: Vec<Slot<Tx>> = (0..transactions).map(|_| Slot::default()).collect();
        let arena = vec![0u8; Endpoint::arena_len(transactions, endpoint.max_message)];
        let ep = Endpoint::new(endpoint, slots, arena);
        let ctx: Vec<Context> = (0..contexts).map(|_| Context::default()).collect();
        let scratch = vec![0u8; 2 * endpoint.max_message];
        ProxyNode {
            // RFC 3263: one resolution per context, room for a next hop name per request.
            proxy: Proxy::new(config, ep, locator, ctx, scratch).with_resolutions(
                (0..contexts)
                    .map(|_| ResolutionSlot::default())
                    .collect::<Vec<_>>(),
            ),
            addr: config.local,
            app,
            outbox: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// The proxy.
    pub fn proxy(&self) -> &Proxy<'static, 'static, L> {
        &self.proxy
    }

    /// The proxy, to change (its locator, say).
    pub fn proxy_mut(&mut self) -> &mut Proxy<'static, 'static, L> {
        &mut self.proxy
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    fn drain(&mut self, now: Instant) {
        for _ in 0..1_000 {
            while let Some(t) = self.proxy.poll_transmit() {
                let transport = Transport::from_sip(t.transport);
                self.outbox.push_back(Packet {
                    transport,
                    src: t.local,
                    dst: t.remote,
                    bytes: t.bytes.to_vec(),
                });
            }
            let Some(e) = self.proxy.poll_event() else {
                return;
            };
            self.log.push((now, e));
            self.app.on_event(now, &mut self.proxy, e);
        }
    }
}

impl<L: Locator + 'static, A: ProxyApplication<L>> Node for ProxyNode<L, A> {
    fn addrs(&self) -> Vec<SocketAddr> {
        vec![self.addr]
    }

    fn receive(&mut self, now: Instant, packet: Packet) {
        let transport = packet.transport.to_sip();
        self.proxy.handle(
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
        self.proxy.handle(now, Input::Timeout);
        self.drain(now);
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Packet> {
        self.outbox.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.proxy.poll_timeout()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
