//! The location service (RFC 3261 §10, §10.3): bindings from an address-of-record to contact
//! addresses, behind the [`LocationService`] trait, with [`BindingStore`], a bounded
//! implementation over fixed storage.
//!
//! A binding is keyed by the canonical form of its address-of-record ([`canonical_aor`],
//! §10.3 step 5) and by its contact URI, compared by the rules of §19.1.4: one address-of-record
//! holds at most one binding per equivalent contact URI. Time is the core's clock: every
//! binding carries the [`Instant`] it expires at, and [`LocationService::expire`] drops the
//! ones whose time has come. Nothing reads a wall clock.

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::ops::ControlFlow;

use super::BINDING_TEXT;
use crate::dialog::{Span, TextBuf};
use crate::message::{Host, Scheme, Uri, Writer};
use crate::storage::Storage;
use crate::time::{Duration, Instant};

/// One binding as the location service holds it (§10.3 step 7: "Each binding record records
/// the Call-ID and CSeq values from the request").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The address-of-record, canonical ([`canonical_aor`]).
    pub aor: &'a [u8],
    /// The contact URI as the REGISTER carried it (without `<>` or header parameters).
    pub contact: &'a str,
    /// The Call-ID of the REGISTER that last added or refreshed it.
    pub call_id: &'a str,
    /// The CSeq number of that REGISTER.
    pub cseq: u32,
    /// The `q` preference in thousandths (`q=0.7` is 700, §20.10); `None` if not given.
    pub q: Option<u16>,
    /// When the binding lapses.
    pub expires_at: Instant,
    /// The Contact's `+sip.instance` parameter as written (quotes included), if any
    /// (RFC 5626 §4.1); stored and listed back, not otherwise interpreted.
    pub instance: Option<&'a str>,
}

impl<'a> Binding<'a> {
    /// A binding with empty text, expired at the epoch: a filler for arrays.
    pub const EMPTY: Binding<'static> = Binding {
        aor: b"",
        contact: "",
        call_id: "",
        cseq: 0,
        q: None,
        expires_at: Instant::ZERO,
        instance: None,
    };

    /// Whole seconds left at `now`, rounded up (a binding that is still live never reads as
    /// 0, which would mean "removed"); 0 once expired.
    pub fn expires_in(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_since(now);
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    /// Whether the binding is still in force at `now`.
    pub fn is_live(&self, now: Instant) -> bool {
        self.expires_at > now
    }

    /// The contact URI, parsed; `None` if it does not parse (never for a binding the
    /// registrar stored, which parsed it on the way in).
    pub fn uri(&self) -> Option<Uri<'a>> {
        Uri::parse(self.contact.as_bytes()).ok()
    }

    /// The `q` value used to order bindings (§16.6, §8.1.3.4): a binding without one ranks
    /// as `q=1.0`. RFC 3261 defines no default; 1.0 is the HTTP default (RFC 2616 §14.1)
    /// that the `qvalue` grammar comes from.
    pub fn rank(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

/// One change to the bindings of an address-of-record, for [`LocationService::apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<'a> {
    /// Add the binding, or replace the one whose contact URI is equivalent (§19.1.4).
    Upsert(Binding<'a>),
    /// Remove the binding whose contact URI is equivalent to this one, if there is one.
    Remove {
        /// The contact URI.
        contact: &'a str,
    },
    /// Remove every binding of the address-of-record.
    RemoveAll,
}

/// Why the location service refused a change. Nothing was changed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocationError {
    /// No room for another binding (the registrar answers 503 with Retry-After).
    Full,
    /// A binding's text (address-of-record, contact URI, Call-ID, instance) is longer than a
    /// binding can hold ([`BINDING_TEXT`] bytes in [`BindingStore`]).
    TooLong,
    /// A change is malformed: a contact URI that does not parse, or a binding for another
    /// address-of-record than the one the batch is for.
    Invalid,
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LocationError::Full => "location service full",
            LocationError::TooLong => "binding too long for the location service",
            LocationError::Invalid => "malformed binding change",
        })
    }
}

impl core::error::Error for LocationError {}

/// Where bindings live: the registrar writes them, proxies and redirect servers read them
/// (§10, §16.5). A server may keep them in [`BindingStore`] or anywhere else (a database,
/// a shared table) by implementing this trait.
///
/// Addresses-of-record are given in canonical form ([`canonical_aor`]) and compared byte for
/// byte; contact URIs are compared by §19.1.4.
pub trait LocationService {
    /// Calls `f` with every binding of `aor` that is live at `now`, until `f` breaks.
    fn visit<'a>(
        &'a self,
        aor: &[u8],
        now: Instant,
        f: &mut dyn FnMut(Binding<'a>) -> ControlFlow<()>,
    );

