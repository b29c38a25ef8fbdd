//! The transaction table: fixed-capacity slots with O(1) lookup by key and an indexed
//! min-heap of deadlines, all inside the slots the caller provides (no other memory).
//!
//! With the `small-code` feature there is no heap: the earliest deadline is found by a scan
//! of the slots (a firmware's table has a handful), smaller in flash and slower on a large
//! table. Of several deadlines at the same instant, the scan gives the lowest slot's first
//! where the heap gives any one of them; the timers fire all the same. Nor is there a key
//! index: `find` compares the key with each slot's two (same answers; were two entries
//! filed under one key, the lowest slot's is found where the index finds the first probed).

use super::key::TransactionKey;
use crate::storage::Storage;
use crate::time::Instant;

const NONE: u32 = u32::MAX;
/// Key-index cells per slot: up to two keys per transaction at load factor ≤ 0.5.
#[cfg(not(feature = "small-code"))]
const CELLS: usize = 4;

/// A handle to a table entry; stale handles (to a freed and reused slot) are detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

/// One slot of the table. Create them with `Slot::default()` and hand
/// a slice of them to the endpoint; the slice's length is the transaction capacity.
#[derive(Clone, Debug)]
pub struct Slot<T> {
    value: Option<T>,
    keys: [u64; 2],
    gen: u32,
    next_free: u32,
    #[cfg(not(feature = "small-code"))]
    cells: [u32; CELLS],
    deadline: Option<Instant>,
    /// This slot's position in the heap (NONE if not queued).
    #[cfg(not(feature = "small-code"))]
    heap_pos: u32,
    /// The slot index at heap position `self's index` (the heap array, stored in the slots).
    #[cfg(not(feature = "small-code"))]
    heap_item: u32,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: None,
            keys: [0; 2],
            gen: 0,
            next_free: NONE,
            #[cfg(not(feature = "small-code"))]
            cells: [NONE; CELLS],
            deadline: None,
            #[cfg(not(feature = "small-code"))]
            heap_pos: NONE,
            #[cfg(not(feature = "small-code"))]
            heap_item: NONE,
        }
    }
}

/// The table is full: answer 503 (§21.5.4) or report an error; never grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableFull;

/// Fixed-capacity table of `T` keyed by [`TransactionKey`].
#[derive(Debug)]
pub struct Table<'s, T> {
    slots: Storage<'s, Slot<T>>,
    free_head: u32,
    len: usize,
    #[cfg(not(feature = "small-code"))]
    heap_len: usize,
}

