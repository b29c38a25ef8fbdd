//! The registrar (RFC 3261 §10.3) as a UAS of its own, and optionally a redirect server
//! (§8.3) beside it: the element of redirect mode, and the REGISTER side of a stateless
//! proxy (which keeps no transactions of its own, while a registrar must answer a
//! retransmitted REGISTER as it answered the first, §17.2.2).

use sipwire_core::dns::{Answer, DnsQuery};
use sipwire_core::endpoint::{Config, Endpoint, Event, Input, TransactionId, Transmit};
use sipwire_core::message::builder::ResponseParts;
use sipwire_core::message::{Header, Message, Parser, Status};
use sipwire_core::rand::Rng;
use sipwire_core::redirect::{RedirectConfig, RedirectServer};
use sipwire_core::registrar::{Registrar, RegistrarConfig, ServerError};
use sipwire_core::time::Instant;
use sipwire_core::transaction::Slot;

use super::{Element, OPTIONS_HEADERS};
use crate::location::SharedLocation;

/// Room for a response's header values (a 200 to REGISTER lists every binding).
const RESPONSE_VALUES: usize = 8 * 1024;

/// A registrar UAS over its own endpoint, with an optional redirect server.
pub struct RegistrarUas {
    ep: Endpoint<'static>,
    registrar: Registrar<'static>,
    redirect: Option<RedirectServer<'static>>,
    location: SharedLocation,
    rng: Rng,
    request: Vec<u8>,
    values: Vec<u8>,
}

impl RegistrarUas {
    /// A registrar with `transactions` server transactions sharing `regions` message
    /// regions.
    pub fn new(
        endpoint: Config,
        (transactions, regions): (usize, usize),
        registrar: RegistrarConfig<'static>,
        location: SharedLocation,
        seed: u64,
    ) -> RegistrarUas {
        let slots: Vec<Slot<_>> = (0..transactions).map(|_| Slot::default()).collect();
        let arena = vec![0u8; Endpoint::arena_len_with_regions(regions, endpoint.max_message)];
        RegistrarUas {
            ep: Endpoint::new(endpoint, slots, arena),
            registrar: Registrar::new(registrar),
            redirect: None,
            location,
            rng: Rng::new(seed ^ 0x7265_6769_7374_6572),
            request: Vec::with_capacity(endpoint.max_message),
            values: vec![0; RESPONSE_VALUES],
        }
    }

    /// Also a redirect server for `domains`: every request but REGISTER, OPTIONS to the
    /// server and CANCEL is answered 3xx with the bindings (or 404).
    pub fn with_redirect(mut self, domains: &'static [&'static str]) -> RegistrarUas {
        self.redirect = Some(RedirectServer::new(RedirectConfig {
            domains,
            ..RedirectConfig::default()
        }));
        self
    }

    /// Answers the request in `self.request`.
    fn answer(&mut self, now: Instant, tx: TransactionId, cancels: Option<TransactionId>) {
        let mut headers = [Header::EMPTY; 64];
        let msg = match Parser::datagram().parse(&self.request, &mut headers) {
            Ok(Status::Complete(m)) => m,
            // The endpoint answers malformed requests itself; this is a request it let
            // through that we cannot read.
            _ => return respond_code(&mut self.ep, now, tx, 400, "Bad Request"),
        };
        let mut tag = [0u8; 16];
        let tag = self.rng.hex(&mut tag);
        match msg.method() {
            Some("REGISTER") => {
                let Ok(mut location) = self.location.write() else {
                    return respond_code(&mut self.ep, now, tx, 500, "Server Internal Error");
                };
                match self
                    .registrar
                    .process(now, &msg, &mut *location, &mut self.values)
                {
                    Ok(r) => {
                        drop(location);
                        log_refusal(&msg, r.code);
                        let _ = self.ep.respond(now, tx, &r.parts(Some(tag)));
                    }
                    Err(ServerError::NoResponse) => {}
                    Err(_) => {
                        drop(location);
                        respond_code(&mut self.ep, now, tx, 500, "Server Internal Error");
                    }
                }
            }
            Some("OPTIONS") if is_for_server(&msg) => {
                let parts = ResponseParts {
                    to_tag: Some(tag),
                    extra: OPTIONS_HEADERS,
                    ..ResponseParts::new(200, "OK")
                };
                let _ = self.ep.respond(now, tx, &parts);
            }
            // §9.2: 200 if it matched a transaction (whose INVITE a redirect server has
            // answered already), 481 otherwise.
            Some("CANCEL") if cancels.is_none() => {
                respond_code(
                    &mut self.ep,
                    now,
                    tx,
                    481,
                    "Call/Transaction Does Not Exist",
                );
            }
            _ => {
                let Some(redirect) = &self.redirect else {
                    return respond_code(&mut self.ep, now, tx, 405, "Method Not Allowed");
                };
                let Ok(location) = self.location.read() else {
                    return respond_code(&mut self.ep, now, tx, 500, "Server Internal Error");
                };
                match redirect.process(now, &msg, &*location, &mut self.values) {
                    Ok(r) => {
                        let _ = self.ep.respond(now, tx, &r.parts(Some(tag)));
                    }
                    Err(ServerError::NoResponse) => {}
                    Err(_) => respond_code(&mut self.ep, now, tx, 500, "Server Internal Error"),
                }
            }
        }
    }
}

fn log_refusal(msg: &Message<'_, '_>, code: u16) {
    if code >= 300 {
        tracing::info!(
            code,
            to = msg.to().ok().map(|t| t.uri.raw()).unwrap_or("?"),
            "REGISTER refused"
        );
    } else {
        tracing::debug!(
            to = msg.to().ok().map(|t| t.uri.raw()).unwrap_or("?"),
            "REGISTER"
        );
    }
}

/// A request whose Request-URI names a server, not a user (§11).
fn is_for_server(msg: &Message<'_, '_>) -> bool {
    msg.request_uri().is_some_and(|u| u.user().is_none())
}

fn respond_code(ep: &mut Endpoint<'_>, now: Instant, tx: TransactionId, code: u16, reason: &str) {
    let _ = ep.respond(now, tx, &ResponseParts::new(code, reason));
}

impl Element for RegistrarUas {
    fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.ep.handle(now, input);
    }

    fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.ep.poll_transmit()
    }

    fn process_event(&mut self, now: Instant) -> bool {
        let Some(event) = self.ep.poll_event() else {
            return false;
        };
        if let Event::Request { tx, bytes, cancels } = event {
            self.request.clear();
            self.request.extend_from_slice(bytes);
            self.answer(now, tx, cancels);
        }
        true
    }

    fn poll_resolve(&mut self) -> Option<DnsQuery> {
        None
    }

    fn dns_answer(&mut self, _now: Instant, _query: u32, _answer: Answer<'_>) {}

    fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }
}
