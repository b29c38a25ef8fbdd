//! An in-memory location service for a server (RFC 3261 §10.3, §16.5): bindings in a hash
//! table keyed by canonical address-of-record, with a bounded total, shared by the
//! registrar (which writes) and the proxy (which reads) behind an `RwLock`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::{Arc, RwLock};

use sipwire_core::message::Uri;
use sipwire_core::proxy::{targets_from, Locator, Target, MAX_BRANCHES};
use sipwire_core::registrar::{Binding, Change, LocationError, LocationService};
use sipwire_core::time::Instant;
use sipwire_core::transport::Transport;

/// One binding as stored: owned text, the numbers of [`Binding`].
#[derive(Clone, Debug)]
struct Stored {
    contact: String,
    call_id: String,
    instance: Option<String>,
    cseq: u32,
    q: Option<u16>,
    expires_at: Instant,
}

impl Stored {
    fn from_binding(b: &Binding<'_>) -> Stored {
        Stored {
            contact: b.contact.to_owned(),
            call_id: b.call_id.to_owned(),
            instance: b.instance.map(str::to_owned),
            cseq: b.cseq,
            q: b.q,
            expires_at: b.expires_at,
        }
    }

    fn view<'a>(&'a self, aor: &'a [u8]) -> Binding<'a> {
        Binding {
            aor,
            contact: &self.contact,
            call_id: &self.call_id,
            cseq: self.cseq,
            q: self.q,
            expires_at: self.expires_at,
            instance: self.instance.as_deref(),
        }
    }
}

/// Whether a stored contact is the one `uri` names (§19.1.4; text equality if the stored
/// one does not parse).
fn same_contact(stored: &str, uri: &Uri<'_>) -> bool {
    match Uri::parse(stored.as_bytes()) {
        Ok(u) => u.equivalent(uri),
        Err(_) => stored == uri.raw(),
    }
}

/// A [`LocationService`] in a hash table: lookups by address-of-record in constant time,
/// expiry from a heap of deadlines, at most `capacity` bindings in all (a full table is
/// [`LocationError::Full`], which the registrar answers 503).
#[derive(Debug)]
pub struct MemoryLocation {
    by_aor: HashMap<Box<[u8]>, Vec<Stored>>,
    len: usize,
    capacity: usize,
    /// (deadline, address-of-record): a binding may lapse then. Refreshes leave stale
    /// entries, which [`LocationService::expire`] skips; the heap is rebuilt when they pile
    /// up.
    deadlines: BinaryHeap<Reverse<(Instant, Box<[u8]>)>>,
}

impl MemoryLocation {
    /// An empty location service for at most `capacity` bindings.
    pub fn new(capacity: usize) -> MemoryLocation {
        MemoryLocation {
            by_aor: HashMap::new(),
            len: 0,
            capacity,
            deadlines: BinaryHeap::new(),
        }
    }

    /// Addresses-of-record with at least one binding held.
    pub fn aors(&self) -> usize {
        self.by_aor.len()
    }

    fn rebuild_deadlines(&mut self) {
        self.deadlines = self
            .by_aor
            .iter()
            .filter_map(|(aor, v)| {
                let first = v.iter().map(|s| s.expires_at).min()?;
                Some(Reverse((first, aor.clone())))
            })
            .collect();
    }
}

impl LocationService for MemoryLocation {
    fn visit<'a>(
        &'a self,
        aor: &[u8],
        now: Instant,
        f: &mut dyn FnMut(Binding<'a>) -> ControlFlow<()>,
    ) {
        let Some((key, list)) = self.by_aor.get_key_value(aor) else {
            return;
        };
        for s in list.iter().filter(|s| s.expires_at > now) {
            if f(s.view(key)).is_break() {
                return;
            }
        }
    }

