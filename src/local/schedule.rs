//! The release schedule: when each hold runs out and when each ended order
//! may be forgotten.
//!
//! Deadlines are split into shards by order id so that holding orders on many
//! threads does not meet on one lock. Within a shard, the deadlines of holds
//! of the engine's default time come in the order they fall due (one hold
//! time, one monotonic clock): those join a queue at its back. The rest go to
//! a min-heap beside it: holds of other times, a usual hold whose thread read
//! the clock first but pushed second, and the next look at a hold extended:
//! an extension leaves the hold's one entry where it is, and the pass that
//! takes it, finding the hold's deadline later, pushes it here again.
//!
//! Ended orders wait in one queue, in the order they ended, so that the
//! memory bound forgets exactly the oldest; ending takes that lock for one
//! push, after the order's stock is settled. An order leaving the queue is
//! marked forgotten before the lock is let go. A pass costs one lock per shard
//! plus the entries that fell due; live holds that are not due are never
//! visited.
//!
//! An order that joins its shard's queue keeps its place there, and when it
//! ends it takes itself out of that entry, under the shard's lock that
//! counting the end takes anyway. So an order that ended early is freed once
//! it is forgotten and out of the order map (with its batch, if the memory
//! bound pushed it out), not kept until its deadline: what stays is its
//! entry, 16 bytes. The heap's entries cannot be reached that way, and keep
//! their orders until they are due.
//!
//! Every lock here is a leaf: nothing else is locked while one is held, but
//! for the metrics snapshot's own lock, under which it takes the shards one
//! at a time.
//!
//! Each shard also counts the holds that started and ended in it. An order's
//! start and end are counted in its own shard, the start before the order
//! becomes visible, so a snapshot never shows more holds ended than started.
//! Both are counted while the order's products are locked, so that the
//! counts and the products' stock change together: a caller never sees one
//! moved and the other not.
//!
//! A snapshot of the counts is of one moment, though it reads the shards one
//! after the other, holding one at a time: it begins by numbering itself,
//! and the first change to a shard's counts after a snapshot began keeps the
//! counts as they were, for that snapshot to read ([`Counts`]). So a
//! snapshot holds one shard at a time and never waits for one while it
//! holds another: a block or a release pass waits for it only while it
//! reads the shard they need (longer if its thread is taken off its CPU
//! just then), and only another snapshot ever waits for a whole one.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{atomic, Arc};
use std::{iter, mem, ptr};

use super::OrderCell;
use crate::clock::Nanos;
use crate::metrics::HoldCounts;
use crate::order::OrderState;
use crate::sync::{AtomicU64, Mutex};

/// At most 256, so that an order's shard fits the byte it keeps it in.
const SHARDS: usize = 64;
const _: () = assert!(SHARDS <= 256);

/// The most forgotten orders one pass takes, and the most expiries it pops
/// one by one (at most [`PER_SHARD`] from each shard); a shard's heap whose
/// every entry is due comes whole besides, however large.
pub(super) const BATCH: usize = 512;

/// The most expiries one pass takes from a shard, under one hold of its
/// lock. Taking an entry from the heap can miss the cache at every level
/// (a microsecond or more with many holds due): a block that schedules into
/// the shard during a mass expiry waits for this many at most, not for a
/// whole pass.
const PER_SHARD: usize = BATCH / SHARDS;
const _: () = assert!(PER_SHARD > 0);

struct Due<T = Arc<OrderCell>> {
    at: Nanos,
    order: T,
}

impl<T> PartialEq for Due<T> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl<T> Eq for Due<T> {}

impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Due<T> {
    // Reversed, so that the std max-heap yields the earliest moment first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

impl Due {
    /// The order of an entry leaving the ended orders' queue, marked
    /// forgotten while the queue's lock is still held: an order is forgotten
    /// exactly when it leaves the queue, whenever the order map lets it go.
    fn forgotten(self) -> Arc<OrderCell> {
        self.order.mark_forgotten();
        self.order
    }
}

/// An expiry's order, taken out (None) when the order ends first: an ended
/// order's memory is then freed once it is forgotten and out of the order
/// map, not kept until its deadline. Only an entry still in a shard's queue
/// can be taken out; one in the heap beside it keeps its order until due.
pub(super) type Expiring = Option<Arc<OrderCell>>;

#[derive(Default)]
struct Shard {
    expiries: Expiries<Expiring>,
    counts: Counts,
}

/// A shard's hold counts, and a copy kept for the latest snapshot that
/// began before they changed.
#[derive(Default)]
struct Counts {
    current: HoldCounts,
    /// The counts as they stood when snapshot `kept_for` began: kept by the
    /// first change after it began.
    kept: HoldCounts,
    kept_for: u64,
}

impl Counts {
    /// The counts to change, given the number of the latest snapshot begun
    /// (read with the shard locked). The first change after a snapshot began
    /// keeps the counts as they were for it.
    fn change(&mut self, snapshot: u64) -> &mut HoldCounts {
        if self.kept_for != snapshot {
            self.kept = self.current;
            self.kept_for = snapshot;
        }
        &mut self.current
    }

    /// The counts as they stood when `snapshot` began: every change since
    /// then came after the one that kept them.
    fn at(&self, snapshot: u64) -> HoldCounts {
        if self.kept_for == snapshot {
            self.kept
        } else {
            self.current
        }
    }
}

/// A shard's expiries, earliest first. Pushing in order is a push at the
/// back of a queue and taking the earliest a pop at its front, where a heap
/// would sift through entries spread over megabytes at each: with millions
/// of live holds, a cache miss or more per level.
struct Expiries<T> {
    /// Nondecreasing from front to back.
    in_order: VecDeque<Due<T>>,
    /// Entries pushed apart, and those pushed in order that came earlier
    /// than the queue's back.
    out_of_order: BinaryHeap<Due<T>>,
    /// The latest moment in `out_of_order` (0 when empty): once it is due,
    /// the whole heap is, and is taken in one move instead of popped.
    latest_apart: Nanos,
    /// How many entries have left the queue's front, wrapping: the place of
    /// an entry pushed at its back is this plus the queue's length, and its
    /// index in the queue that place less this.
    popped: u32,
}

impl<T> Default for Expiries<T> {
    fn default() -> Self {
        Expiries {
            in_order: VecDeque::new(),
            out_of_order: BinaryHeap::new(),
            latest_apart: 0,
            popped: 0,
        }
    }
}

/// Past this many entries' room, a buffer left mostly unused by a peak is
/// given back.
const KEEP: usize = 1024;

/// Whether a buffer of `capacity` entries holding `len` keeps far more
/// memory than they need.
fn oversized(len: usize, capacity: usize) -> bool {
    capacity > KEEP && len * 4 < capacity
}

/// Entries taken out of a shard, kept for the caller to go through (and
/// free) once it has let go of the shard's lock: freeing a large buffer can
/// wait on the process's memory map, as can the page faults of a block.
pub(super) struct Taken<T = Arc<OrderCell>> {
    entries: Vec<Due<T>>,
    /// Whole heaps whose every entry is due, and emptied heap buffers
    /// given back after a peak.
    heaps: Vec<BinaryHeap<Due<T>>>,
    /// Buffers given back after a peak.
    spent: Vec<VecDeque<Due<T>>>,
}

impl<T> Default for Taken<T> {
    fn default() -> Self {
        Taken { entries: Vec::new(), heaps: Vec::new(), spent: Vec::new() }
    }
}

impl<T> Taken<T> {
    /// Every entry taken, in no particular order.
    #[cfg(test)]
    fn dues(&self) -> impl Iterator<Item = &Due<T>> {
        let heaped = self.heaps.iter().flat_map(|heap| heap.iter());
        self.entries.iter().chain(heaped)
    }

    /// The order of every entry taken, in no particular order.
    #[cfg(test)]
    fn orders(&self) -> impl Iterator<Item = &T> {
        self.dues().map(|due| &due.order)
    }

    /// The order of every entry taken, in no particular order, each handed
    /// over as its turn comes: a caller that lets it go then touches its
    /// reference counts while it is still in the cache, not in a second
    /// pass over them all when the entries are dropped together.
    pub(super) fn into_orders(self) -> impl Iterator<Item = T> {
        let heaped = self.heaps.into_iter().flat_map(BinaryHeap::into_vec);
        self.entries.into_iter().chain(heaped).map(|due| due.order)
    }
}

impl<T> Expiries<T> {
    /// Adds an entry expected to come no earlier than those added before it
    /// this way: at the queue's back if it does, and then returns its place
    /// there, for [`Expiries::queued`].
    fn push_in_order(&mut self, due: Due<T>) -> Option<u32> {
        match self.in_order.back() {
            Some(last) if due.at < last.at => {
                self.push_apart(due);
                None
            }
            _ => {
                // Wrapping: a queue never holds 2^32 entries (64 GiB).
                let place = self.popped.wrapping_add(self.in_order.len() as u32);
                self.in_order.push_back(due);
                Some(place)
            }
        }
    }

    /// The entry at `place` in the queue, if it is still there. A place the
    /// queue has moved past, or never reached, finds nothing; any other
    /// finds an entry, which the caller must check is its own.
    fn queued(&mut self, place: u32) -> Option<&mut Due<T>> {
        let index = place.wrapping_sub(self.popped) as usize;
        self.in_order.get_mut(index)
    }

    /// Adds an entry that may fall anywhere, such as one far later than the
    /// rest, which would hold every usual entry after it out of the queue.
    fn push_apart(&mut self, due: Due<T>) {
        self.latest_apart = self.latest_apart.max(due.at);
        self.out_of_order.push(due);
    }

    /// Moves into `taken` the entries due at `now`, popping at most `limit`
    /// of them one by one: a heap whose every entry is due goes whole, in
    /// one move however large. Returns whether due entries remain.
    fn take_due(&mut self, now: Nanos, limit: usize, taken: &mut Taken<T>) -> bool {
        if !self.out_of_order.is_empty() && self.latest_apart <= now {
            taken.heaps.push(mem::take(&mut self.out_of_order));
            self.latest_apart = 0;
        }
        taken.entries.extend(iter::from_fn(|| self.pop_due(now)).take(limit));
        self.give_back(taken);
        self.first().is_some_and(|at| at <= now)
    }

    /// Gives back the memory of a peak (a mass expiry) once mostly unused,
    /// when only a few entries are left: they move into a buffer of their
    /// size, made here, at next to no cost to the lock's holder. A queue
    /// with more left asks for a buffer made outside the lock
    /// ([`Expiries::queue_wanted`]); a heap with more left keeps its memory
    /// until it is (nearly) drained.
    fn give_back(&mut self, taken: &mut Taken<T>) {
        let few = |len: usize, capacity: usize| len <= KEEP / 2 && oversized(len, capacity);
        let queue = &self.in_order;
        if few(queue.len(), queue.capacity()) {
            let rest = VecDeque::with_capacity(queue.len());
            taken.spent.push(self.shrink_queue(rest));
        }
        let heap = &mut self.out_of_order;
        if few(heap.len(), heap.capacity()) {
            let mut rest = BinaryHeap::with_capacity(heap.len());
            rest.extend(heap.drain());
            taken.heaps.push(mem::replace(heap, rest));
        }
    }

    /// The capacity of a smaller queue to make for [`Expiries::shrink_queue`]
    /// while the queue keeps far more memory than its entries need, too many
    /// of them to move with a buffer made under the lock.
    fn queue_wanted(&self) -> Option<usize> {
        let (len, capacity) = (self.in_order.len(), self.in_order.capacity());
        (len > KEEP / 2 && oversized(len, capacity)).then_some(len * 2)
    }

    /// Moves the queue's entries into `smaller`, made outside the lock, if
    /// the queue still keeps far more memory than they need and they fit.
    /// Returns whichever buffer is left over, for the caller to free once it
    /// has let go of the lock.
    fn shrink_queue(&mut self, mut smaller: VecDeque<Due<T>>) -> VecDeque<Due<T>> {
        let (len, capacity) = (self.in_order.len(), self.in_order.capacity());
        if !oversized(len, capacity) || smaller.capacity() < len {
            return smaller;
        }
        smaller.extend(self.in_order.drain(..));
        mem::replace(&mut self.in_order, smaller)
    }

    #[cfg(all(test, not(loom)))]
    fn len(&self) -> usize {
        self.in_order.len() + self.out_of_order.len()
    }

    /// The earliest moment an entry falls due.
    fn first(&self) -> Option<Nanos> {
        let queued = self.in_order.front().map(|due| due.at);
        let heaped = self.out_of_order.peek().map(|due| due.at);
        match (queued, heaped) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Takes the earliest entry if it is due at or before `now`.
    fn pop_due(&mut self, now: Nanos) -> Option<Due<T>> {
        if self.first()? > now {
            return None;
        }
        let from_heap = match (self.in_order.front(), self.out_of_order.peek()) {
            (Some(queued), Some(heaped)) => heaped.at < queued.at,
            (queued, _) => queued.is_none(),
        };
        match from_heap {
            true => self.out_of_order.pop(),
            false => {
                self.popped = self.popped.wrapping_add(1);
                self.in_order.pop_front()
            }
        }
    }
}

/// What a pass over the schedule found due.
#[derive(Default)]
pub(super) struct DueWork {
    /// Every entry due: orders whose (possibly since extended) deadline came
    /// up, None where the order ended first and took itself out.
    pub expiries: Taken<Expiring>,
    /// Ended orders past their retention, marked forgotten.
    pub forgotten: Vec<Arc<OrderCell>>,
    /// Whether entries due at `now` were left for another pass.
    pub more: bool,
}

pub(super) struct Schedule {
    shards: Box<[Mutex<Shard>]>,
    /// The number of the latest snapshot of the counts begun.
    snapshots: AtomicU64,
    /// Held for a whole snapshot: one is taken at a time.
    snapshot: Mutex<()>,
    /// Ended orders, oldest first, and those the bound pushed out.
    remembered: Mutex<Remembered>,
    retention: Nanos,
    max_remembered: usize,
}

/// How many orders pushed out by the memory bound are handed over at once,
/// for their caller to take out of the order map together, reading ahead.
/// One under loom, so that its models take the path a full batch takes.
#[cfg(not(loom))]
pub(super) const FORGET_BATCH: usize = 64;
#[cfg(loom)]
pub(super) const FORGET_BATCH: usize = 1;

#[derive(Default)]
struct Remembered {
    /// Ended orders, oldest first.
    queue: VecDeque<Due>,
    /// Orders the bound pushed out, marked forgotten, which the order map
    /// still keeps: always fewer than [`FORGET_BATCH`], as the call that
    /// pushes out the last of a batch takes it whole; a pass takes them
    /// all when it ends.
    pushed_out: Vec<Arc<OrderCell>>,
    /// An empty buffer for the next batch, handed back by the caller done
    /// with a batch ([`Schedule::recycle`]). Two buffers go round, so that
    /// from the third batch on none is made or grown under this lock, which
    /// every end takes, nor freed by one thread after another made it. Both
    /// can take the lock of the allocator's arena that made the buffer,
    /// which a thread making orders takes for each order: in a mass expiry
    /// the releaser waited there, holding this lock, while confirms waited
    /// for it. A batch that fills while the one before is still out finds
    /// no spare, and grows a buffer as before; a few in a hundred do when
    /// five threads end orders at once on two CPUs.
    spare: Vec<Arc<OrderCell>>,
}

impl Schedule {
    pub(super) fn new(retention: Nanos, max_remembered: usize) -> Schedule {
        Schedule {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            snapshots: AtomicU64::new(0),
            snapshot: Mutex::new(()),
            retention,
            remembered: Mutex::new(Remembered::default()),
            max_remembered,
        }
    }

    /// Lets go of every entry and of the buffers that kept them, each
    /// dropped with its lock let go. The counts stay.
    pub(super) fn clear(&self) {
        for shard in self.shards.iter() {
            let expiries = mem::take(&mut shard.lock().expiries);
            drop(expiries);
        }
        let remembered = mem::take(&mut *self.remembered.lock());
        drop(remembered);
    }

    fn shard(&self, order: &OrderCell) -> &Mutex<Shard> {
        &self.shards[usize::from(order.shard)]
    }

    /// The counts of a locked shard, to change. The snapshot's number is
    /// read under the shard's lock, so that the numbers a shard's changes see
    /// only grow: a change that read an older number than the one the counts
    /// were kept for would keep them again, for the wrong snapshot.
    fn counts_of<'a>(&self, shard: &'a mut Shard) -> &'a mut HoldCounts {
        shard.counts.change(self.snapshots.load(atomic::Ordering::SeqCst))
    }

    /// Counts a new hold of `units` and schedules its expiry; `usual_hold`
    /// as [`Backend::hold`](crate::backend::Backend::hold) takes it. Called
    /// with the order's products locked, as [`Schedule::count_end`] is.
    pub(super) fn start(
        &self,
        order: &Arc<OrderCell>,
        deadline: Nanos,
        units: u128,
        usual_hold: bool,
    ) {
        let mut shard = self.shard(order).lock();
        let counts = self.counts_of(&mut shard);
        counts.held += 1;
        counts.held_units += units;
        let due = Self::expiry(order, deadline);
        match usual_hold {
            true => {
                if let Some(place) = shard.expiries.push_in_order(due) {
                    order.place.store(place, atomic::Ordering::Relaxed);
                }
            }
            false => shard.expiries.push_apart(due),
        }
    }

    /// Looks at `order` again just after `deadline`: for a hold extended
    /// after its entry was made, whose entry a pass just took. Returns the
    /// moment of the new entry.
    pub(super) fn expire_after(&self, order: &Arc<OrderCell>, deadline: Nanos) -> Nanos {
        let due = Self::expiry(order, deadline);
        let at = due.at;
        self.shard(order).lock().expiries.push_apart(due);
        at
    }

    /// A hold confirmable at its deadline expires one nanosecond later.
    fn expiry(order: &Arc<OrderCell>, deadline: Nanos) -> Due<Expiring> {
        let at = deadline.saturating_add(1);
        Due { at, order: Some(Arc::clone(order)) }
    }

    /// Takes `order` out of its expiry in its locked shard's queue, if the
    /// entry is still there, and returns it for the caller to drop once the
    /// lock is let go. An order that did not join the queue keeps the place
    /// it was made with, which finds no entry or another order's.
    fn vacate(shard: &mut Shard, order: &OrderCell) -> Expiring {
        let place = order.place.load(atomic::Ordering::Relaxed);
        let due = shard.expiries.queued(place)?;
        let own = due.order.as_deref().is_some_and(|queued| ptr::eq(queued, order));
        own.then(|| due.order.take()).flatten()
    }

    /// Counts how a hold of `units` ended, and takes the order out of its
    /// expiry, no longer needed. Called with the order's products locked, so
    /// that the counts change together with their stock.
    pub(super) fn count_end(&self, order: &OrderCell, state: OrderState, units: u128) {
        let mut shard = self.shard(order).lock();
        let counts = self.counts_of(&mut shard);
        counts.held_units -= units;
        match state {
            OrderState::Confirmed => counts.confirmed += 1,
            OrderState::Cancelled => counts.cancelled += 1,
            OrderState::Expired => counts.expired += 1,
            OrderState::Held => {}
        }
        let vacated = Self::vacate(&mut shard, order);
        drop(shard);
        drop(vacated);
    }

    /// Remembers an ended order until its retention runs out at `now` plus
    /// the retention. When more than the bound are remembered, the oldest
    /// is pushed out early and marked forgotten, and joins those pushed out
    /// before it; returns them once there are [`FORGET_BATCH`], for the
    /// caller to take out of the order map. Returns too the moment the order
    /// is due to be forgotten when no other was remembered, as only then is
    /// it the earliest, which a sleeping releaser must learn.
    pub(super) fn remember(
        &self,
        order: &Arc<OrderCell>,
        now: Nanos,
    ) -> (Option<Vec<Arc<OrderCell>>>, Option<Nanos>) {
        let at = now.saturating_add(self.retention);
        let mut remembered = self.remembered.lock();
        let Remembered { queue, pushed_out, spare } = &mut *remembered;
        let first = queue.is_empty().then_some(at);
        queue.push_back(Due { at, order: Arc::clone(order) });
        if queue.len() > self.max_remembered {
            pushed_out.extend(queue.pop_front().map(Due::forgotten));
            if pushed_out.len() >= FORGET_BATCH {
                return (Some(mem::replace(pushed_out, mem::take(spare))), first);
            }
        }
        (None, first)
    }

    /// Takes back the buffer of a batch that [`Schedule::remember`] handed
    /// over, emptied by its caller, for a later batch; the larger of it and
    /// the one kept is kept, and the other is freed once the lock is let go.
    pub(super) fn recycle(&self, mut buffer: Vec<Arc<OrderCell>>) {
        debug_assert!(buffer.is_empty(), "a batch is taken out before its buffer goes back");
        let mut remembered = self.remembered.lock();
        if remembered.spare.capacity() < buffer.capacity() {
            mem::swap(&mut remembered.spare, &mut buffer);
        }
        drop(remembered);
        drop(buffer);
    }

    /// Moves every order pushed out by the bound that was not handed over
    /// yet to the end of `forgotten`; the buffer they gathered in stays.
    pub(super) fn take_pushed_out(&self, forgotten: &mut Vec<Arc<OrderCell>>) {
        if self.remembered.lock().pushed_out.is_empty() {
            return;
        }
        // Fewer than a batch wait: room for them is made before the lock.
        forgotten.reserve(FORGET_BATCH);
        forgotten.append(&mut self.remembered.lock().pushed_out);
    }

    /// Takes entries due at or before `now`: from each shard, at most
    /// [`PER_SHARD`] expiries one by one, or a whole heap of them in one
    /// move; and at most [`BATCH`] forgotten orders, marked so. `more` says
    /// whether due entries remain.
    pub(super) fn take_due(&self, now: Nanos) -> DueWork {
        let mut work = DueWork::default();
        for shard in self.shards.iter() {
            let mut locked = shard.lock();
            work.more |= locked.expiries.take_due(now, PER_SHARD, &mut work.expiries);
            let wanted = locked.expiries.queue_wanted();
            drop(locked);
            if let Some(capacity) = wanted {
                // Made, and the larger one freed, with the lock let go.
                let smaller = VecDeque::with_capacity(capacity);
                work.expiries.spent.push(shard.lock().expiries.shrink_queue(smaller));
            }
        }
        // Orders join the queue in nearly the order they ended; one a few
        // nanoseconds out of order is forgotten a little late.
        let queue = &mut self.remembered.lock().queue;
        while queue.front().is_some_and(|due| due.at <= now) {
            if work.forgotten.len() == BATCH {
                work.more = true;
                break;
            }
            work.forgotten.extend(queue.pop_front().map(Due::forgotten));
        }
        work
    }

    /// The counts of every shard at one moment: when the snapshot took its
    /// number. Summed as they stand when each shard is read, they could count
    /// a hold that ended in a shard read early together with one that
    /// started later in a shard read late, a moment that never was.
    pub(super) fn counts(&self) -> HoldCounts {
        self.counts_calling(|_| {})
    }

    /// [`Schedule::counts`], calling `before(i)` before it locks shard `i`.
    fn counts_calling(&self, mut before: impl FnMut(usize)) -> HoldCounts {
        let _alone = self.snapshot.lock();
        let snapshot = self.snapshots.fetch_add(1, atomic::Ordering::SeqCst) + 1;
        let mut total = HoldCounts::default();
        for (i, shard) in self.shards.iter().enumerate() {
            before(i);
            total += shard.lock().counts.at(snapshot);
        }
        total
    }

    /// How many entries the shards hold, taken out of or not.
    #[cfg(all(test, not(loom)))]
    pub(super) fn entries(&self) -> usize {
        let sizes = self.shards.iter().map(|shard| shard.lock().expiries.len());
        sizes.sum()
    }

    /// The room in the buffers pushed-out orders gather in: the one in use,
    /// and the spare.
    #[cfg(all(test, not(loom)))]
    pub(super) fn buffers(&self) -> [usize; 2] {
        let remembered = self.remembered.lock();
        [remembered.pushed_out.capacity(), remembered.spare.capacity()]
    }

    /// The earliest moment any entry falls due.
    pub(super) fn next_due(&self) -> Option<Nanos> {
        let expiry = self.shards.iter().filter_map(|shard| shard.lock().expiries.first());
        let forget = self.remembered.lock().queue.front().map(|due| due.at);
        expiry.chain(forget).min()
    }
}

