//! NN-descent's bounded lists: for every point, the `cap` smallest distinct entries offered so
//! far, as one max-heap per point in flat arrays, shared by the threads of a round. This
//! module holds all of NN-descent's `unsafe` code.
//!
//! A heap's largest entry lives in an atomic word, read without locking to turn most offers
//! away at once; bit 63 of that word is the heap's lock, and the heap's slots are touched only
//! through [`Locked`], which holds the bit. The kept set of a heap is the `cap` smallest
//! distinct entries offered in any order, so the result does not depend on thread timing.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

/// Indices read out of a list, each with its new flag.
pub(super) type Entries = Vec<(u32, bool)>;

/// Index of an empty entry (its key is infinite).
pub(super) const EMPTY: u32 = u32::MAX;
/// Flag bit of a list entry's stamp: not yet used in a local join. The other seven bits hold
/// the round that inserted the entry.
pub(super) const NEW: u8 = 1 << 7;
/// Lock bit of a heap's `worst` word: packed keys never set bit 63 (see [`pack`]).
const LOCKED: u64 = 1 << 63;

/// An entry packed as `key bits << 32 | index`: keys are non-negative `f32`, whose bits order
/// like the values, so one integer comparison orders entries by key, then index. The sign bit
/// is cleared (a NaN sorts after every number), so bit 63 is always free.
#[inline]
fn pack(key: f32, id: u32) -> u64 {
    u64::from(key.to_bits() & !(1 << 31)) << 32 | u64::from(id)
}

/// The index of a packed entry.
#[inline]
pub(super) fn id(entry: u64) -> u32 {
    entry as u32
}

/// What a heap's slots hold and how they order: a slot's packed `(key, index)` in the heap of
/// point `owner`.
pub(super) trait SlotOrder: Sync {
    type Slot: Copy + Send + Sync;
    /// The slot of no entry; its packed key is the largest.
    const EMPTY: Self::Slot;
    fn id(slot: Self::Slot) -> u32;
    fn packed(&self, owner: u32, slot: Self::Slot) -> u64;
}

/// Slots that are packed `(distance, index)` entries themselves: the neighbour lists.
pub(super) struct ByDistance;

impl SlotOrder for ByDistance {
    type Slot = u64;
    const EMPTY: u64 = 0x7F80_0000_u64 << 32 | EMPTY as u64; // pack(f32::INFINITY, EMPTY)
    #[inline(always)]
    fn id(slot: u64) -> u32 {
        id(slot)
    }
    #[inline(always)]
    fn packed(&self, _owner: u32, slot: u64) -> u64 {
        slot
    }
}

/// Slots that are indices only, ordered by the seeded priority of the pair `{owner, index}`
/// in one round, recomputed whenever compared: a slot takes four bytes where a packed key
/// would take eight (at a million points and 60 candidates, 480 MB instead of 960 MB for the
/// two candidate lists), and the kept sets are those of the packed order.
pub(super) struct ByPriority {
    salt: u64,
}

impl SlotOrder for ByPriority {
    type Slot = u32;
    const EMPTY: u32 = EMPTY;
    #[inline(always)]
    fn id(slot: u32) -> u32 {
        slot
    }
    #[inline(always)]
    fn packed(&self, owner: u32, slot: u32) -> u64 {
        if slot == EMPTY {
            ByDistance::EMPTY
        } else {
            pack(priority(self.salt, owner, slot), slot)
        }
    }
}

/// The seeded priority of the pair `{a, b}` in the round of `salt`, the same from both ends.
#[inline(always)]
fn priority(salt: u64, a: u32, b: u32) -> f32 {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    (super::mix(salt ^ (u64::from(a) << 32 | u64::from(b))) >> 40) as f32
}

/// `n` bounded max-heaps of `cap` slots each, in one flat array of slots and one of stamps
/// (`S = ()` for none), with each heap's largest packed key, and its lock bit, in `worst`.
pub(super) struct BoundedHeaps<O: SlotOrder, S> {
    cap: usize,
    order: O,
    slots: Box<[UnsafeCell<O::Slot>]>,
    stamps: Box<[UnsafeCell<S>]>,
    worst: Box<[AtomicU64]>,
}