    fn apply(&mut self, aor: &[u8], changes: &[Change<'_>]) -> Result<(), LocationError> {
        // Work on a copy and commit it only if every change applies (§10.3 step 7).
        let old = self.by_aor.get(aor);
        let old_len = old.map_or(0, Vec::len);
        let mut list = old.cloned().unwrap_or_default();
        for c in changes {
            match c {
                Change::Upsert(b) => {
                    if b.aor != aor {
                        return Err(LocationError::Invalid);
                    }
                    let uri =
                        Uri::parse(b.contact.as_bytes()).map_err(|_| LocationError::Invalid)?;
                    let stored = Stored::from_binding(b);
                    match list.iter_mut().find(|s| same_contact(&s.contact, &uri)) {
                        Some(s) => *s = stored,
                        None => list.push(stored),
                    }
                }
                Change::Remove { contact } => {
                    let uri = Uri::parse(contact.as_bytes()).map_err(|_| LocationError::Invalid)?;
                    list.retain(|s| !same_contact(&s.contact, &uri));
                }
                Change::RemoveAll => list.clear(),
            }
        }
        let after = self.len - old_len + list.len();
        if after > self.capacity && list.len() > old_len {
            return Err(LocationError::Full);
        }
        self.len = after;
        if list.is_empty() {
            self.by_aor.remove(aor);
            return Ok(());
        }
        let first = list.iter().map(|s| s.expires_at).min();
        let key: Box<[u8]> = aor.into();
        if let Some(first) = first {
            self.deadlines.push(Reverse((first, key.clone())));
        }
        self.by_aor.insert(key, list);
        if self.deadlines.len() > 4 * self.by_aor.len() + 1024 {
            self.rebuild_deadlines();
        }
        Ok(())
    }

    fn expire(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        while let Some(Reverse((at, _))) = self.deadlines.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, aor))) = self.deadlines.pop() else {
                break;
            };
            let Some(list) = self.by_aor.get_mut(&aor) else {
                continue;
            };
            let before = list.len();
            list.retain(|s| s.expires_at > now);
            let gone = before - list.len();
            dropped += gone;
            self.len -= gone;
            match list.iter().map(|s| s.expires_at).min() {
                // The next deadline of what is left.
                Some(next) if gone > 0 => self.deadlines.push(Reverse((next, aor))),
                Some(_) => {}
                None => {
                    self.by_aor.remove(&aor);
                }
            }
        }
        dropped
    }

    fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The location service as the proxy and registrar share it.
pub type SharedLocation = Arc<RwLock<MemoryLocation>>;

/// The proxy's [`Locator`] over a [`SharedLocation`] and a static table of host names
/// (names it does not know are resolved by the event loop, off the loop's thread).
#[derive(Clone, Debug)]
pub struct ServerLocator {
    /// The bindings the registrar keeps.
    pub location: SharedLocation,
    /// Host name → address, looked up before DNS.
    pub hosts: Arc<Vec<(String, SocketAddr)>>,
}

impl Locator for ServerLocator {
    fn targets(
        &mut self,
        now: Instant,
        uri: &Uri<'_>,
        out: &mut [Option<Target>; MAX_BRANCHES],
    ) -> usize {
        match self.location.read() {
            Ok(store) => targets_from(&*store, now, uri, out),
            Err(_) => 0,
        }
    }

    fn resolve(&mut self, host: &str, _port: Option<u16>, _t: Transport) -> Option<SocketAddr> {
        self.hosts
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(host))
            .map(|(_, a)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(aor: &'a [u8], contact: &'a str, secs: u64) -> Binding<'a> {
        Binding {
            aor,
            contact,
            call_id: "c1",
            cseq: 1,
            q: None,
            expires_at: Instant::from_millis(secs * 1000),
            instance: None,
        }
    }

    #[test]
    fn upsert_lookup_refresh_expire() {
        let mut m = MemoryLocation::new(10);
        let aor = b"sip:alice@localhost";
        m.update(&binding(aor, "sip:alice@192.0.2.1", 60)).unwrap();
        m.update(&binding(aor, "sip:alice@192.0.2.2", 120)).unwrap();
        // An equivalent contact (§19.1.4: host case-insensitive) replaces, not adds.
        m.update(&binding(aor, "SIP:alice@192.0.2.1", 90)).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.lookup(aor, Instant::ZERO, &mut [Binding::EMPTY; 4]), 2);
        assert_eq!(m.expire(Instant::from_millis(100_000)), 1);
        let mut out = [Binding::EMPTY; 4];
        assert_eq!(m.lookup(aor, Instant::from_millis(100_000), &mut out), 1);
        assert_eq!(out[0].contact, "sip:alice@192.0.2.2");
        assert_eq!(m.expire(Instant::from_millis(200_000)), 1);
        assert!(m.is_empty());
        assert_eq!(m.aors(), 0);
    }

    #[test]
    fn full_is_an_error_and_changes_nothing() {
        let mut m = MemoryLocation::new(1);
        m.update(&binding(b"sip:a@x", "sip:a@192.0.2.1", 60))
            .unwrap();
        assert_eq!(
            m.update(&binding(b"sip:b@x", "sip:b@192.0.2.1", 60)),
            Err(LocationError::Full)
        );
        // A refresh of what is held still fits.
        m.update(&binding(b"sip:a@x", "sip:a@192.0.2.1", 90))
            .unwrap();
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn batch_is_atomic() {
        let mut m = MemoryLocation::new(10);
        let aor = b"sip:a@x";
        let good = binding(aor, "sip:a@192.0.2.1", 60);
        let bad = binding(b"sip:other@x", "sip:a@192.0.2.2", 60);
        assert_eq!(
            m.apply(aor, &[Change::Upsert(good), Change::Upsert(bad)]),
            Err(LocationError::Invalid)
        );
        assert!(m.is_empty());
        m.apply(aor, &[Change::Upsert(good), Change::RemoveAll])
            .unwrap();
        assert!(m.is_empty());
    }
}