    /// Applies `changes` to the bindings of `aor` atomically (§10.3 step 7: committed "if
    /// and only if all binding updates and additions succeed"): either all of them, in
    /// order (a later change to the same contact wins), or none and an error.
    /// [`Change::Upsert`] bindings must have `aor` as their address-of-record.
    fn apply(&mut self, aor: &[u8], changes: &[Change<'_>]) -> Result<(), LocationError>;

    /// Drops every binding whose time has come at `now`; returns how many.
    fn expire(&mut self, now: Instant) -> usize;

    /// Bindings held (including expired ones not yet dropped by [`expire`](Self::expire)).
    fn len(&self) -> usize;

    /// The most bindings it can hold.
    fn capacity(&self) -> usize;

    /// Whether no binding is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the live bindings of `aor` into `out`, in the order [`visit`](Self::visit)
    /// gives them, and returns how many there are (possibly more than `out` holds: only the
    /// first `out.len()` are copied).
    fn lookup<'a>(&'a self, aor: &[u8], now: Instant, out: &mut [Binding<'a>]) -> usize {
        let mut n = 0;
        self.visit(aor, now, &mut |b| {
            if let Some(slot) = out.get_mut(n) {
                *slot = b;
            }
            n += 1;
            ControlFlow::Continue(())
        });
        n
    }

    /// The live binding of `aor` whose contact URI is equivalent to `contact` (§19.1.4).
    fn find<'a>(&'a self, aor: &[u8], contact: &Uri<'_>, now: Instant) -> Option<Binding<'a>> {
        let mut found = None;
        self.visit(aor, now, &mut |b| {
            if b.uri().is_some_and(|u| u.equivalent(contact)) {
                found = Some(b);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        found
    }

    /// Adds or replaces one binding (see [`Change::Upsert`]).
    fn update(&mut self, binding: &Binding<'_>) -> Result<(), LocationError> {
        self.apply(binding.aor, &[Change::Upsert(*binding)])
    }

    /// Removes the binding of `aor` whose contact URI is equivalent to `contact`; returns
    /// whether there was one live at `now`.
    fn remove(&mut self, aor: &[u8], contact: &str, now: Instant) -> Result<bool, LocationError> {
        let uri = Uri::parse(contact.as_bytes()).map_err(|_| LocationError::Invalid)?;
        let existed = self.find(aor, &uri, now).is_some();
        self.apply(aor, &[Change::Remove { contact }])?;
        Ok(existed)
    }

    /// Removes every binding of `aor`; returns how many were live at `now`.
    fn remove_all(&mut self, aor: &[u8], now: Instant) -> Result<usize, LocationError> {
        let mut n = 0;
        self.visit(aor, now, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        self.apply(aor, &[Change::RemoveAll])?;
        Ok(n)
    }
}

/// Fills `out` with the live bindings of `aor`, highest `q` first ([`Binding::rank`]), equal
/// `q` in the order the service gives them; returns how many were written. When there are
/// more than `out` holds, the ones with the highest `q` are kept. Bindings for which
/// `skip` is true are left out.
pub fn by_preference<'a, L: LocationService + ?Sized>(
    store: &'a L,
    aor: &[u8],
    now: Instant,
    skip: &mut dyn FnMut(&Binding<'a>) -> bool,
    out: &mut [Binding<'a>],
) -> usize {
    let mut len = 0;
    store.visit(aor, now, &mut |b| {
        if !skip(&b) {
            len = insert_ranked(out, len, b, Binding::rank);
        }
        ControlFlow::Continue(())
    });
    len
}

/// Inserts `item` into the first `len` elements of `out`, which are sorted by `rank`
/// descending, after every element of equal rank (a stable order); drops the last element
/// if `out` is full, or `item` itself if it ranks below all of them. Returns the new length.
pub(crate) fn insert_ranked<T: Copy>(
    out: &mut [T],
    len: usize,
    item: T,
    rank: impl Fn(&T) -> u16,
) -> usize {
    let len = len.min(out.len());
    let r = rank(&item);
    let pos = out
        .get(..len)
        .unwrap_or_default()
        .iter()
        .position(|x| rank(x) < r)
        .unwrap_or(len);
    if pos >= out.len() {
        return len;
    }
    let new_len = (len + 1).min(out.len());
    // Shift [pos, new_len - 1) right by one; the element at new_len - 1 (if any) falls off.
    if let Some(tail) = out.get_mut(pos..new_len) {
        // `rotate_right(1)` by swaps: `rotate` links `memmove` (1.5 KB on a Cortex-M), and
        // these lists are a handful of entries.
        for k in (1..tail.len()).rev() {
            tail.swap(k, k - 1);
        }
        if let Some(first) = tail.first_mut() {
            *first = item;
        }
    }
    new_len
}

/// The canonical form of an address-of-record (§10.3 step 5): every URI parameter removed
/// (the `user` parameter too), escapes decoded, and — since those compare
/// case-insensitively (§19.1.4) — the scheme and host in lower case:
/// `scheme ":" user [ ":" password ] "@" host [ ":" port ]`. The URI's headers (`?...`)
/// are dropped as well. The user part keeps its case (§19.1.4: userinfo compares
/// case-sensitively).
///
/// Only SIP and SIPS URIs are addresses-of-record here; `None` for other schemes, or when
/// `out` is too small.
///
/// ```
/// use sipwire_core::message::Uri;
/// use sipwire_core::registrar::canonical_aor;
/// let uri = Uri::parse(b"SIP:%61lice@AtLanta.Example.COM;user=phone?Subject=x").unwrap();
/// let mut buf = [0u8; 64];
/// assert_eq!(canonical_aor(&uri, &mut buf), Some(&b"sip:alice@atlanta.example.com"[..]));
/// ```
pub fn canonical_aor<'o>(uri: &Uri<'_>, out: &'o mut [u8]) -> Option<&'o [u8]> {
    let scheme: &[u8] = match uri.scheme() {
        Scheme::Sip => b"sip:",
        Scheme::Sips => b"sips:",
        _ => return None,
    };
    let host = uri.host()?;
    let mut w = Writer::new(out);
    w.put(scheme).ok()?;
    if let Some(user) = uri.user() {
        put_unescaped(&mut w, user.as_bytes())?;
        if let Some(password) = uri.password() {
            w.put(b":").ok()?;
            put_unescaped(&mut w, password.as_bytes())?;
        }
        w.put(b"@").ok()?;
    }
    match host {
        Host::Name(name) => {
            for b in name.bytes() {
                w.put(&[b.to_ascii_lowercase()]).ok()?;
            }
        }
        other => fmt::Write::write_fmt(&mut w, format_args!("{other}")).ok()?,
    }
    if let Some(port) = uri.port() {
        w.put(b":").ok()?;
        w.put_u32(u32::from(port)).ok()?;
    }
    Some(w.finish())
}

/// Writes `s` with its `%HH` escapes decoded. The URI parser validated every escape; a bad
/// one is still an error here, not a panic.
fn put_unescaped(w: &mut Writer<'_>, s: &[u8]) -> Option<()> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let c = if b == b'%' {
            let v = crate::message::lex::hex_pair(*s.get(i + 1)?, *s.get(i + 2)?)?;
            i += 3;
            v
        } else {
            i += 1;
            b
        };
        w.put(&[c]).ok()?;
    }
    Some(())
}

/// Whether `host` is one of `domains` (§10.3 step 1): names compare case-insensitively (a
/// trailing `.` ignored), addresses by value (a domain written as an IP address, IPv6 with
/// or without brackets). An empty list serves every domain.
pub fn serves_domain(domains: &[&str], host: &Host<'_>) -> bool {
    if domains.is_empty() {
        return true;
    }
    domains.iter().any(|d| match host {
        Host::Name(n) => n
            .trim_end_matches('.')
            .eq_ignore_ascii_case(d.trim_end_matches('.')),
        Host::Ipv4(a) => d.parse::<Ipv4Addr>().is_ok_and(|x| x == *a),
        Host::Ipv6(a) => d
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<Ipv6Addr>()
            .is_ok_and(|x| x == *a),
    })
}

// ---------------------------------------------------------------------------------------------
// BindingStore

/// Storage for one binding of a [`BindingStore`]: its text inline ([`BINDING_TEXT`] bytes for
/// the address-of-record, contact URI, Call-ID and instance together) and its numbers.
#[derive(Clone, Debug)]
pub struct BindingSlot {
    used: bool,
    text: TextBuf<BINDING_TEXT>,
    aor: Span,
    contact: Span,
    call_id: Span,
    instance: Option<Span>,
    cseq: u32,
    q: Option<u16>,
    expires_at: Instant,
}

impl BindingSlot {
    /// An unused slot.
    pub const EMPTY: BindingSlot = BindingSlot {
        used: false,
        text: TextBuf::new(),
        aor: Span::EMPTY,
        contact: Span::EMPTY,
        call_id: Span::EMPTY,
        instance: None,
        cseq: 0,
        q: None,
        expires_at: Instant::ZERO,
    };

    fn view(&self) -> Binding<'_> {
        Binding {
            aor: self.text.get(self.aor),
            contact: self.text.str(self.contact),
            call_id: self.text.str(self.call_id),
            cseq: self.cseq,
            q: self.q,
            expires_at: self.expires_at,
            instance: self.instance.map(|s| self.text.str(s)),
        }
    }

    /// Whether the text of `b` fits one slot.
    fn fits(b: &Binding<'_>) -> bool {
        let total =
            b.aor.len() + b.contact.len() + b.call_id.len() + b.instance.map_or(0, str::len);
        total <= BINDING_TEXT
    }

    /// Writes `b` into the slot; the caller checked [`BindingSlot::fits`].
    fn set(&mut self, b: &Binding<'_>) -> Result<(), LocationError> {
        let mut text = TextBuf::new();
        let aor = text.push(b.aor).map_err(|_| LocationError::TooLong)?;
        let contact = text
            .push(b.contact.as_bytes())
            .map_err(|_| LocationError::TooLong)?;
        let call_id = text
            .push(b.call_id.as_bytes())
            .map_err(|_| LocationError::TooLong)?;
        let instance = match b.instance {
            Some(i) => Some(
                text.push(i.as_bytes())
                    .map_err(|_| LocationError::TooLong)?,
            ),
            None => None,
        };
        *self = BindingSlot {
            used: true,
            text,
            aor,
            contact,
            call_id,
            instance,
            cseq: b.cseq,
            q: b.q,
            expires_at: b.expires_at,
        };
        Ok(())
    }
}

impl Default for BindingSlot {
    fn default() -> Self {
        BindingSlot::EMPTY
    }
}

/// Whether two contact URIs are equivalent (§19.1.4); text equality if either does not
/// parse.
fn same_contact(a: &str, b: &Uri<'_>) -> bool {
    match Uri::parse(a.as_bytes()) {
        Ok(u) => u.equivalent(b),
        Err(_) => a == b.raw(),
    }
}

/// A bounded [`LocationService`] over fixed storage: one [`BindingSlot`] per binding, found
/// by a linear scan. Suited to a device or a small server; a large registrar implements
/// [`LocationService`] over an indexed table instead.
///
/// ```
/// use sipwire_core::registrar::{Binding, BindingSlot, BindingStore, LocationService};
/// use sipwire_core::time::Instant;
/// let mut slots = [BindingSlot::EMPTY; 4];
/// let mut store = BindingStore::new(&mut slots[..]);
/// let b = Binding {
///     aor: b"sip:alice@example.com",
///     contact: "sip:alice@192.0.2.10",
///     call_id: "a84b4c76e66710",
///     cseq: 1,
///     q: None,
///     expires_at: Instant::from_millis(3_600_000),
///     instance: None,
/// };
/// store.update(&b)?;
/// let mut out = [Binding::EMPTY; 4];
/// assert_eq!(store.lookup(b"sip:alice@example.com", Instant::ZERO, &mut out), 1);
/// assert_eq!(out[0].contact, "sip:alice@192.0.2.10");
/// store.expire(Instant::from_millis(3_600_000));
/// assert!(store.is_empty());
/// # Ok::<(), sipwire_core::registrar::LocationError>(())
/// ```
#[derive(Debug)]
pub struct BindingStore<'s> {
    slots: Storage<'s, BindingSlot>,
    len: usize,
}

impl<'s> BindingStore<'s> {
    /// A store with one binding per slot; the slots are cleared.
    pub fn new(slots: impl Into<Storage<'s, BindingSlot>>) -> Self {
        let mut slots = slots.into();
        for s in slots.iter_mut() {
            s.used = false;
        }
        BindingStore { slots, len: 0 }
    }

    /// Every binding live at `now`, of every address-of-record, in slot order.
    pub fn iter(&self, now: Instant) -> impl Iterator<Item = Binding<'_>> + '_ {
        self.slots
            .iter()
            .filter(move |s| s.used && s.expires_at > now)
            .map(BindingSlot::view)
    }

    /// When the next binding lapses, for a server that wants to drop bindings on time (a
    /// lookup ignores lapsed bindings anyway).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|s| s.used)
            .map(|s| s.expires_at)
            .min()
    }

    /// The slot of `aor` whose contact is equivalent to `contact` (live or not).
    fn slot_of(&self, aor: &[u8], contact: &Uri<'_>) -> Option<usize> {
        self.slots.iter().position(|s| {
            s.used && s.text.get(s.aor) == aor && same_contact(s.text.str(s.contact), contact)
        })
    }

    fn free(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            if s.used {
                s.used = false;
                self.len = self.len.saturating_sub(1);
            }
        }
    }
}

/// The contact a change concerns, parsed; `None` for [`Change::RemoveAll`] or a URI that
/// does not parse (rejected before anything is applied).
fn change_uri<'c>(c: &Change<'c>) -> Option<Uri<'c>> {
    let text = match c {
        Change::Upsert(b) => b.contact,
        Change::Remove { contact } => contact,
        Change::RemoveAll => return None,
    };
    Uri::parse(text.as_bytes()).ok()
}