// SAFETY: the cells of heap `i` are read and written only through a `Locked` guard, which
// holds heap `i`'s lock bit (acquire on taking, release on dropping), or through `&mut self`.
unsafe impl<O: SlotOrder, S: Send> Sync for BoundedHeaps<O, S> {}

/// The neighbour lists: packed `(distance, index)` entries stamped with the round that
/// inserted them and the [`NEW`] flag.
pub(super) type Lists = BoundedHeaps<ByDistance, u8>;
/// The sampled candidates of a round: indices by seeded priority.
pub(super) type Candidates = BoundedHeaps<ByPriority, ()>;

/// Heap `owner` of a [`BoundedHeaps`], locked until dropped; dropping publishes its new
/// largest key.
pub(super) struct Locked<'a, O: SlotOrder, S> {
    order: &'a O,
    owner: u32,
    worst: &'a AtomicU64,
    pub slots: &'a mut [O::Slot],
    pub stamps: &'a mut [S],
}

impl<O: SlotOrder, S> Drop for Locked<'_, O, S> {
    fn drop(&mut self) {
        self.worst.store(self.order.packed(self.owner, self.slots[0]), Ordering::Release);
    }
}

impl<O: SlotOrder, S> Locked<'_, O, S> {
    /// Puts `slot` (packed key `key`) with `stamp` in place of the largest entry if it is
    /// smaller and not present; true if it entered.
    #[inline(always)]
    fn replace_largest(&mut self, slot: O::Slot, key: u64, stamp: S) -> bool {
        let id = O::id(slot);
        // Branch-free scan, so that it vectorises.
        let present = self.slots.iter().fold(false, |acc, &e| acc | (O::id(e) == id));
        if key >= self.order.packed(self.owner, self.slots[0]) || present {
            return false;
        }
        self.slots[0] = slot;
        self.stamps[0] = stamp;
        self.sift_down(key);
        true
    }

    /// Restores the max-heap order after the root, of packed key `key`, was replaced.
    #[inline(always)]
    fn sift_down(&mut self, key: u64) {
        let len = self.slots.len();
        let mut at = 0;
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let (mut big, mut big_key) = (at, key);
            if l < len {
                let k = self.order.packed(self.owner, self.slots[l]);
                if k > big_key {
                    (big, big_key) = (l, k);
                }
            }
            if r < len && self.order.packed(self.owner, self.slots[r]) > big_key {
                big = r;
            }
            if big == at {
                return;
            }
            self.slots.swap(at, big);
            self.stamps.swap(at, big);
            at = big;
        }
    }
}

impl<O: SlotOrder, S: Copy + Default + Send> BoundedHeaps<O, S> {
    /// `n` empty heaps of `cap` slots ordered by `order`.
    pub fn new(n: usize, cap: usize, order: O) -> Self {
        let empty = order.packed(0, O::EMPTY);
        Self {
            cap,
            slots: (0..n * cap).map(|_| UnsafeCell::new(O::EMPTY)).collect(),
            stamps: (0..n * cap).map(|_| UnsafeCell::new(S::default())).collect(),
            worst: (0..n).map(|_| AtomicU64::new(empty)).collect(),
            order,
        }
    }

    /// The number of heaps.
    pub fn len(&self) -> usize {
        self.worst.len()
    }

    /// Empties every heap and orders them by `order` from now on.
    pub fn reset(&mut self, order: O) {
        let empty = order.packed(0, O::EMPTY);
        self.order = order;
        self.slots.par_iter_mut().for_each(|e| *e.get_mut() = O::EMPTY);
        // Zero-sized stamps (the candidates') hold nothing to reset.
        if std::mem::size_of::<S>() > 0 {
            self.stamps.par_iter_mut().for_each(|s| *s.get_mut() = S::default());
        }
        self.worst.par_iter_mut().for_each(|w| *w.get_mut() = empty);
    }

