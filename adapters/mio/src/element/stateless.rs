//! A stateless proxy (RFC 3261 §16.11) with a registrar beside it: REGISTERs go to the
//! registrar's own endpoint (which keeps server transactions, so a retransmitted REGISTER
//! gets the same answer), every other message to the stateless proxy.

use std::collections::VecDeque;

use sipwire_core::dns::{Answer, DnsQuery};
use sipwire_core::endpoint::{Config, Endpoint, Input, Transmit};
use sipwire_core::proxy::{Proxy, ProxyConfig, ProxyEvent};
use sipwire_core::time::Instant;
use sipwire_core::transaction::Slot;

use super::{Element, RegistrarUas};
use crate::location::ServerLocator;

/// The stateless proxy and its registrar.
pub struct StatelessProxy {
    proxy: Proxy<'static, 'static, ServerLocator>,
    registrar: RegistrarUas,
    resolves: VecDeque<DnsQuery>,
}

impl StatelessProxy {
    /// A stateless proxy (`endpoint.stateless` must be set) beside `registrar`.
    pub fn new(
        config: ProxyConfig<'static>,
        endpoint: Config,
        locator: ServerLocator,
        registrar: RegistrarUas,
    ) -> StatelessProxy {
        // A stateless endpoint keeps no transactions; one slot for the arena's shape.
        let slots: Vec<Slot<_>> = vec![Slot::default()];
        let arena = vec![0u8; Endpoint::arena_len(1, endpoint.max_message)];
        let ep = Endpoint::new(endpoint, slots, arena);
        let scratch = vec![0u8; 2 * endpoint.max_message];
        StatelessProxy {
            proxy: Proxy::new(config, ep, locator, Vec::new(), scratch),
            registrar,
            resolves: VecDeque::new(),
        }
    }
}

/// Whether a message is a REGISTER request (the method is case-sensitive, §7.1).
fn is_register(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(0);
    bytes
        .get(start..)
        .is_some_and(|b| b.starts_with(b"REGISTER "))
}

impl Element for StatelessProxy {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Received { bytes, .. } if is_register(bytes) => {
                self.registrar.handle(now, input);
            }
            Input::Received { .. } => self.proxy.handle(now, input),
            Input::Timeout => {
                self.proxy.handle(now, input);
                self.registrar.handle(now, input);
            }
            // Only the registrar has transactions.
            Input::SendFailed { .. } => self.registrar.handle(now, input),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        if let Some(t) = self.proxy.poll_transmit() {
            return Some(t);
        }
        self.registrar.poll_transmit()
    }

    fn process_event(&mut self, now: Instant) -> bool {
        match self.proxy.poll_event() {
            Some(ProxyEvent::Resolve(q)) => {
                self.resolves.push_back(q);
                true
            }
            Some(e) => {
                tracing::trace!(?e, "stateless proxy");
                true
            }
            None => self.registrar.process_event(now),
        }
    }

    fn poll_resolve(&mut self) -> Option<DnsQuery> {
        self.resolves.pop_front()
    }

    fn dns_answer(&mut self, now: Instant, query: u32, answer: Answer<'_>) {
        self.proxy.dns_answer(now, query, answer);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.proxy.poll_timeout(), self.registrar.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn register_detection() {
        assert!(super::is_register(b"REGISTER sip:x SIP/2.0\r\n"));
        assert!(super::is_register(b"\r\nREGISTER sip:x SIP/2.0\r\n"));
        assert!(!super::is_register(b"register sip:x SIP/2.0\r\n"));
        assert!(!super::is_register(b"INVITE sip:x SIP/2.0\r\n"));
        assert!(!super::is_register(b"SIP/2.0 200 OK\r\n"));
    }
}