impl<'s, T> Table<'s, T> {
    /// A table over `slots`, all of which must be empty (as from `Slot::default()`).
    pub fn new(slots: impl Into<Storage<'s, Slot<T>>>) -> Self {
        let mut slots = slots.into();
        // Cells hold `slot << 1 | which`, so slot indices stay below 2^31.
        let n = slots.len().min((NONE >> 2) as usize);
        for (i, s) in slots.iter_mut().enumerate() {
            s.value = None;
            #[cfg(not(feature = "small-code"))]
            {
                s.cells = [NONE; CELLS];
                s.heap_pos = NONE;
                s.heap_item = NONE;
            }
            s.deadline = None;
            s.next_free = if i + 1 < n { (i + 1) as u32 } else { NONE };
        }
        Table {
            free_head: if n > 0 { 0 } else { NONE },
            slots,
            len: 0,
            #[cfg(not(feature = "small-code"))]
            heap_len: 0,
        }
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[cfg(not(feature = "small-code"))]
    fn cell_count(&self) -> usize {
        self.slots.len() * CELLS
    }

    #[cfg(not(feature = "small-code"))]
    fn cell(&self, c: usize) -> u32 {
        self.slots[c / CELLS].cells[c % CELLS]
    }

    #[cfg(not(feature = "small-code"))]
    fn set_cell(&mut self, c: usize, v: u32) {
        self.slots[c / CELLS].cells[c % CELLS] = v;
    }

    #[cfg(not(feature = "small-code"))]
    fn home(&self, key: u64) -> usize {
        let n = self.cell_count();
        // The key folded to 32 bits when the cell count fits them (always, on a 32-bit core,
        // where a 64-bit remainder is a library call).
        match u32::try_from(n) {
            Ok(n) => ((key as u32 ^ (key >> 32) as u32) % n) as usize,
            Err(_) => (key % n as u64) as usize,
        }
    }

    /// Inserts `value` under `key`.
    pub fn insert(&mut self, key: TransactionKey, value: T) -> Result<SlotId, TableFull> {
        if self.free_head == NONE {
            return Err(TableFull);
        }
        let index = self.free_head;
        let slot = &mut self.slots[index as usize];
        self.free_head = slot.next_free;
        slot.value = Some(value);
        slot.keys = [key.0, 0];
        slot.gen = slot.gen.wrapping_add(1);
        slot.deadline = None;
        let gen = slot.gen;
        self.len += 1;
        self.index_insert(key.0, index);
        Ok(SlotId { index, gen })
    }

    /// Adds a second key under which `id` is found (at most one alias).
    pub fn add_alias(&mut self, id: SlotId, key: TransactionKey) {
        if self.get(id).is_none() || key.0 == 0 || self.slots[id.index as usize].keys[0] == key.0 {
            return;
        }
        let old = self.slots[id.index as usize].keys[1];
        if old != 0 {
            self.index_remove(old, id.index);
        }
        self.slots[id.index as usize].keys[1] = key.0;
        self.index_insert(key.0, id.index);
    }

    /// The key a cell's entry was filed under: cells hold `slot << 1 | which key`.
    #[cfg(not(feature = "small-code"))]
    fn cell_key(&self, v: u32) -> u64 {
        self.slots[(v >> 1) as usize].keys[(v & 1) as usize]
    }

    #[cfg(not(feature = "small-code"))]
    fn index_insert(&mut self, key: u64, index: u32) {
        let which = u32::from(self.slots[index as usize].keys[1] == key && key != 0);
        let n = self.cell_count();
        let mut c = self.home(key);
        // Load factor ≤ 0.5 (two keys per slot, four cells per slot): a free cell exists.
        for _ in 0..n {
            if self.cell(c) == NONE {
                self.set_cell(c, index << 1 | which);
                return;
            }
            c = (c + 1) % n;
        }
    }

    #[cfg(not(feature = "small-code"))]
    fn index_remove(&mut self, key: u64, index: u32) {
        let n = self.cell_count();
        let mut c = self.home(key);
        let mut found = None;
        for _ in 0..n {
            match self.cell(c) {
                NONE => break,
                v if v >> 1 == index && self.cell_key(v) == key => {
                    found = Some(c);
                    break;
                }
                _ => {}
            }
            c = (c + 1) % n;
        }
        let Some(mut hole) = found else { return };
        self.set_cell(hole, NONE);
        // Backward-shift deletion (linear probing): an entry later in the cluster moves into
        // the hole unless its home lies cyclically in (hole, j].
        let mut j = (hole + 1) % n;
        loop {
            let v = self.cell(j);
            if v == NONE {
                break;
            }
            let h = self.home(self.cell_key(v));
            let stays = if hole <= j {
                h > hole && h <= j
            } else {
                h > hole || h <= j
            };
            if !stays {
                self.set_cell(hole, v);
                self.set_cell(j, NONE);
                hole = j;
            }
            j = (j + 1) % n;
        }
    }

    /// Finds the entry with this key.
    #[cfg(not(feature = "small-code"))]
    pub fn find(&self, key: TransactionKey) -> Option<SlotId> {
        let n = self.cell_count();
        if n == 0 {
            return None;
        }
        let mut c = self.home(key.0);
        for _ in 0..n {
            match self.cell(c) {
                NONE => return None,
                v => {
                    let s = &self.slots[(v >> 1) as usize];
                    if s.value.is_some() && self.cell_key(v) == key.0 {
                        return Some(SlotId {
                            index: v >> 1,
                            gen: s.gen,
                        });
                    }
                }
            }
            c = (c + 1) % n;
        }
        None
    }

    /// Finds the entry with this key (feature `small-code`: a scan of the slots' keys; a
    /// second key of 0 is no alias).
    #[cfg(feature = "small-code")]
    pub fn find(&self, key: TransactionKey) -> Option<SlotId> {
        let k = key.0;
        self.slots
            .iter()
            .enumerate()
            .find(|(_, s)| s.value.is_some() && (s.keys[0] == k || (k != 0 && s.keys[1] == k)))
            .map(|(i, s)| SlotId {
                index: i as u32,
                gen: s.gen,
            })
    }

    /// Feature `small-code`: no index to update; `find` reads the slots' keys.
    #[cfg(feature = "small-code")]
    fn index_insert(&mut self, _key: u64, _index: u32) {}

    /// Feature `small-code`: no index to update.
    #[cfg(feature = "small-code")]
    fn index_remove(&mut self, _key: u64, _index: u32) {}

    /// The entry, if the handle is current.
    #[cfg_attr(feature = "small-code", inline(never))]
    pub fn get(&self, id: SlotId) -> Option<&T> {
        let s = self.slots.get(id.index as usize)?;
        if s.gen == id.gen {
            s.value.as_ref()
        } else {
            None
        }
    }

    /// The entry, mutably, if the handle is current.
    #[cfg_attr(feature = "small-code", inline(never))]
    pub fn get_mut(&mut self, id: SlotId) -> Option<&mut T> {
        let s = self.slots.get_mut(id.index as usize)?;
        if s.gen == id.gen {
            s.value.as_mut()
        } else {
            None
        }
    }

    /// Removes the entry, freeing its slot.
    pub fn remove(&mut self, id: SlotId) -> Option<T> {
        self.get(id)?;
        self.set_deadline(id, None);
        let keys = self.slots[id.index as usize].keys;
        for k in keys.into_iter().filter(|&k| k != 0) {
            self.index_remove(k, id.index);
        }
        let slot = &mut self.slots[id.index as usize];
        let value = slot.value.take();
        slot.keys = [0; 2];
        slot.next_free = self.free_head;
        self.free_head = id.index;
        self.len -= 1;
        value
    }

    /// Every live entry, for inspection.
    pub fn iter(&self) -> impl Iterator<Item = (SlotId, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.value.as_ref().map(|v| {
                (
                    SlotId {
                        index: i as u32,
                        gen: s.gen,
                    },
                    v,
                )
            })
        })
    }

    /// Sets (or clears) the entry's deadline.
    #[cfg(not(feature = "small-code"))]
    pub fn set_deadline(&mut self, id: SlotId, deadline: Option<Instant>) {
        if self.get(id).is_none() {
            return;
        }
        let i = id.index as usize;
        let old = self.slots[i].deadline;
        if old == deadline {
            return;
        }
        self.slots[i].deadline = deadline;
        let pos = self.slots[i].heap_pos;
        match (pos == NONE, deadline) {
            (true, None) => {}
            (true, Some(_)) => {
                let p = self.heap_len;
                self.heap_len += 1;
                self.heap_set(p, i as u32);
                self.sift_up(p);
            }
            (false, None) => self.heap_remove(pos as usize),
            (false, Some(d)) => {
                let p = pos as usize;
                if old.is_some_and(|o| d < o) {
                    self.sift_up(p);
                } else {
                    self.sift_down(p);
                }
            }
        }
    }

    /// The earliest deadline of any entry.
    #[cfg(not(feature = "small-code"))]
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.heap_len == 0 {
            return None;
        }
        let top = self.slots[0].heap_item as usize;
        self.slots[top].deadline
    }

    /// An entry whose deadline is at or before `now`, if any (its deadline stays set: the
    /// caller fires it and sets the next one).
    #[cfg(not(feature = "small-code"))]
    pub fn due(&self, now: Instant) -> Option<SlotId> {
        let d = self.next_deadline()?;
        if d > now {
            return None;
        }
        let top = self.slots[0].heap_item;
        Some(SlotId {
            index: top,
            gen: self.slots[top as usize].gen,
        })
    }

    #[cfg(not(feature = "small-code"))]
    fn key_at(&self, p: usize) -> Option<Instant> {
        self.slots[self.slots[p].heap_item as usize].deadline
    }

    #[cfg(not(feature = "small-code"))]
    fn heap_set(&mut self, p: usize, item: u32) {
        self.slots[p].heap_item = item;
        self.slots[item as usize].heap_pos = p as u32;
    }

    #[cfg(not(feature = "small-code"))]
    fn heap_swap(&mut self, a: usize, b: usize) {
        let ia = self.slots[a].heap_item;
        let ib = self.slots[b].heap_item;
        self.heap_set(a, ib);
        self.heap_set(b, ia);
    }

    #[cfg(not(feature = "small-code"))]
    fn sift_up(&mut self, mut p: usize) {
        while p > 0 {
            let parent = (p - 1) / 2;
            if self.key_at(p) < self.key_at(parent) {
                self.heap_swap(p, parent);
                p = parent;
            } else {
                break;
            }
        }
    }

    #[cfg(not(feature = "small-code"))]
    fn sift_down(&mut self, mut p: usize) {
        loop {
            let l = 2 * p + 1;
            let r = l + 1;
            let mut m = p;
            if l < self.heap_len && self.key_at(l) < self.key_at(m) {
                m = l;
            }
            if r < self.heap_len && self.key_at(r) < self.key_at(m) {
                m = r;
            }
            if m == p {
                break;
            }
            self.heap_swap(p, m);
            p = m;
        }
    }

    #[cfg(not(feature = "small-code"))]
    fn heap_remove(&mut self, p: usize) {
        let last = self.heap_len - 1;
        let item = self.slots[p].heap_item;
        if p != last {
            self.heap_swap(p, last);
        }
        self.heap_len -= 1;
        self.slots[item as usize].heap_pos = NONE;
        self.slots[last].heap_item = NONE;
        if p < self.heap_len {
            self.sift_up(p);
            self.sift_down(p);
        }
    }

    /// Sets (or clears) the entry's deadline (feature `small-code`: kept in its slot only).
    #[cfg(feature = "small-code")]
    pub fn set_deadline(&mut self, id: SlotId, deadline: Option<Instant>) {
        if self.get(id).is_none() {
            return;
        }
        if let Some(s) = self.slots.get_mut(id.index as usize) {
            s.deadline = deadline;
        }
    }

    /// The slot with the earliest deadline and that deadline (feature `small-code`: a scan;
    /// of equal deadlines, the lowest slot's). Only live entries have one: `insert` starts
    /// without, `remove` clears it.
    #[cfg(feature = "small-code")]
    fn earliest(&self) -> Option<(usize, Instant)> {
        let mut best: Option<(usize, Instant)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(d) = s.deadline {
                if best.is_none_or(|(_, b)| d < b) {
                    best = Some((i, d));
                }
            }
        }
        best
    }

    /// The earliest deadline of any entry.
    #[cfg(feature = "small-code")]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.earliest().map(|(_, d)| d)
    }

    /// An entry whose deadline is at or before `now`, if any (its deadline stays set: the
    /// caller fires it and sets the next one).
    #[cfg(feature = "small-code")]
    pub fn due(&self, now: Instant) -> Option<SlotId> {
        let (i, d) = self.earliest()?;
        let s = self.slots.get(i)?;
        (d <= now).then_some(SlotId {
            index: i as u32,
            gen: s.gen,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    fn table(n: usize) -> Vec<Slot<u32>> {
        (0..n).map(|_| Slot::default()).collect()
    }

    #[test]
    fn insert_find_remove_full() {
        let mut slots = table(4);
        let mut t = Table::new(&mut slots[..]);
        let ids: Vec<_> = (1..=4u64)
            .map(|k| t.insert(TransactionKey(k * 7), k as u32).unwrap())
            .collect();
        assert_eq!(t.insert(TransactionKey(99), 0), Err(TableFull));
        for (k, id) in (1..=4u64).zip(&ids) {
            assert_eq!(t.find(TransactionKey(k * 7)), Some(*id));
        }
        assert_eq!(t.remove(ids[1]), Some(2));
        assert_eq!(t.get(ids[1]), None, "stale handle");
        assert_eq!(t.find(TransactionKey(14)), None);
        let again = t.insert(TransactionKey(14), 20).unwrap();
        assert_eq!(again.index, ids[1].index);
        assert_ne!(again.gen, ids[1].gen);
        assert_eq!(t.get(ids[1]), None);
        assert_eq!(t.get(again), Some(&20));
    }

    /// Random operations against a model: lookups, aliases and deadlines stay consistent.
    #[test]
    fn model_check() {
        let mut rng = crate::rand::Rng::new(3);
        let mut slots = table(16);
        let mut t = Table::new(&mut slots[..]);
        let mut model: BTreeMap<u64, (SlotId, Option<u64>)> = BTreeMap::new();
        for step in 0..20_000u64 {
            let r = rng.next_u64();
            let key = 1 + (r % 64) * 3; // small key space: collisions in the index
            match (r >> 8) % 4 {
                0 if !model.contains_key(&key) => match t.insert(TransactionKey(key), key as u32) {
                    Ok(id) => {
                        model.insert(key, (id, None));
                    }
                    Err(TableFull) => assert_eq!(model.len(), 16),
                },
                1 => {
                    if let Some((id, _)) = model.remove(&key) {
                        assert_eq!(t.remove(id), Some(key as u32));
                    }
                }
                2 => {
                    if let Some((id, d)) = model.get_mut(&key) {
                        let nd = ((r >> 16) % 3 != 0).then_some((r >> 20) % 1000);
                        *d = nd;
                        t.set_deadline(*id, nd.map(Instant::from_millis));
                    }
                }
                _ => {}
            }
            for (k, (id, _)) in &model {
                assert_eq!(t.find(TransactionKey(*k)), Some(*id), "step {step}");
            }
            let want = model
                .values()
                .filter_map(|(_, d)| *d)
                .min()
                .map(Instant::from_millis);
            assert_eq!(t.next_deadline(), want, "step {step}");
            assert_eq!(t.len(), model.len());
        }
    }

    #[test]
    fn aliases() {
        let mut slots = table(2);
        let mut t = Table::new(&mut slots[..]);
        let id = t.insert(TransactionKey(5), 1).unwrap();
        t.add_alias(id, TransactionKey(9));
        assert_eq!(t.find(TransactionKey(9)), Some(id));
        t.remove(id);
        assert_eq!(t.find(TransactionKey(9)), None);
        assert_eq!(t.find(TransactionKey(5)), None);
    }
}
