//! A stateful proxy (RFC 3261 §16) with the registrar (§10.3) for its domains, sharing one
//! location service.

use std::collections::VecDeque;

use sipwire_core::dns::{Answer, DnsQuery};
use sipwire_core::endpoint::{Config, Endpoint, Input, TransactionId, Transmit};
use sipwire_core::message::builder::ResponseParts;
use sipwire_core::message::{Header, Parser, Status};
use sipwire_core::proxy::{Context, Proxy, ProxyConfig, ProxyEvent, ResolutionSlot};
use sipwire_core::rand::Rng;
use sipwire_core::registrar::{Registrar, RegistrarConfig, ServerError};
use sipwire_core::time::Instant;
use sipwire_core::transaction::Slot;

use super::Element;
use crate::location::{ServerLocator, SharedLocation};

/// Room for a response's header values (a 200 to REGISTER lists every binding).
const RESPONSE_VALUES: usize = 8 * 1024;

/// The stateful proxy and registrar.
pub struct StatefulProxy {
    proxy: Proxy<'static, 'static, ServerLocator>,
    registrar: Registrar<'static>,
    location: SharedLocation,
    rng: Rng,
    resolves: VecDeque<DnsQuery>,
    request: Vec<u8>,
    values: Vec<u8>,
}

impl StatefulProxy {
    /// A proxy with `transactions` transactions sharing `regions` message regions, and
    /// `contexts` response contexts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: ProxyConfig<'static>,
        endpoint: Config,
        (transactions, regions): (usize, usize),
        contexts: usize,
        locator: ServerLocator,
        registrar: RegistrarConfig<'static>,
        location: SharedLocation,
        seed: u64,
    ) -> StatefulProxy {
        let slots: Vec<Slot<_>> = (0..transactions).map(|_| Slot::default()).collect();
        let arena = vec![0u8; Endpoint::arena_len_with_regions(regions, endpoint.max_message)];
        let ep = Endpoint::new(endpoint, slots, arena);
        let ctx: Vec<Context> = (0..contexts).map(|_| Context::default()).collect();
        let scratch = vec![0u8; 2 * endpoint.max_message];
        StatefulProxy {
            proxy: Proxy::new(config, ep, locator, ctx, scratch),
            registrar: Registrar::new(registrar),
            location,
            rng: Rng::new(seed ^ 0x7265_6769_7374_6572),
            resolves: VecDeque::new(),
            request: Vec::with_capacity(endpoint.max_message),
            values: vec![0; RESPONSE_VALUES],
        }
    }

    /// Lends the proxy a table of `n` RFC 3263 resolutions (next hops that are names no
    /// static table knows; §4.3 failover), made here once.
    pub fn with_resolutions(self, n: usize) -> StatefulProxy {
        let table: Vec<ResolutionSlot> = (0..n).map(|_| ResolutionSlot::default()).collect();
        StatefulProxy {
            proxy: self.proxy.with_resolutions(table),
            ..self
        }
    }

    /// The proxy underneath.
    pub fn proxy(&self) -> &Proxy<'static, 'static, ServerLocator> {
        &self.proxy
    }

    fn register(&mut self, now: Instant, tx: TransactionId) {
        let Some(bytes) = self.proxy.request_bytes(tx) else {
            return;
        };
        self.request.clear();
        self.request.extend_from_slice(bytes);
        let mut headers = [Header::EMPTY; 64];
        let Ok(Status::Complete(msg)) = Parser::datagram().parse(&self.request, &mut headers)
        else {
            let _ = self
                .proxy
                .respond(now, tx, &ResponseParts::new(400, "Bad Request"));
            return;
        };
        let mut tag = [0u8; 16];
        let tag = self.rng.hex(&mut tag);
        let Ok(mut location) = self.location.write() else {
            return;
        };
        match self
            .registrar
            .process(now, &msg, &mut *location, &mut self.values)
        {
            Ok(r) => {
                drop(location);
                if r.code >= 300 {
                    tracing::info!(code = r.code, "REGISTER refused");
                }
                let _ = self.proxy.respond(now, tx, &r.parts(Some(tag)));
            }
            Err(ServerError::NoResponse) => {}
            Err(_) => {
                drop(location);
                let parts = ResponseParts::new(500, "Server Internal Error");
                let _ = self.proxy.respond(now, tx, &parts);
            }
        }
    }
}

impl Element for StatefulProxy {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.proxy.handle(now, input);
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.proxy.poll_transmit()
    }

    fn process_event(&mut self, now: Instant) -> bool {
        let Some(event) = self.proxy.poll_event() else {
            return false;
        };
        match event {
            ProxyEvent::Register { tx } => self.register(now, tx),
            ProxyEvent::Resolve(q) => self.resolves.push_back(q),
            ProxyEvent::Answered { code } if code >= 500 => {
                tracing::warn!(code, "request answered by the proxy");
            }
            ProxyEvent::Answered { code } => tracing::debug!(code, "request answered by the proxy"),
            ProxyEvent::Forwarded { branches } => tracing::trace!(branches, "request forwarded"),
        }
        true
    }

    fn poll_resolve(&mut self) -> Option<DnsQuery> {
        self.resolves.pop_front()
    }

    fn dns_answer(&mut self, now: Instant, query: u32, answer: Answer<'_>) {
        self.proxy.dns_answer(now, query, answer);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.proxy.poll_timeout()
    }
}
