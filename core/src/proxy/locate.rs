//! The proxy's target set from the registrar's location service (§16.5), and next hops for
//! other domains from a static host table (consulted before RFC 3263 DNS).

use core::net::SocketAddr;

use super::{Locator, Target, MAX_BRANCHES};
use crate::message::Uri;
use crate::registrar::{by_preference, canonical_aor, Binding, LocationService, MAX_AOR};
use crate::time::Instant;
use crate::transport::Transport;

/// A [`Locator`] over a [`LocationService`] and a table of known hosts.
pub struct LocationLocator<'t, S: LocationService> {
    /// The bindings the registrar keeps.
    pub store: S,
    /// Host name → address, for other domains' servers.
    pub hosts: &'t [(&'t str, SocketAddr)],
}

/// The target set for a URI of ours from a location service (§16.5): its live bindings,
/// highest q first, as many as a request forks to.
pub fn targets_from<S: LocationService + ?Sized>(
    store: &S,
    now: Instant,
    uri: &Uri<'_>,
    out: &mut [Option<Target>; MAX_BRANCHES],
) -> usize {
    let mut aor = [0u8; MAX_AOR];
    let Some(aor) = canonical_aor(uri, &mut aor) else {
        return 0;
    };
    let mut found = [Binding::EMPTY; MAX_BRANCHES];
    // Highest q first (§16.6: the target set in q order).
    let n = by_preference(store, aor, now, &mut |_| false, &mut found);
    let mut k = 0;
    for b in found.iter().take(n) {
        if let Some(t) = Target::new(b.contact, b.q.unwrap_or(1000)) {
            out[k] = Some(t);
            k += 1;
        }
    }
    k
}

impl<S: LocationService> Locator for LocationLocator<'_, S> {
    fn targets(
        &mut self,
        now: Instant,
        uri: &Uri<'_>,
        out: &mut [Option<Target>; MAX_BRANCHES],
    ) -> usize {
        targets_from(&self.store, now, uri, out)
    }

    fn resolve(&mut self, host: &str, _port: Option<u16>, _t: Transport) -> Option<SocketAddr> {
        self.hosts
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, a)| *a)
    }
}