/// The shard of an order whose id hashes to `hash` in the order map.
pub(super) fn shard_of(hash: u64) -> u8 {
    // Bits the map itself makes less use of than the lowest and highest.
    ((hash >> 32) % SHARDS as u64) as u8
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    /// Pushes `(at, tag)` entries, each in order or apart as `apart` says
    /// (cycled).
    fn filled(entries: &[(Nanos, usize)], apart: &[bool]) -> Expiries<usize> {
        let mut expiries = Expiries::default();
        for (&(at, order), &apart) in entries.iter().zip(apart.iter().cycle()) {
            match apart {
                true => expiries.push_apart(Due { at, order }),
                false => _ = expiries.push_in_order(Due { at, order }),
            }
        }
        expiries
    }

    /// Takes everything due at `now`, at most `limit` popped a pass, as the
    /// releaser does; the `(at, tag)` of each entry taken, sorted.
    fn take_all(expiries: &mut Expiries<usize>, now: Nanos, limit: usize) -> Vec<(Nanos, usize)> {
        let mut taken = Taken::default();
        while expiries.take_due(now, limit, &mut taken) {}
        let mut got: Vec<_> = taken.dues().map(|d| (d.at, d.order)).collect();
        got.sort_unstable();
        got
    }

    #[test]
    fn entries_out_of_order_still_come_out_earliest_first() {
        let entries = [(10, 0), (20, 1), (15, 2), (30, 3), (5, 4), (20, 5)];
        let mut expiries = filled(&entries, &[false]);
        let moments: Vec<Nanos> = iter::from_fn(|| expiries.pop_due(20)).map(|d| d.at).collect();
        assert_eq!(moments, [5, 10, 15, 20, 20]);
        assert_eq!(expiries.first(), Some(30));
        assert_eq!(expiries.pop_due(29).map(|d| d.order), None);
        assert_eq!(expiries.pop_due(30).map(|d| d.order), Some(3));
        assert_eq!(expiries.first(), None);
    }

    #[test]
    fn a_far_entry_apart_leaves_the_queue_to_usual_ones() {
        let mut expiries = Expiries::default();
        for at in 0..10 {
            expiries.push_in_order(Due { at, order: 0 });
        }
        expiries.push_apart(Due { at: 1_000_000, order: 1 });
        for at in 10..1_000 {
            expiries.push_in_order(Due { at, order: 0 });
        }
        assert_eq!((expiries.in_order.len(), expiries.out_of_order.len()), (1_000, 1));
        assert_eq!(expiries.first(), Some(0));
    }

    #[test]
    fn a_heap_all_due_goes_whole_and_the_rest_a_few_at_a_time() {
        let entries: Vec<(Nanos, usize)> = (0..100).map(|i| (1_000 - i as Nanos, i)).collect();
        let mut expiries = filled(&entries, &[true]);
        expiries.push_in_order(Due { at: 5, order: 100 });
        expiries.push_in_order(Due { at: 6, order: 101 });
        let mut taken = Taken::default();
        assert!(expiries.take_due(1_000, 1, &mut taken), "one due entry is left queued");
        assert_eq!(taken.heaps.iter().map(BinaryHeap::len).sum::<usize>(), 100);
        assert_eq!(taken.entries.iter().map(|d| d.order).collect::<Vec<_>>(), [100]);
        assert_eq!(taken.orders().count(), 101);
        assert_eq!(expiries.first(), Some(6));

        // A heap with an entry not yet due is popped entry by entry.
        let mut expiries = filled(&[(1, 0), (2, 1), (3, 2), (50, 3)], &[true]);
        let mut taken = Taken::default();
        assert!(expiries.take_due(10, 2, &mut taken), "one due entry is left");
        assert_eq!(taken.orders().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(take_all(&mut expiries, 10, 2), [(3, 2)]);
        assert_eq!(expiries.first(), Some(50));
    }

    #[test]
    fn gives_back_a_peak_once_drained() {
        // Past the 1,024 entries a shard keeps whatever it holds.
        const PEAK: u64 = 5_000;
        let mut expiries = Expiries::default();
        for at in 0..PEAK {
            expiries.push_in_order(Due { at, order: 0 });
            expiries.push_apart(Due { at, order: 1 });
        }
        assert_eq!(take_all(&mut expiries, PEAK - 10, usize::MAX).len(), 2 * (PEAK as usize - 9));
        assert!(expiries.in_order.capacity() < 1_000, "{}", expiries.in_order.capacity());
        assert!(expiries.out_of_order.capacity() < 1_000);
        assert_eq!(expiries.in_order.len() + expiries.out_of_order.len(), 18);
        assert_eq!(expiries.first(), Some(PEAK - 9));
        assert_eq!(take_all(&mut expiries, PEAK, 1).len(), 18);
        assert_eq!(expiries.out_of_order.capacity(), 0, "an emptied heap's buffer goes too");
    }

    #[test]
    fn a_queue_left_large_after_a_peak_shrinks_into_a_buffer_made_apart() {
        // Under Miri, just enough for more than a few entries to be left.
        const PEAK: u64 = if cfg!(miri) { 4_000 } else { 20_000 };
        const LEFT: u64 = PEAK / 5;
        let mut expiries = filled(&(0..PEAK).map(|at| (at, 0)).collect::<Vec<_>>(), &[false]);
        assert_eq!(expiries.queue_wanted(), None, "full, not oversized");
        let due = take_all(&mut expiries, PEAK - LEFT - 1, usize::MAX);
        assert_eq!(due.len() as u64, PEAK - LEFT);
        let wanted = expiries.queue_wanted().expect("a fifth left in room for all");
        assert_eq!(wanted as u64, 2 * LEFT);
        // A buffer too small for what is left now is handed back unused.
        let unused = expiries.shrink_queue(VecDeque::with_capacity(100));
        assert_eq!(unused.capacity(), 100);
        let peak = expiries.in_order.capacity();
        let old = expiries.shrink_queue(VecDeque::with_capacity(wanted));
        assert_eq!(old.capacity(), peak);
        assert!(old.is_empty());
        assert!(expiries.in_order.capacity() < peak / 2);
        assert_eq!(expiries.queue_wanted(), None);
        let left = take_all(&mut expiries, PEAK, usize::MAX);
        assert_eq!(left, (PEAK - LEFT..PEAK).map(|at| (at, 0)).collect::<Vec<_>>());
    }

    /// Places wrap around past `u32::MAX`: entries pushed either side of
    /// the wrap are found at their places while queued, and not once taken.
    #[test]
    fn places_wrap_around() {
        let mut expiries = Expiries { popped: u32::MAX - 2, ..Expiries::default() };
        let push = |expiries: &mut Expiries<usize>, i: usize| {
            expiries.push_in_order(Due { at: i as Nanos, order: i }).expect("in order")
        };
        let places: Vec<u32> = (0..6).map(|i| push(&mut expiries, i)).collect();
        assert_eq!(places, [u32::MAX - 2, u32::MAX - 1, u32::MAX, 0, 1, 2]);
        let mut taken = Taken::default();
        assert!(!expiries.take_due(3, usize::MAX, &mut taken));
        assert_eq!(taken.orders().count(), 4);
        for (i, &place) in places.iter().enumerate() {
            let found = expiries.queued(place).map(|due| due.order);
            assert_eq!(found, (i > 3).then_some(i), "place {place}");
        }
        assert_eq!(push(&mut expiries, 6), 3);
    }

    #[test]
    fn a_snapshot_reads_the_counts_as_they_were_when_it_began() {
        let mut counts = Counts::default();
        counts.change(0).held = 1;
        // Snapshot 1 begins, then two changes come.
        counts.change(1).held += 1;
        counts.change(1).held += 1;
        assert_eq!(counts.at(1).held, 1);
        // Snapshot 2 begins after them: it sees both, and not what follows.
        assert_eq!(counts.at(2).held, 3);
        counts.change(2).held += 1;
        assert_eq!(counts.at(2).held, 3);
        assert_eq!(counts.at(3).held, 4);
    }

    #[test]
    // Plain threads on the real lock; the loom build models other things.
    #[cfg(not(loom))]
    fn a_snapshot_waiting_for_a_shard_holds_no_other() {
        use std::sync::mpsc;
        use std::thread;

        let schedule = Schedule::new(0, usize::MAX);
        let busy = schedule.shards[2].lock();
        let (reached, told) = mpsc::channel();
        thread::scope(|scope| {
            let snapshot = scope.spawn(|| {
                schedule.counts_calling(|i| {
                    if i == 2 {
                        reached.send(()).unwrap();
                    }
                })
            });
            told.recv().unwrap();
            // The snapshot is about to wait for shard 2, or waits already.
            for (i, shard) in schedule.shards.iter().enumerate().filter(|(i, _)| *i != 2) {
                assert!(shard.try_lock().is_some(), "the snapshot holds shard {i} as it waits");
            }
            drop(busy);
            assert_eq!(snapshot.join().unwrap(), HoldCounts::default());
        });
    }

    proptest! {
        // Few cases under Miri, which runs every step a thousand times slower.
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Pushes and passes interleaved, moments going back and forth: a
        /// pass takes only entries due, a pass that says nothing due is left
        /// has left none, and in the end every entry came out exactly once.
        #[test]
        fn passes_between_pushes_lose_nothing_and_take_nothing_early(
            steps in prop::collection::vec((0u8..3, 0u64..1_000, 1usize..4), 1..300),
        ) {
            let mut expiries = Expiries::default();
            let mut pushed: Vec<(Nanos, usize)> = Vec::new();
            let mut taken: Vec<(Nanos, usize)> = Vec::new();
            for (i, &(kind, moment, limit)) in steps.iter().enumerate() {
                match kind {
                    0 => _ = expiries.push_in_order(Due { at: moment, order: i }),
                    1 => expiries.push_apart(Due { at: moment, order: i }),
                    _ => {
                        let mut pass = Taken::default();
                        let more = expiries.take_due(moment, limit, &mut pass);
                        for due in pass.dues() {
                            prop_assert!(due.at <= moment, "{} taken at {}", due.at, moment);
                            taken.push((due.at, due.order));
                        }
                        prop_assert_eq!(more, expiries.first().is_some_and(|at| at <= moment));
                        continue;
                    }
                }
                pushed.push((moment, i));
                let heap_latest = expiries.out_of_order.iter().map(|due| due.at).max();
                prop_assert!(heap_latest.unwrap_or(0) <= expiries.latest_apart);
            }
            taken.extend(take_all(&mut expiries, Nanos::MAX, usize::MAX));
            taken.sort_unstable();
            pushed.sort_unstable();
            prop_assert_eq!(taken, pushed);
        }

        /// An entry pushed to the queue is found at the place its push gave
        /// for as long as it stays queued, whatever pushes, passes and moves
        /// to a smaller buffer come between (`peak` entries first, so that
        /// passes leave the queue oversized), and is not found once taken.
        #[test]
        fn a_queued_entry_is_found_at_its_place_until_taken(
            peak in 0usize..if cfg!(miri) { 40 } else { 3_000 },
            steps in prop::collection::vec((0u8..4, 0u64..3_000, 1usize..4), 1..100),
        ) {
            let mut expiries = Expiries::default();
            let mut places: Vec<(u32, usize)> = Vec::new();
            let mut taken = HashSet::new();
            for tag in 0..peak {
                let place = expiries.push_in_order(Due { at: tag as Nanos, order: tag });
                places.push((place.expect("pushed in order"), tag));
            }
            for (i, &(kind, moment, limit)) in steps.iter().enumerate() {
                let tag = peak + i;
                match kind {
                    0 => {
                        let place = expiries.push_in_order(Due { at: moment, order: tag });
                        places.extend(place.map(|place| (place, tag)));
                    }
                    1 => expiries.push_apart(Due { at: moment, order: tag }),
                    2 => {
                        let limit = if limit == 3 { usize::MAX } else { limit };
                        let mut pass = Taken::default();
                        expiries.take_due(moment, limit, &mut pass);
                        taken.extend(pass.orders().copied());
                    }
                    _ => {
                        if let Some(capacity) = expiries.queue_wanted() {
                            expiries.shrink_queue(VecDeque::with_capacity(capacity));
                        }
                    }
                }
                for &(place, tag) in &places {
                    let found = expiries.queued(place).map(|due| due.order);
                    match taken.contains(&tag) {
                        true => prop_assert_ne!(found, Some(tag)),
                        false => prop_assert_eq!(found, Some(tag)),
                    }
                }
            }
        }

        /// Whatever order deadlines arrive in, and however few a pass may
        /// pop, the passes take exactly those due, each once, and leave the
        /// first of the rest as the next moment.
        #[test]
        fn takes_exactly_what_is_due(
            moments in prop::collection::vec(0u64..1_000, 0..200),
            apart in prop::collection::vec(any::<bool>(), 1..8),
            now in 0u64..1_000,
            limit in 1usize..5,
        ) {
            let entries: Vec<(Nanos, usize)> = moments.iter().copied().zip(0..).collect();
            let mut rest = filled(&entries, &apart);
            let taken = take_all(&mut rest, now, limit);
            let mut expected: Vec<(Nanos, usize)> =
                entries.iter().copied().filter(|&(at, _)| at <= now).collect();
            expected.sort_unstable();
            prop_assert_eq!(taken, expected);
            prop_assert_eq!(rest.first(), moments.iter().copied().filter(|&at| at > now).min());
        }
    }
}
