//! The release schedule: when each hold runs out and when each ended order
//! may be forgotten.
//!
//! Deadlines are split into shards by order id so that holding orders on many
//! threads does not meet on one lock; each shard keeps a min-heap. Ended
//! orders wait in one queue, in the order they ended, so that the memory
//! bound forgets exactly the oldest; ending takes that lock for one push,
//! after the order's stock is settled. A pass costs one lock per shard plus
//! the entries that fell due; live holds that are not due are never visited.
//! Every lock here is a leaf: nothing else is locked while one is held.
//!
//! Each shard also counts the holds that started and ended in it. An order's
//! start and end are counted in its own shard, the start before the order
//! becomes visible, so a snapshot taken with every shard locked never shows
//! more holds ended than started.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use super::OrderCell;
use crate::clock::Nanos;
use crate::metrics::HoldCounts;
use crate::order::OrderState;
use crate::sync::Mutex;

const SHARDS: usize = 64;

/// The most entries one pass takes before it lets go of the schedule. A
/// shard's lock is then held for at most this many heap pops (tens of
/// microseconds), so a block that schedules into the same shard during a
/// mass expiry waits no longer than that.
const BATCH: usize = 512;

struct Due {
    at: Nanos,
    order: Arc<OrderCell>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    // Reversed, so that the std max-heap yields the earliest moment first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

#[derive(Default)]
struct Shard {
    expiries: BinaryHeap<Due>,
    counts: HoldCounts,
}

/// What a pass over the schedule found due.
#[derive(Default)]
pub(super) struct DueWork {
    /// Orders whose (possibly since extended) deadline came up.
    pub expiries: Vec<Arc<OrderCell>>,
    /// Ended orders past their retention, or pushed out by the memory bound.
    pub forgotten: Vec<Arc<OrderCell>>,
    /// Whether entries due at `now` were left for another pass.
    pub more: bool,
}

pub(super) struct Schedule {
    shards: Box<[Mutex<Shard>]>,
    /// Ended orders, oldest first.
    remembered: Mutex<VecDeque<Due>>,
    retention: Nanos,
    max_remembered: usize,
}

impl Schedule {
    pub(super) fn new(retention: Nanos, max_remembered: usize) -> Schedule {
        Schedule {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            retention,
            remembered: Mutex::new(VecDeque::new()),
            max_remembered,
        }
    }

    fn shard(&self, order: &OrderCell) -> &Mutex<Shard> {
        &self.shards[order.shard % SHARDS]
    }

    /// Counts a new hold of `units` and schedules its expiry.
    pub(super) fn start(&self, order: &Arc<OrderCell>, deadline: Nanos, units: u128) {
        let mut shard = self.shard(order).lock();
        shard.counts.held += 1;
        shard.counts.held_units += units;
        shard.expiries.push(Self::expiry(order, deadline));
    }

    /// Looks at `order` again just after `deadline` (after an extension).
    pub(super) fn expire_after(&self, order: &Arc<OrderCell>, deadline: Nanos) {
        self.shard(order).lock().expiries.push(Self::expiry(order, deadline));
    }

    /// A hold confirmable at its deadline expires one nanosecond later.
    fn expiry(order: &Arc<OrderCell>, deadline: Nanos) -> Due {
        let at = deadline.saturating_add(1);
        Due { at, order: Arc::clone(order) }
    }

    /// Counts how a hold of `units` ended at `now` and remembers the order
    /// until its retention runs out; returns the oldest order, pushed out
    /// early, when more than the bound are remembered.
    pub(super) fn remember(
        &self,
        order: &Arc<OrderCell>,
        state: OrderState,
        units: u128,
        now: Nanos,
    ) -> Option<Arc<OrderCell>> {
        {
            let counts = &mut self.shard(order).lock().counts;
            counts.held_units -= units;
            match state {
                OrderState::Confirmed => counts.confirmed += 1,
                OrderState::Cancelled => counts.cancelled += 1,
                OrderState::Expired => counts.expired += 1,
                OrderState::Held => {}
            }
        }
        let at = now.saturating_add(self.retention);
        let mut remembered = self.remembered.lock();
        remembered.push_back(Due { at, order: Arc::clone(order) });
        if remembered.len() > self.max_remembered {
            return remembered.pop_front().map(|due| due.order);
        }
        None
    }

    /// Takes entries due at or before `now`, at most [`BATCH`] expiries and
    /// [`BATCH`] forgotten orders; `more` says whether due entries remain.
    pub(super) fn take_due(&self, now: Nanos) -> DueWork {
        let mut work = DueWork::default();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            while shard.expiries.peek().is_some_and(|due| due.at <= now) {
                if work.expiries.len() == BATCH {
                    work.more = true;
                    break;
                }
                work.expiries.extend(shard.expiries.pop().map(|due| due.order));
            }
        }
        // Orders join the queue in nearly the order they ended; one a few
        // nanoseconds out of order is forgotten a little late.
        let mut remembered = self.remembered.lock();
        while remembered.front().is_some_and(|due| due.at <= now) {
            if work.forgotten.len() == BATCH {
                work.more = true;
                break;
            }
            work.forgotten.extend(remembered.pop_front().map(|due| due.order));
        }
        work
    }

    /// The counts of every shard, read with all shards locked at once.
    pub(super) fn counts(&self) -> HoldCounts {
        let shards: Vec<_> = self.shards.iter().map(|shard| shard.lock()).collect();
        let mut total = HoldCounts::default();
        for shard in &shards {
            total += shard.counts;
        }
        total
    }

    /// The earliest moment any entry falls due.
    pub(super) fn next_due(&self) -> Option<Nanos> {
        let expiry =
            self.shards.iter().filter_map(|shard| shard.lock().expiries.peek().map(|d| d.at));
        let forget = self.remembered.lock().front().map(|due| due.at);
        expiry.chain(forget).min()
    }
}

/// The shard of an order whose id hashes to `hash` in the order map.
pub(super) fn shard_of(hash: u64) -> usize {
    // Bits the map itself makes less use of than the lowest and highest.
    (hash >> 32) as usize % SHARDS
}