    /// Waits for heap `i`'s lock bit (a spin lock: heaps are held for a few hundred
    /// instructions) and returns the heap.
    #[inline]
    pub fn lock(&self, i: usize) -> Locked<'_, O, S> {
        let word = &self.worst[i];
        acquire(word);
        let (start, cap) = (i * self.cap, self.cap);
        // SAFETY: heap `i`'s lock bit is held until the guard drops, so no other reference to
        // these cells exists; the pointers come from the whole arrays (`UnsafeCell<T>` has
        // `T`'s layout) and the ranges lie inside them (a zero-sized stamp has no bytes).
        unsafe {
            Locked {
                order: &self.order,
                owner: i as u32,
                worst: word,
                slots: std::slice::from_raw_parts_mut(
                    UnsafeCell::raw_get(self.slots.as_ptr().add(start)),
                    cap,
                ),
                stamps: std::slice::from_raw_parts_mut(
                    UnsafeCell::raw_get(self.stamps.as_ptr().add(start)),
                    cap,
                ),
            }
        }
    }

    /// Offers `slot` with `stamp` to heap `i`; true if it entered. Most offers are turned
    /// away by the largest key, read without the lock.
    #[inline(always)]
    fn offer_slot(&self, i: u32, slot: O::Slot, stamp: S) -> bool {
        let key = self.order.packed(i, slot);
        if key >= self.worst[i as usize].load(Ordering::Relaxed) & !LOCKED {
            return false;
        }
        self.lock(i as usize).replace_largest(slot, key, stamp)
    }

    /// Whether heap `i` holds `cap` entries.
    pub fn is_full(&self, i: usize) -> bool {
        id(self.worst[i].load(Ordering::Relaxed)) != EMPTY
    }

    /// Heap `i`'s largest-key word, for prefetching.
    #[inline(always)]
    pub fn worst_word(&self, i: usize) -> *const u64 {
        self.worst[i].as_ptr().cast_const()
    }
}

impl Lists {
    /// Offers `id` at distance `key` (non-negative) to the list of `i`, stamped `round` and
    /// new; true if it entered.
    #[inline(always)]
    pub fn offer(&self, i: u32, key: f32, id: u32, round: u8) -> bool {
        self.offer_slot(i, pack(key, id), round | NEW)
    }

    /// The indices of list `i` (not empty ones), each with its new flag.
    pub fn entries(&self, i: usize, out: &mut Entries) {
        out.clear();
        let list = self.lock(i);
        let new = |t: usize| list.stamps[t] & NEW != 0;
        out.extend(
            list.slots.iter().enumerate().filter(|(_, &e)| id(e) != EMPTY).map(|(t, &e)| (id(e), new(t))),
        );
    }
}

impl Candidates {
    /// `n` empty candidate lists of `cap` entries.
    pub fn candidates(n: usize, cap: usize) -> Self {
        Self::new(n, cap, ByPriority { salt: 0 })
    }

    /// Empties every list for the round of `salt`.
    pub fn clear(&mut self, salt: u64) {
        self.reset(ByPriority { salt });
    }

    /// Offers `id` to the list of `i`; true if it entered.
    #[inline(always)]
    pub fn offer(&self, i: u32, id: u32) -> bool {
        self.offer_slot(i, id, ())
    }

    /// The indices of list `i` (not empty ones), flagged not new.
    pub fn entries(&self, i: usize, out: &mut Entries) {
        out.clear();
        let list = self.lock(i);
        out.extend(list.slots.iter().filter(|&&e| e != EMPTY).map(|&e| (e, false)));
    }
}

/// Takes the lock bit of a heap's `worst` word, spinning (heaps are held for a few hundred
/// instructions).
#[inline]
fn acquire(word: &AtomicU64) {
    let mut spins = 0u32;
    while word.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
        while word.load(Ordering::Relaxed) & LOCKED != 0 {
            spins += 1;
            if spins % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}
