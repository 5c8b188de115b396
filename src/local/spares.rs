//! Spare orders: the memory of orders a release pass let go, kept for new
//! holds to fill rather than handed back to the allocator.
//!
//! A release pass frees orders that other threads made. glibc's `malloc`
//! puts each such small chunk in a fast bin of the arena that made it, where
//! it stays unmerged until an allocation in that arena finds nothing better
//! and merges every chunk of those bins at once: after a mass expiry, up to
//! a million cold chunks, tens of milliseconds inside whichever block or
//! confirm allocated next (`tests/bench/PROFILE.md`). Kept here, an order's
//! memory never reaches those bins: a block fills a spare when one is kept,
//! and only what finds no room here goes back to the allocator.
//!
//! A spare is an order's allocation, reference counts included, with its
//! cell dropped: the releasing thread lets go of its lines (and through them
//! of its products) and its id while the cell is in its cache, and a block
//! writes a whole new cell into it.
//!
//! Spares wait in [`LISTS`] lists, each on its own cache line beside a flag
//! that says whether it may hold any. A block picks one by its order's
//! shard. While nothing is kept, as in an engine whose holds end before
//! their deadlines, it reads one count of the spares kept, alone on its own
//! line, and nothing else. Nothing ever waits
//! for a list: a block that finds its list locked allocates, and a pass
//! that finds a list locked tries the next one, so a list's lock is a leaf
//! that no thread sleeps on (nor a child forked while a parent's thread
//! held it). The lists keep at most as many spares as the engine may
//! remember ended orders (rounded up to a whole number a list), and let go
//! of every one when the engine is cleared.

use std::mem::MaybeUninit;
use std::sync::{atomic, Arc};

use super::OrderCell;
use crate::sync::{AtomicBool, AtomicUsize, Mutex};

/// How many lists the spares are split into. A power of two, so that the
/// 64 schedule shards an order's shard counts in spread evenly over them.
const LISTS: usize = 16;

/// An order's allocation with no cell in it.
pub(super) struct Spare(Arc<MaybeUninit<OrderCell>>);

impl Spare {
    /// The allocation of `order` with its cell dropped, when nothing else
    /// holds it (and `order` back, when something does).
    pub(super) fn vacate(mut order: Arc<OrderCell>) -> Result<Spare, Arc<OrderCell>> {
        if Arc::get_mut(&mut order).is_none() {
            return Err(order);
        }
        // SAFETY: `MaybeUninit<OrderCell>` has the cell's size and
        // alignment, as `Arc::from_raw` requires. The spare owns the
        // allocation before the cell is dropped, so that a drop that
        // unwound would free it once and never drop the cell again.
        let mut spare =
            Spare(unsafe { Arc::from_raw(Arc::into_raw(order).cast::<MaybeUninit<OrderCell>>()) });
        if let Some(cell) = Arc::get_mut(&mut spare.0) {
            // SAFETY: the cell is whole until now, and dropped only here:
            // from now on its allocation is only reached as uninitialised.
            unsafe { cell.assume_init_drop() };
        }
        Ok(spare)
    }

    /// Writes `cell` into the allocation: the order a block makes.
    fn fill(mut self, cell: OrderCell) -> Arc<OrderCell> {
        let Some(place) = Arc::get_mut(&mut self.0) else {
            // Never: a spare is made from an order nothing else held, and
            // is itself never cloned.
            return Arc::new(cell);
        };
        place.write(cell);
        // SAFETY: the cell was written just now, and `OrderCell` has the
        // size and alignment of `MaybeUninit<OrderCell>`.
        unsafe { Arc::from_raw(Arc::into_raw(self.0).cast::<OrderCell>()) }
    }
}

/// One list of spares, alone on its cache line.
#[repr(align(64))]
struct List {
    /// Set once spares join the list; cleared by the block that takes the
    /// last of them. Read with no ordering: a flag read stale costs a block
    /// an allocation, or a look into an empty list, and nothing else.
    stocked: AtomicBool,
    spares: Mutex<Vec<Spare>>,
}

/// A value alone on its cache line.
#[repr(align(64))]
struct Alone<T>(T);

pub(super) struct Spares {
    /// How many spares the lists keep: added to under a list's lock as they
    /// join it, taken from once one leaves it. While it is zero, a block
    /// reads this and nothing else of the spares; only while spares are
    /// kept is it written, once for each one taken.
    kept: Alone<AtomicUsize>,
    lists: [List; LISTS],
    /// The most spares one list keeps.
    room: usize,
    /// The spares of one share of a release pass, gathered before they are
    /// dealt out to the lists. Kept for the next share, so that the buffer
    /// is made once, not once a share; a pass that finds it taken by another
    /// pass lets its orders go as before.
    gathered: Alone<Mutex<Vec<Spare>>>,
}

