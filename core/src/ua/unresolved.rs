//! Without the `dns` feature the UA resolves no names: a call, a redirect target or a
//! registrar whose host is a name (and no outbound proxy) is [`UaError::Unresolvable`], as
//! RFC 3263 is left to the application (§8.1.2 allows any means of finding the next hop). A
//! phone with a numeric outbound proxy never gets there. These are the no-DNS stand-ins for
//! `locate.rs`.

use super::{UaError, UserAgent};
use crate::time::Instant;

impl<'s, 'c, const S: usize, const T: usize, const E: usize, const I: usize>
    UserAgent<'s, 'c, S, T, E, I>
{
    /// A name to resolve for call `i`: none can be.
    pub(super) fn start_resolution(
        &mut self,
        _now: Instant,
        _i: usize,
        _target: &str,
    ) -> Result<(), UaError> {
        Err(UaError::Unresolvable)
    }

    /// Registers (§10.2) with the registrar of our domain: through the outbound proxy if
    /// there is one ([`register`](Self::register)); without one, finding the registrar
    /// (§10.2.6, RFC 3263) needs the `dns` feature: [`UaError::Unresolvable`].
    pub fn register_domain(&mut self, now: Instant, expires: u32) -> Result<(), UaError> {
        match self.config.outbound_proxy {
            Some(proxy) => self.register(now, proxy, expires),
            None => Err(UaError::Unresolvable),
        }
    }

    /// RFC 3263 §4.3 failover for call `i`: no resolution, no other target.
    pub(super) fn fail_over(&mut self, _now: Instant, _i: usize) -> bool {
        false
    }

    /// Frees call `i`'s resolution slot: there is none.
    pub(super) fn release_resolution(&mut self, _i: usize) {}

    /// RFC 3263 §4.3 failover for the registrar: no resolution, no other target.
    pub(super) fn registrar_fail_over(&mut self, _now: Instant) -> bool {
        false
    }

    /// Frees the registrar's resolution slot: there is none.
    pub(super) fn release_registrar_resolution(&mut self) {}
}