impl LocationService for BindingStore<'_> {
    fn visit<'a>(
        &'a self,
        aor: &[u8],
        now: Instant,
        f: &mut dyn FnMut(Binding<'a>) -> ControlFlow<()>,
    ) {
        for s in self.slots.iter() {
            if s.used && s.expires_at > now && s.text.get(s.aor) == aor && f(s.view()).is_break() {
                return;
            }
        }
    }

    fn apply(&mut self, aor: &[u8], changes: &[Change<'_>]) -> Result<(), LocationError> {
        // 1. Check every change before touching anything.
        for c in changes {
            if let Change::Upsert(b) = c {
                if b.aor != aor {
                    return Err(LocationError::Invalid);
                }
                if !BindingSlot::fits(b) {
                    return Err(LocationError::TooLong);
                }
            }
            if !matches!(c, Change::RemoveAll) && change_uri(c).is_none() {
                return Err(LocationError::Invalid);
            }
        }
        // 2. Which changes take effect: the last RemoveAll, and the last change to each
        //    contact after it (a later change to the same contact wins).
        let last_remove_all = changes.iter().rposition(|c| matches!(c, Change::RemoveAll));
        let effective = |i: usize| -> Option<Uri<'_>> {
            if last_remove_all.is_some_and(|r| i < r) {
                return None;
            }
            let uri = change_uri(changes.get(i)?)?;
            let later = changes.get(i + 1..).unwrap_or_default();
            let superseded = later
                .iter()
                .any(|c| change_uri(c).is_some_and(|u| u.equivalent(&uri)));
            (!superseded).then_some(uri)
        };
        // 3. Room: the number of bindings once everything is applied.
        let held = |s: &BindingSlot| s.used && s.text.get(s.aor) == aor;
        let mut after = self.len;
        if last_remove_all.is_some() {
            after = after.saturating_sub(self.slots.iter().filter(|s| held(s)).count());
        }
        for (i, c) in changes.iter().enumerate() {
            let Some(uri) = effective(i) else { continue };
            let exists = last_remove_all.is_none() && self.slot_of(aor, &uri).is_some();
            match c {
                Change::Upsert(_) if !exists => after += 1,
                Change::Remove { .. } if exists => after = after.saturating_sub(1),
                _ => {}
            }
        }
        if after > self.slots.len() {
            return Err(LocationError::Full);
        }
        // 4. Apply: removals first, so that additions find the room counted above.
        if last_remove_all.is_some() {
            for i in 0..self.slots.len() {
                if self.slots.get(i).is_some_and(held) {
                    self.free(i);
                }
            }
        }
        for (i, c) in changes.iter().enumerate() {
            if let (Change::Remove { .. }, Some(uri)) = (c, effective(i)) {
                if let Some(slot) = self.slot_of(aor, &uri) {
                    self.free(slot);
                }
            }
        }
        for (i, c) in changes.iter().enumerate() {
            let (Change::Upsert(b), Some(uri)) = (c, effective(i)) else {
                continue;
            };
            let (slot, added) = match self.slot_of(aor, &uri) {
                Some(slot) => (slot, false),
                // Step 3 counted a free slot for this addition, so there is one.
                None => match self.slots.iter().position(|s| !s.used) {
                    Some(free) => (free, true),
                    None => return Err(LocationError::Full),
                },
            };
            if let Some(s) = self.slots.get_mut(slot) {
                // `fits` was checked in step 1, so this cannot fail.
                s.set(b)?;
                if added {
                    self.len += 1;
                }
            }
        }
        Ok(())
    }

    fn expire(&mut self, now: Instant) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            if self
                .slots
                .get(i)
                .is_some_and(|s| s.used && s.expires_at <= now)
            {
                self.free(i);
                n += 1;
            }
        }
        n
    }

    fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// `now + secs` seconds.
pub(crate) fn after_secs(now: Instant, secs: u32) -> Instant {
    now + Duration::from_secs(u64::from(secs))
}