impl Spares {
    /// Lists that keep at most `most` spares in all, rounded up to a whole
    /// number a list.
    pub(super) fn new(most: usize) -> Spares {
        Spares {
            kept: Alone(AtomicUsize::new(0)),
            lists: std::array::from_fn(|_| List {
                stocked: AtomicBool::new(false),
                spares: Mutex::new(Vec::new()),
            }),
            room: most.div_ceil(LISTS),
            gathered: Alone(Mutex::new(Vec::new())),
        }
    }

    /// The order a block makes of `cell`, whose schedule shard is `shard`:
    /// written into a spare of that shard's list when there is one and the
    /// list is free this moment (then with true), newly allocated otherwise.
    pub(super) fn order(
        &self,
        shard: u8,
        cell: impl FnOnce() -> OrderCell,
    ) -> (Arc<OrderCell>, bool) {
        if self.kept.0.load(atomic::Ordering::Relaxed) > 0 {
            if let Some(spare) = self.take(shard) {
                return (spare.fill(cell()), true);
            }
        }
        (Arc::new(cell()), false)
    }

    /// Takes back the spare of an order that [`Spares::order`] wrote into
    /// one for a block refused before the order was added: into the list it
    /// came from, if that list is free this moment and has room. A refused
    /// block, as in a sold-out sale, then leaves the spares as it found them.
    pub(super) fn give_back(&self, shard: u8, order: Arc<OrderCell>) {
        let Ok(spare) = Spare::vacate(order) else {
            return;
        };
        let list = &self.lists[usize::from(shard) % LISTS];
        let Some(mut spares) = list.spares.try_lock() else {
            return;
        };
        if spares.len() < self.room {
            self.join(list, &mut spares, std::iter::once(spare));
        }
    }

    /// Adds `joining` to the spares of `list`, whose lock `spares` holds,
    /// and counts them in `kept` under that lock, as that count asks.
    fn join(
        &self,
        list: &List,
        spares: &mut Vec<Spare>,
        joining: impl ExactSizeIterator<Item = Spare>,
    ) {
        let count = joining.len();
        spares.extend(joining);
        list.stocked.store(true, atomic::Ordering::Relaxed);
        self.kept.0.fetch_add(count, atomic::Ordering::Relaxed);
    }

    fn take(&self, shard: u8) -> Option<Spare> {
        let list = &self.lists[usize::from(shard) % LISTS];
        if !list.stocked.load(atomic::Ordering::Relaxed) {
            return None;
        }
        let mut spares = list.spares.try_lock()?;
        let spare = spares.pop();
        if spares.is_empty() {
            list.stocked.store(false, atomic::Ordering::Relaxed);
        }
        drop(spares);
        if spare.is_some() {
            self.kept.0.fetch_sub(1, atomic::Ordering::Relaxed);
        }
        spare
    }

    /// Runs `each` with a place to put the spares it makes, then deals them
    /// out to the lists with room, each tried once, and lets go of those
    /// left over. `each` gets no place when the engine keeps no spares (it
    /// remembers no ended order), or while another pass deals out its own.
    pub(super) fn gather(&self, each: impl FnOnce(Option<&mut Vec<Spare>>)) {
        let gathered = if self.room > 0 { self.gathered.0.try_lock() } else { None };
        let Some(mut gathered) = gathered else {
            return each(None);
        };
        each(Some(&mut gathered));
        let lists = self.lists.len();
        for (k, list) in self.lists.iter().enumerate() {
            if gathered.is_empty() {
                break;
            }
            // An even part of what is left, so that the first lists do not
            // take all of it.
            let part = gathered.len().div_ceil(lists - k);
            let Some(mut spares) = list.spares.try_lock() else {
                continue;
            };
            let taken = part.min(self.room.saturating_sub(spares.len()));
            if taken > 0 {
                let from = gathered.len() - taken;
                self.join(list, &mut spares, gathered.drain(from..));
            }
        }
        // No list had room for these: their memory goes back to the
        // allocator, as every order's did before.
        gathered.clear();
    }

    /// Lets go of every spare, each list's with its lock let go. A list
    /// another thread holds this moment is left as it is, to be let go
    /// with the engine.
    pub(super) fn clear(&self) {
        for list in &self.lists {
            let Some(mut spares) = list.spares.try_lock() else {
                continue;
            };
            let taken = std::mem::take(&mut *spares);
            list.stocked.store(false, atomic::Ordering::Relaxed);
            self.kept.0.fetch_sub(taken.len(), atomic::Ordering::Relaxed);
            drop(spares);
            drop(taken);
        }
        let gathered =
            self.gathered.0.try_lock().map(|mut gathered| std::mem::take(&mut *gathered));
        drop(gathered);
    }

    /// How many spares the lists keep, counted one list at a time; and
    /// the count the blocks read, which must agree with it when no other
    /// thread is at work.
    #[cfg(all(test, not(loom)))]
    pub(super) fn count(&self) -> usize {
        let kept = self.lists.iter().map(|list| list.spares.lock().len()).sum();
        assert_eq!(self.kept.0.load(atomic::Ordering::Relaxed), kept);
        kept
    }
}
