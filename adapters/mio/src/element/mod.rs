//! What the event loop drives: a SIP element over the sans-IO core. The loop feeds it bytes
//! and timer firings and sends what it transmits; the element answers what the core hands
//! up (REGISTERs to the registrar, names to resolve).

mod registrar_uas;
mod stateful;
mod stateless;

use std::net::SocketAddr;
use std::sync::Arc;

use sipwire_core::dns::{Answer, DnsQuery};
use sipwire_core::endpoint::{Config, Input, Transmit};
use sipwire_core::proxy::{Forking, ProxyConfig};
use sipwire_core::registrar::RegistrarConfig;
use sipwire_core::time::Instant;
use sipwire_core::transport::Transport;

pub use registrar_uas::RegistrarUas;
pub use stateful::StatefulProxy;
pub use stateless::StatelessProxy;

use crate::config::{Mode, ServerConfig};
use crate::location::{ServerLocator, SharedLocation};

/// A SIP element the event loop drives.
pub trait Element {
    /// One input: bytes received, the timer, a failed send.
    fn handle(&mut self, now: Instant, input: Input<'_>);
    /// The next message to send.
    fn poll_transmit(&mut self) -> Option<Transmit<'_>>;
    /// Takes care of one event the core handed up (answers a REGISTER, say), which may
    /// queue transmissions; `false` when there was none.
    fn process_event(&mut self, now: Instant) -> bool;
    /// A DNS query the core waits for (RFC 3263: NAPTR, SRV, A or AAAA).
    fn poll_resolve(&mut self) -> Option<DnsQuery>;
    /// The records found for the [`DnsQuery`] `query` (or none, or a failed lookup).
    fn dns_answer(&mut self, now: Instant, query: u32, answer: Answer<'_>);
    /// When to hand in [`Input::Timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
}

/// The element `sipwire serve` runs, by [`Mode`].
pub enum Service {
    /// Stateful proxy and registrar.
    Stateful(Box<StatefulProxy>),
    /// Stateless proxy and registrar.
    Stateless(Box<StatelessProxy>),
    /// Redirect server and registrar.
    Redirect(Box<RegistrarUas>),
}

/// Leaks a list of strings for a configuration the core borrows for the process's life.
fn leak_strs(v: &[String]) -> &'static [&'static str] {
    let strs: Vec<&'static str> = v
        .iter()
        .map(|s| &*Box::leak(s.clone().into_boxed_str()))
        .collect();
    Box::leak(strs.into_boxed_slice())
}

impl Service {
    /// The element for `config`, naming itself `local` (its Via sent-by and Record-Route),
    /// over the shared `location` service.
    pub fn new(
        config: &ServerConfig,
        local: SocketAddr,
        location: SharedLocation,
        seed: u64,
    ) -> Service {
        let domains = leak_strs(&config.domains);
        // The registrar and redirect server also serve the AORs at our own addresses
        // (`sip:alice@127.0.0.1`), as a phone configured with an address writes them.
        let mut own = config.domains.clone();
        for ip in config
            .udp
            .iter()
            .chain(&config.tcp)
            .map(SocketAddr::ip)
            .chain([local.ip()])
        {
            if !ip.is_unspecified() && !own.contains(&ip.to_string()) {
                own.push(ip.to_string());
            }
        }
        let own = leak_strs(&own);
        let endpoint = Config {
            timers: config.timers,
            seed,
            max_message: config.max_message,
            retry_after: 5,
            path_mtu: None,
            stateless: false,
            keep_accepted: true,
        };
        let registrar = RegistrarConfig {
            domains: own,
            min_expires: config.min_expires,
            max_expires: config.max_expires,
            default_expires: config.default_expires,
            ..RegistrarConfig::default()
        };
        let proxy = ProxyConfig {
            local,
            transport: Transport::Udp,
            domains,
            record_route: config.record_route,
            forking: Forking::Parallel,
            supported: &[],
            timer_c: config.timer_c,
        };
        let locator = ServerLocator {
            location: location.clone(),
            hosts: Arc::new(config.hosts.clone()),
        };
        let capacity = (
            config.transactions,
            config.regions.unwrap_or(2 * config.transactions),
        );
        let uas = || RegistrarUas::new(endpoint, capacity, registrar, location.clone(), seed);
        match config.mode {
            Mode::Stateful => Service::Stateful(Box::new(
                StatefulProxy::new(
                    proxy,
                    // The proxy passes later 2xx on by Via: Accepted INVITEs keep no bytes.
                    Config {
                        keep_accepted: false,
                        ..endpoint
                    },
                    capacity,
                    config.contexts,
                    locator,
                    registrar,
                    location.clone(),
                    seed,
                )
                .with_resolutions(config.resolutions),
            )),
            Mode::Stateless => Service::Stateless(Box::new(StatelessProxy::new(
                proxy,
                Config {
                    stateless: true,
                    ..endpoint
                },
                locator,
                uas(),
            ))),
            Mode::Redirect => Service::Redirect(Box::new(uas().with_redirect(own))),
        }
    }

    fn element(&mut self) -> &mut dyn Element {
        match self {
            Service::Stateful(e) => &mut **e,
            Service::Stateless(e) => &mut **e,
            Service::Redirect(e) => &mut **e,
        }
    }

    fn element_ref(&self) -> &dyn Element {
        match self {
            Service::Stateful(e) => &**e,
            Service::Stateless(e) => &**e,
            Service::Redirect(e) => &**e,
        }
    }
}

impl Element for Service {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.element().handle(now, input);
    }
    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.element().poll_transmit()
    }
    fn process_event(&mut self, now: Instant) -> bool {
        self.element().process_event(now)
    }
    fn poll_resolve(&mut self) -> Option<DnsQuery> {
        self.element().poll_resolve()
    }
    fn dns_answer(&mut self, now: Instant, query: u32, answer: Answer<'_>) {
        self.element().dns_answer(now, query, answer);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.element_ref().poll_timeout()
    }
}

/// What an OPTIONS to the server itself is answered with (RFC 3261 §11.2).
pub(crate) const OPTIONS_HEADERS: &[(&str, &[u8])] = &[
    ("Allow", b"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"),
    ("Accept", b"application/sdp"),
];
