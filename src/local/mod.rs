//! The in-process backend: products and orders in concurrent maps, one lock
//! per product and one per order.
//!
//! Locks are taken in this order, so no two threads can wait on each other:
//! - holding an order: an order-map shard, then the products in ascending id
//!   order;
//! - ending an order: the order, then its products in ascending id order
//!   (all at once, so that no call sees it half ended), then, to remove
//!   orders pushed out by the memory bound, order-map shards one at a time
//!   with no product locked;
//! - holding an order whose id a forgotten order still keeps in the map:
//!   first that shard alone, to remove the forgotten order, then as above;
//! - schedule shards, and the queue of ended orders, are leaves: taken last
//!   (a hold or an end counts itself in its schedule shard with its
//!   products still locked), nothing else is locked while one is held;
//! - so are product-map shards: one is held only to find or add a product,
//!   whose handle a lookup copies out before it lets the shard go;
//! - the locks of spare orders' memory are only ever tried, never waited
//!   for ([`spares`]): a release pass holds one while it takes the orders
//!   it forgets out of the order map.
//!
//! A product's lock is held only to change its counts (stock and outcome
//! counters alike) together with the hold counts of the metrics, or to read
//! them.
//!
//! An ended order is forgotten the moment it leaves the queue of ended
//! orders (past its retention, or pushed out by the memory bound), which
//! marks it so under the queue's lock: from then on it reads as absent, no
//! call finds it and a block may take its id, though the order map may keep
//! it a while. Orders the bound pushes out leave the map a batch at a time:
//! the call whose end pushes out the 64th since the last batch removes them
//! all, reading ahead, so that their cache misses overlap. A release pass
//! removes the orders it forgets, and any such batch it was handed or left
//! unfinished, only once every hold due is released: stock comes back first,
//! and the pass holds no order-map shard meanwhile. It removes them 4,096 at
//! a time, and between one share and the next expires any hold fallen due
//! since it began (at most once a share of what it first had to forget, so
//! that the pass ends however fast holds fall due): a hold falling due while
//! a mass expiry's orders leave the map waits a share's time, milliseconds,
//! not for a million of them. One falling due while the pass is still
//! expiring waits for that to end. The map then holds no
//! more orders than it did before the deadline, when the expiring holds were
//! live, but for holds started since and a batch of those pushed out; the
//! pass's list of them takes 8 to 16 bytes an order besides.

mod idmap;
mod product;
mod schedule;
mod spares;

use std::borrow::Borrow;
use std::ops::Deref;
use std::sync::{atomic, Arc};
use std::{array, iter, mem, slice};

use compact_str::CompactString;

use self::idmap::{IdMap, Identified};
use self::product::{Counts, Product};
use self::schedule::{shard_of, DueWork, Schedule, BATCH};
use self::spares::{Spare, Spares};
use crate::ahead::{prefetch, Lookup, Step, PREFETCHES};
use crate::backend::{Backend, OrderView};
use crate::clock::Nanos;
use crate::error::{Error, Result};
use crate::metrics::{HoldCounts, ProductOutcomes};
use crate::notify::Events;
use crate::order::{Event, Line, OrderState, Stock};
use crate::sync::{AtomicBool, AtomicU32, Mutex, MutexGuard};
use crate::validate::{add_counts, MAX_COUNT};

/// What finishing a live hold gives: the deadline it had or now has.
type Finished = Result<Nanos>;

enum Phase {
    Held { deadline: Nanos },
    Ended { state: OrderState, deadline: Nanos },
}

/// An order's lines, one per product, sorted by product id: the order its
/// products are locked in. Most orders have one line, kept without an
/// allocation of its own. Several lines are reached through a thin pointer,
/// so that the enum takes the two words of one line and no tag: an order is
/// then 16 bytes smaller as `malloc` rounds it, and every order is fresh
/// memory.
enum Lines {
    One((Product, u64)),
    Many(Box<Box<[(Product, u64)]>>),
}

// The layout the comment above counts on: one line's two words, no tag.
const _: () = assert!(mem::size_of::<Lines>() == 2 * mem::size_of::<usize>());

impl Deref for Lines {
    type Target = [(Product, u64)];

    fn deref(&self) -> &[(Product, u64)] {
        match self {
            Lines::One(line) => slice::from_ref(line),
            Lines::Many(lines) => lines,
        }
    }
}

pub(crate) struct OrderCell {
    /// Kept inline when short, as most order ids are.
    id: CompactString,
    lines: Lines,
    phase: Mutex<Phase>,
    shard: u8,
    /// Set once the order leaves the queue of ended orders: it reads as
    /// absent, though the order map may keep it a while (see the module's
    /// documentation).
    forgotten: AtomicBool,
    /// Where its expiry joined its schedule shard's queue, for the order to
    /// take it out when it ends first (see [`Schedule::start`]). Read and
    /// written under that shard's lock only.
    place: AtomicU32,
}

// Its allocation with the reference counts, 88 bytes, is 96 with `malloc`'s
// header: every order is fresh memory, and 8 bytes more would make it 112.
// Where std's mutex is a futex word, as on Linux; elsewhere it starts with a
// pointer, and under loom the mutex and atomics are loom's, far larger.
#[cfg(all(target_os = "linux", not(loom)))]
const _: () = assert!(mem::size_of::<OrderCell>() <= 72);

/// The most forgotten orders a pass takes out of the order map before it
/// looks again for holds fallen due: a few milliseconds' work.
const FORGET_SHARE: usize = 4096;

impl Identified for Arc<OrderCell> {
    fn id(&self) -> &str {
        &self.id
    }

    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }
}

impl OrderCell {
    fn is_forgotten(&self) -> bool {
        self.forgotten.load(atomic::Ordering::Acquire)
    }

    fn mark_forgotten(&self) {
        self.forgotten.store(true, atomic::Ordering::Release);
    }

    fn view(&self, state: OrderState, deadline: Nanos) -> OrderView {
        let lines = self.lines.iter().map(|(p, q)| (p.id().to_owned(), *q)).collect();
        OrderView { state, lines, deadline }
    }

    /// Starts fetching the products of its first `count` lines.
    fn fetch_products(&self, count: usize) {
        self.lines.iter().take(count).for_each(|(product, _)| product.fetch());
    }

    /// All units the order holds. Wider than a count: lines on many products
    /// may each hold up to MAX_COUNT.
    fn units(&self) -> u128 {
        self.lines.iter().map(|(_, quantity)| u128::from(*quantity)).sum()
    }

    fn ended_event(&self, state: OrderState) -> Event {
        let lines = self.lines.iter().map(|(p, q)| (Arc::from(p.id()), *q)).collect();
        Event::HoldEnded { order: Arc::from(self.id.as_str()), state, lines }
    }
}

/// Starts fetching an order's cell and, just before it, the counts that
/// taking or dropping a handle on it changes.
fn fetch_cell(order: &Arc<OrderCell>) {
    let counts = 2 * mem::size_of::<usize>();
    let start = Arc::as_ptr(order).cast::<u8>().wrapping_sub(counts);
    prefetch(start, counts + mem::size_of::<OrderCell>());
}

/// Runs `each` on every order in turn, reading ahead where the CPU can: an
/// order's cell is fetched eight orders before its turn and, four before,
/// once the cell is in, `near` fetches what the cell leads to. The misses
/// of one order then overlap those of the next instead of following them.
/// Cells are only read ahead of their turn, never changed. Each order is
/// handed to `each` by value, for a caller to let it go while its cell is
/// still in the cache.
fn each_read_ahead<O: Borrow<Arc<OrderCell>>>(
    orders: impl IntoIterator<Item = O>,
    near: impl Fn(&Arc<OrderCell>),
    mut each: impl FnMut(O),
) {
    const CELL: usize = 8;
    const NEAR: usize = 4;
    if !PREFETCHES {
        return orders.into_iter().for_each(each);
    }
    // Order k sits at k % CELL from the moment it is fetched until its turn,
    // when order k + CELL is fetched. Empty places pushed in after the last
    // order let the last ones have their turns.
    let mut fetched: [Option<O>; CELL] = array::from_fn(|_| None);
    let padded = orders.into_iter().map(Some).chain(iter::repeat_with(|| None).take(CELL));
    for (k, order) in padded.enumerate() {
        if let Some(order) = &order {
            fetch_cell(order.borrow());
        }
        if let Some(ahead) = &fetched[(k + CELL - NEAR) % CELL] {
            near(ahead.borrow());
        }
        if let Some(turn) = mem::replace(&mut fetched[k % CELL], order) {
            each(turn);
        }
    }
}

/// Runs `body` with every line's product locked, in the lines' order
/// (ascending product id, the one order any call locks several products in).
/// A one-line order, the common case, keeps its one guard without a vector.
fn with_counts<R>(
    lines: &[(Product, u64)],
    body: impl FnOnce(&mut [MutexGuard<'_, Counts>]) -> R,
) -> R {
    match lines {
        [(product, _)] => body(slice::from_mut(&mut product.counts().lock())),
        lines => {
            let mut guards: Vec<_> =
                lines.iter().map(|(product, _)| product.counts().lock()).collect();
            body(&mut guards)
        }
    }
}

/// When an order that the memory bound pushes out, marked forgotten at
/// once, leaves the order map.
enum Forget<'a> {
    /// At once.
    Now,
    /// When the caller, which keeps it here, removes it.
    Later(&'a mut Vec<Arc<OrderCell>>),
}

pub(crate) struct LocalBackend {
    products: IdMap<Product>,
    orders: IdMap<Arc<OrderCell>>,
    schedule: Schedule,
    spares: Spares,
}

impl LocalBackend {
    pub(crate) fn new(retention: Nanos, max_remembered: usize) -> LocalBackend {
        LocalBackend {
            products: IdMap::new(),
            orders: IdMap::new(),
            schedule: Schedule::new(retention, max_remembered),
            spares: Spares::new(max_remembered),
        }
    }

    fn product(&self, id: &str) -> Result<Product> {
        match self.products.get(id) {
            Some(product) => Ok(product),
            None => Err(Error::UnknownProduct { product: id.to_owned() }),
        }
    }

    fn order(&self, id: &str) -> Result<Arc<OrderCell>> {
        let order = self.orders.get(id).filter(|order| !order.is_forgotten());
        order.ok_or(Error::UnknownOrder)
    }

    /// Sums lines per product, in ascending product id order.
    fn merge_lines(&self, lines: &[Line<'_>]) -> Result<Lines> {
        if let [line] = lines {
            return Ok(Lines::One((self.product(line.product)?, line.quantity)));
        }
        let mut sorted: Vec<(&str, u64)> = lines.iter().map(|l| (l.product, l.quantity)).collect();
        sorted.sort_unstable_by_key(|&(id, _)| id);
        let mut merged: Vec<(&str, u64)> = Vec::with_capacity(sorted.len());
        for (id, quantity) in sorted {
            match merged.last_mut() {
                // Engine::block_order refused sums past the bound already
                // (validate::summed_past_max); this guards other callers.
                Some((last, sum)) if *last == id => *sum = add_counts(*sum, quantity)?,
                _ => merged.push((id, quantity)),
            }
        }
        let products = merged.into_iter().map(|(id, quantity)| Ok((self.product(id)?, quantity)));
        let lines: Box<[_]> = products.collect::<Result<_>>()?;
        Ok(Lines::Many(Box::new(lines)))
    }

    /// Ends a held order: moves its units and records the outcome. The caller
    /// holds the order's lock, passed in as `phase`.
    fn end(
        &self,
        order: &Arc<OrderCell>,
        phase: &mut Phase,
        state: OrderState,
        now: Nanos,
        events: &mut Events,
        forget: Forget<'_>,
    ) {
        let Phase::Held { deadline } = *phase else {
            unreachable!("only a held order can end");
        };
        with_counts(&order.lines, |counts| {
            for ((_, quantity), counts) in order.lines.iter().zip(counts.iter_mut()) {
                counts.reserved -= quantity;
                if state == OrderState::Confirmed {
                    counts.on_hand -= quantity;
                }
                counts.note_outcome(state);
            }
            self.schedule.count_end(order, state, order.units());
        });
        *phase = Phase::Ended { state, deadline };
        events.add(|| order.ended_event(state));
        let (pushed_out, first) = self.schedule.remember(order, now);
        if let Some(at) = first {
            events.wake_releaser_by(at);
        }
        if let Some(mut pushed_out) = pushed_out {
            match forget {
                Forget::Now => self.remove_forgotten(pushed_out.drain(..), None),
                Forget::Later(later) => later.append(&mut pushed_out),
            }
            self.schedule.recycle(pushed_out);
        }
    }

    /// Takes forgotten orders out of the order map, reading ahead as a
    /// batch does ([`crate::ahead`]): each order's place in the map and its
    /// first product (which freeing it reaches) are fetched with what
    /// [`each_read_ahead`] fetches. Each order is let go once removed, its
    /// memory kept in `spares` when given and nothing else holds the order.
    fn remove_forgotten(
        &self,
        orders: impl IntoIterator<Item = Arc<OrderCell>>,
        mut spares: Option<&mut Vec<Spare>>,
    ) {
        let near = |order: &Arc<OrderCell>| {
            self.orders.fetch_place(self.orders.hash(&order.id));
            order.fetch_products(1);
        };
        each_read_ahead(orders, near, |order| {
            self.orders.remove(&order);
            if let Some(spares) = spares.as_deref_mut() {
                spares.extend(Spare::vacate(order).ok());
            }
        });
    }

    /// Runs `finish` on a held order whose deadline has not passed, or expires
    /// it (if it is still held) and reports why it cannot be finished.
    fn finish(
        &self,
        order_id: &str,
        now: Nanos,
        events: &mut Events,
        finish: impl FnOnce(&Self, &Arc<OrderCell>, &mut Phase, Nanos, &mut Events) -> Finished,
    ) -> Result<Nanos> {
        let order = self.order(order_id)?;
        let mut phase = order.phase.lock();
        match *phase {
            Phase::Held { deadline } if now <= deadline => {
                finish(self, &order, &mut phase, deadline, events)
            }
            Phase::Held { .. } => {
                self.end(&order, &mut phase, OrderState::Expired, now, events, Forget::Now);
                Err(Error::Expired)
            }
            Phase::Ended { state, .. } => Err(match state {
                OrderState::Confirmed => Error::AlreadyConfirmed,
                OrderState::Cancelled => Error::AlreadyCancelled,
                _ => Error::Expired,
            }),
        }
    }

    /// Takes every line's units, or none if a product has too few. The
    /// caller holds each line's product lock, passed in as `counts`.
    fn take(
        lines: &[(Product, u64)],
        counts: &mut [MutexGuard<'_, Counts>],
        events: &mut Events,
    ) -> Result<()> {
        for ((product, quantity), counts) in lines.iter().zip(counts.iter()) {
            let available = counts.available();
            if *quantity > available {
                return Err(Error::InsufficientStock {
                    product: product.id().to_owned(),
                    requested: *quantity,
                    available,
                });
            }
        }
        for ((product, quantity), counts) in lines.iter().zip(counts.iter_mut()) {
            counts.reserved += quantity;
            if counts.available() == 0 {
                events.add(|| Event::SoldOut { product: Arc::from(product.id()) });
            }
        }
        Ok(())
    }
}

impl Backend for LocalBackend {
    fn fetch_ahead(&self, lookup: Lookup<'_>, step: Step) {
        if !lookup.fetches() {
            return;
        }
        // What a block reads: the product and the order's place; what a
        // call on an order reads: the order, then its products; what a call
        // on a product reads: its place, where a new one goes, and the
        // product if it is there.
        let order_hash = |order: &str| self.orders.hash(order);
        match (lookup, step) {
            (Lookup::Block { product, order }, Step::Places) => {
                self.products.fetch_place(self.products.hash(product));
                self.orders.fetch_place(order_hash(order));
            }
            (Lookup::Product(product), Step::Places) => {
                self.products.fetch_place(self.products.hash(product));
            }
            (Lookup::Block { product, .. } | Lookup::Product(product), Step::Values) => {
                self.products.fetch_value(self.products.hash(product), Product::fetch);
            }
            (Lookup::Order(order), Step::Places) => self.orders.fetch_place(order_hash(order)),
            (Lookup::Order(order), Step::Values) => {
                self.orders.fetch_value(order_hash(order), fetch_cell);
            }
            (Lookup::Order(order), Step::Behind) => {
                // The first few products: a call on a long order waits for
                // the rest, which reading ahead would not cover in time.
                let products = |order: &Arc<OrderCell>| order.fetch_products(4);
                self.orders.fetch_value(order_hash(order), products);
            }
            _ => {}
        }
    }

    fn add_product(&self, id: &str, name: &str, on_hand: u64) -> Result<()> {
        match self.products.insert(self.products.hash(id), Product::new(id, name, on_hand)) {
            true => Ok(()),
            false => Err(Error::ProductExists),
        }
    }

    fn product_name(&self, id: &str) -> Result<String> {
        Ok(self.product(id)?.name().to_owned())
    }

    fn stock(&self, id: &str) -> Result<Stock> {
        let product = self.product(id)?;
        let counts = product.counts().lock();
        Ok(Stock::new(counts.on_hand, counts.reserved))
    }

    fn update(&self, id: &str, delta: i64, events: &mut Events) -> Result<Stock> {
        let product = self.product(id)?;
        let mut counts = product.counts().lock();
        let magnitude = delta.unsigned_abs();
        if delta > 0 {
            counts.on_hand = add_counts(counts.on_hand, magnitude)?;
        } else {
            if magnitude > MAX_COUNT {
                return Err(Error::Overflow);
            }
            let available = counts.available();
            if magnitude > available {
                return Err(Error::InsufficientStock {
                    product: id.to_owned(),
                    requested: magnitude,
                    available,
                });
            }
            counts.on_hand -= magnitude;
            if magnitude == available {
                events.add(|| Event::SoldOut { product: Arc::from(product.id()) });
            }
        }
        Ok(Stock::new(counts.on_hand, counts.reserved))
    }

    fn hold(
        &self,
        order_id: &str,
        lines: &[Line<'_>],
        deadline: Nanos,
        usual_hold: bool,
        events: &mut Events,
    ) -> Result<()> {
        // The order's place in the map is fetched before the products are
        // looked up, so that the two sets of misses overlap rather than
        // follow one another.
        let hash = self.orders.hash(order_id);
        self.orders.fetch_place(hash);
        let lines = self.merge_lines(lines)?;
        let shard = shard_of(hash);
        let (order, spare) = self.spares.order(shard, || OrderCell {
            id: CompactString::from(order_id),
            lines,
            phase: Mutex::new(Phase::Held { deadline }),
            shard,
            forgotten: AtomicBool::new(false),
            place: AtomicU32::new(0),
        });
        // A refused block's order was never seen by any other call.
        let refused = |order: Arc<OrderCell>, error: Error| {
            if spare {
                self.spares.give_back(shard, order);
            }
            Err(error)
        };
        let vacancy = match self.orders.vacancy_past(hash, order, |order| order.is_forgotten()) {
            Ok(vacancy) => vacancy,
            Err(order) => return refused(order, Error::DuplicateOrder),
        };
        let order = vacancy.value();
        let taken = with_counts(&order.lines, |counts| {
            Self::take(&order.lines, counts, events)?;
            // Counted before it becomes visible: nothing can end it uncounted.
            self.schedule.start(order, deadline, order.units(), usual_hold);
            Ok(())
        });
        if let Err(error) = taken {
            return refused(vacancy.into_value(), error);
        }
        vacancy.fill();
        Ok(())
    }

    fn confirm(&self, order_id: &str, now: Nanos, events: &mut Events) -> Result<()> {
        self.finish(order_id, now, events, |this, order, phase, deadline, events| {
            this.end(order, phase, OrderState::Confirmed, now, events, Forget::Now);
            Ok(deadline)
        })
        .map(drop)
    }

    fn cancel(&self, order_id: &str, now: Nanos, events: &mut Events) -> Result<()> {
        self.finish(order_id, now, events, |this, order, phase, deadline, events| {
            this.end(order, phase, OrderState::Cancelled, now, events, Forget::Now);
            Ok(deadline)
        })
        .map(drop)
    }

    fn extend(&self, order_id: &str, by: Nanos, now: Nanos, events: &mut Events) -> Result<Nanos> {
        // The hold's entry in the schedule stays as it is: it comes up
        // before the new deadline, and the pass that takes it looks again
        // then. So a hold keeps one entry however often it is extended.
        self.finish(order_id, now, events, |_, _, phase, deadline, _| {
            let later = deadline.checked_add(by).ok_or(Error::Overflow)?;
            *phase = Phase::Held { deadline: later };
            Ok(later)
        })
    }

    fn status(&self, order_id: &str, now: Nanos, events: &mut Events) -> Result<OrderView> {
        let order = self.order(order_id)?;
        let mut phase = order.phase.lock();
        if let Phase::Held { deadline } = *phase {
            if now > deadline {
                self.end(&order, &mut phase, OrderState::Expired, now, events, Forget::Now);
            }
        }
        Ok(match *phase {
            Phase::Held { deadline } => order.view(OrderState::Held, deadline),
            Phase::Ended { state, deadline } => order.view(state, deadline),
        })
    }

    fn release_due_then<'n>(
        &self,
        mut now: Nanos,
        later: &dyn Fn() -> Option<Nanos>,
        events: &dyn Fn() -> Events<'n>,
        publish: &dyn Fn(Events<'n>),
    ) -> usize {
        let mut expired = 0;
        // Every order the passes forget, removed from the order map at the end.
        let mut forgotten = Vec::new();
        // How often the forgetting may yet stop for holds fallen due: once a
        // share of what there was to forget when it began, so that a pass
        // ends however fast holds keep falling due.
        let mut looks = None;
        'passes: loop {
            let DueWork { expiries, forgotten: mut past_retention, more } =
                self.schedule.take_due(now);
            let expiries = expiries.into_orders().flatten();
            let mut batch = events();
            let mut looked_at = 0;
            // The cells and products of a million expiries are spread over
            // the heap: read ahead, their misses overlap.
            let near = |order: &Arc<OrderCell>| order.fetch_products(1);
            each_read_ahead(expiries, near, |order| {
                // A pass can take a whole heap of expiries: their events go
                // out a batch at a time, not held back until the last ended.
                if looked_at > 0 && looked_at % BATCH == 0 {
                    publish(mem::replace(&mut batch, events()));
                }
                looked_at += 1;
                let mut phase = order.phase.lock();
                match *phase {
                    Phase::Held { deadline } if deadline < now => {
                        let forget = Forget::Later(&mut forgotten);
                        self.end(&order, &mut phase, OrderState::Expired, now, &mut batch, forget);
                        expired += 1;
                    }
                    // Extended since its entry was made: looked at again
                    // just after the deadline it has now. A releaser that
                    // looked for its next moment while the entry was out
                    // (another thread's pass took it) must learn of it.
                    Phase::Held { deadline } => {
                        batch.wake_releaser_by(self.schedule.expire_after(&order, deadline));
                    }
                    Phase::Ended { .. } => {}
                }
            });
            publish(batch);
            forgotten.append(&mut past_retention);
            if more {
                continue;
            }
            // With those the bound pushed out that no call took yet.
            self.schedule.take_pushed_out(&mut forgotten);
            // A mass expiry pushes out as many orders as it ends, and taking
            // them out of the map takes as long as ending them did: holds
            // falling due meanwhile are expired between shares, not after.
            let looks = looks.get_or_insert(forgotten.len() / FORGET_SHARE);
            loop {
                let share = forgotten.len().saturating_sub(FORGET_SHARE);
                if share < forgotten.len() {
                    let orders = forgotten.drain(share..);
                    self.spares.gather(|spares| self.remove_forgotten(orders, spares));
                }
                if forgotten.is_empty() {
                    return expired;
                }
                if *looks == 0 {
                    continue;
                }
                *looks -= 1;
                let due = |at: Nanos| self.schedule.next_due().is_some_and(|next| next <= at);
                if let Some(at) = later().filter(|&at| due(at)) {
                    now = at;
                    continue 'passes;
                }
            }
        }
    }

    fn next_due(&self) -> Option<Nanos> {
        self.schedule.next_due()
    }

    fn hold_counts(&self) -> HoldCounts {
        self.schedule.counts()
    }

    fn outcomes(&self, id: &str) -> Result<ProductOutcomes> {
        let product = self.product(id)?;
        let counts = product.counts().lock();
        Ok(ProductOutcomes {
            confirmed: counts.confirmed,
            cancelled: counts.cancelled,
            expired: counts.expired,
        })
    }

    fn clear(&self) {
        self.schedule.clear();
        self.orders.clear();
        self.spares.clear();
        self.products.clear();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::collections::HashSet;
    use std::sync::atomic::AtomicU64;

    use super::*;

    const DEADLINE: Nanos = 1_000;

    fn hold(backend: &LocalBackend, order: &str, deadline: Nanos) -> Result<()> {
        let lines = [Line::new("p", 1)];
        backend.hold(order, &lines, deadline, true, &mut Events::collecting())
    }

    /// Whether the order map keeps an order with this id marked forgotten.
    fn keeps_forgotten(backend: &LocalBackend, order: &str) -> bool {
        backend.orders.get(order).is_some_and(|order| order.is_forgotten())
    }

    /// A release pass whose expiry pushes an ended order out of a memory
    /// bound of one. It publishes its events before it removes what it
    /// forgot from the order map: the map still keeps the order then, but
    /// it already reads as absent and its id is free; the pass then leaves
    /// the new order with that id where it is.
    #[test]
    fn an_order_a_release_pass_pushes_out_is_forgotten_before_the_pass_ends() {
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 3).unwrap();
        hold(&backend, "h", DEADLINE).unwrap();
        hold(&backend, "o", DEADLINE).unwrap();
        backend.confirm("o", DEADLINE - 1, &mut Events::collecting()).unwrap();
        let now = DEADLINE + 1;
        let state = |backend: &LocalBackend| {
            backend.status("o", now, &mut Events::collecting()).map(|view| view.state)
        };
        let seen = RefCell::new(Vec::new());
        let publish = |_: Events| {
            let kept = keeps_forgotten(&backend, "o");
            let confirm = backend.confirm("o", now, &mut Events::collecting());
            let found = state(&backend);
            seen.borrow_mut().push((kept, found, confirm, hold(&backend, "o", now + 100)));
        };
        assert_eq!(backend.release_due(now, &Events::collecting, &publish), 1);
        let absent = Err(Error::UnknownOrder);
        assert_eq!(seen.into_inner(), [(true, absent.clone(), absent.map(drop), Ok(()))]);
        assert_eq!(state(&backend), Ok(OrderState::Held), "the new order is in the map");
        assert_eq!(backend.stock("p").unwrap(), Stock::new(2, 1));
    }

    /// An order ended before its deadline lets go of its expiry at once, so
    /// that once the memory bound pushes it out it is freed (with its batch
    /// of orders pushed out, here by a pass that finds nothing due), not kept
    /// until the deadline; an extension leaves the hold's entry where it
    /// was, so the same holds for an extended order. A hold of a time other
    /// than the engine's sits apart from the queue, and keeps its order
    /// until due.
    #[test]
    fn an_order_ended_early_is_freed_once_it_leaves_the_map() {
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 10).unwrap();
        let watch = |id: &str| Arc::downgrade(&backend.orders.get(id).unwrap());
        let end = |id: &str, now: Nanos| backend.confirm(id, now, &mut Events::collecting());
        let pass = |now: Nanos| backend.release_due(now, &Events::collecting, &drop);
        for id in ["a", "b", "c"] {
            hold(&backend, id, DEADLINE).unwrap();
        }
        let lines = [Line::new("p", 1)];
        backend.hold("apart", &lines, DEADLINE, false, &mut Events::collecting()).unwrap();
        let (a, b, apart) = (watch("a"), watch("b"), watch("apart"));
        assert_eq!(backend.extend("b", 50, 1, &mut Events::collecting()), Ok(DEADLINE + 50));
        end("a", 2).unwrap();
        end("b", 3).unwrap();
        end("apart", 4).unwrap();
        end("c", 5).unwrap();
        assert!(a.upgrade().is_some() && b.upgrade().is_some(), "pushed out, not yet removed");
        assert_eq!(pass(6), 0);
        assert!(a.upgrade().is_none(), "pushed out by b's end, and freed");
        assert!(b.upgrade().is_none(), "extended, pushed out by the next end, and freed");
        assert!(apart.upgrade().is_some(), "pushed out by c's end, kept by its expiry");
        assert_eq!(pass(DEADLINE), 0);
        assert!(apart.upgrade().is_some(), "its expiry is not due yet");
        assert_eq!(pass(DEADLINE + 1), 0);
        assert!(apart.upgrade().is_none(), "freed once its expiry came up");
        assert_eq!(backend.stock("p").unwrap(), Stock::new(6, 0));
    }

    /// A pass with more than a share of orders to forget looks for holds
    /// fallen due between shares, at the moment `later` gives, and expires
    /// them before it goes on; with no later moment, or with a share to
    /// forget or less, they wait for the next pass.
    #[test]
    fn holds_falling_due_while_a_pass_forgets_expire_between_shares() {
        for (ended, later, late_expires) in [
            (2 * FORGET_SHARE, Some(DEADLINE + 20), true),
            (2 * FORGET_SHARE, Some(DEADLINE + 10), false),
            (2 * FORGET_SHARE, None, false),
            (FORGET_SHARE, Some(DEADLINE + 20), false),
        ] {
            // Each end pushes out the one before: as many to forget as ended.
            let backend = LocalBackend::new(1_000_000, 1);
            backend.add_product("p", "Product", 1 + ended as u64).unwrap();
            for i in 0..ended {
                hold(&backend, &format!("o{i}"), DEADLINE).unwrap();
            }
            hold(&backend, "late", DEADLINE + 10).unwrap();
            let asked = Cell::new(0);
            let ask = || {
                asked.set(asked.get() + 1);
                later
            };
            let expired = backend.release_due_then(DEADLINE + 1, &ask, &Events::collecting, &drop);
            let case = format!("{ended} ended, later {later:?}");
            assert_eq!(expired, ended + usize::from(late_expires), "{case}");
            let held = u64::from(!late_expires);
            assert_eq!(backend.stock("p").unwrap(), Stock::new(1 + ended as u64, held), "{case}");
            // Asked between the two shares only.
            assert_eq!(asked.get(), usize::from(ended > FORGET_SHARE), "{case}");
            // The bound keeps the order ended last, whichever the pass took
            // last (shard by shard): "late" if it expired, else one of these.
            let kept = (0..ended).filter(|i| backend.orders.get(&format!("o{i}")).is_some());
            assert_eq!(kept.count(), usize::from(!late_expires), "{case}: the rest forgotten");
        }
    }

    /// A pass stops its forgetting for holds fallen due at most once a share
    /// of what it first had to forget: a moment that always finds more due,
    /// and more to forget than a share, does not keep it going.
    #[test]
    fn a_pass_looks_for_holds_fallen_due_a_bounded_number_of_times() {
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 100 * FORGET_SHARE as u64).unwrap();
        for i in 0..2 * FORGET_SHARE {
            hold(&backend, &format!("o{i}"), DEADLINE).unwrap();
        }
        // Each look finds a share and one more due, to forget once ended.
        let asked = Cell::new(0);
        let later = || {
            asked.set(asked.get() + 1);
            let at = DEADLINE + 10 * asked.get();
            for i in 0..=FORGET_SHARE {
                hold(&backend, &format!("n{}-{i}", asked.get()), at - 1).unwrap();
            }
            (asked.get() <= 10).then_some(at)
        };
        let expired = backend.release_due_then(DEADLINE + 1, &later, &Events::collecting, &drop);
        assert_eq!(asked.get(), 1, "one share beyond the first to forget, one look");
        assert_eq!(expired, 3 * FORGET_SHARE + 1);
        assert_eq!(backend.stock("p").unwrap(), Stock::new(100 * FORGET_SHARE as u64, 0));
    }

    /// Reading ahead changes nothing of what is run: each order has its turn
    /// once, in the order given, handed over by value or by reference, and
    /// (where the CPU prefetches) what it leads to is fetched once, before
    /// its turn.
    #[test]
    fn reading_ahead_gives_every_order_its_turn_once_and_in_order() {
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 100).unwrap();
        let ids: Vec<String> = (0..20).map(|i| format!("o{i}")).collect();
        for id in &ids {
            hold(&backend, id, DEADLINE).unwrap();
        }
        let orders: Vec<_> = ids.iter().map(|id| backend.order(id).unwrap()).collect();
        let handles =
            |orders: &[Arc<OrderCell>]| orders.iter().map(Arc::strong_count).sum::<usize>();
        let before = handles(&orders);
        for count in 0..=orders.len() {
            for owned in [false, true] {
                let seen = RefCell::new(Vec::new());
                let note = |what: &'static str, order: &Arc<OrderCell>| {
                    seen.borrow_mut().push((what, order.id.to_string()));
                };
                let near = |order: &Arc<OrderCell>| note("near", order);
                if owned {
                    let orders = orders[..count].to_vec();
                    each_read_ahead(orders, near, |order| note("turn", &order));
                } else {
                    each_read_ahead(&orders[..count], near, |order| note("turn", order));
                }
                let seen = seen.into_inner();
                let at = |what: &str, id: &str| -> Vec<usize> {
                    let found = seen.iter().enumerate().filter(|(_, (w, i))| *w == what && i == id);
                    found.map(|(at, _)| at).collect()
                };
                let turns: Vec<&str> =
                    seen.iter().filter(|(w, _)| *w == "turn").map(|(_, id)| id.as_str()).collect();
                assert_eq!(turns, ids[..count], "{count} orders, owned: {owned}");
                for id in &ids[..count] {
                    let (near, turn) = (at("near", id), at("turn", id));
                    if PREFETCHES {
                        assert!(near.len() == 1 && near[0] < turn[0], "{id} of {count}: {seen:?}");
                    } else {
                        assert!(near.is_empty());
                    }
                }
            }
        }
        assert_eq!(handles(&orders), before, "every order handed over was let go");
    }

    /// Orders the memory bound pushes out stay in the order map, marked
    /// forgotten, until a batch of them has gathered: the call whose end
    /// pushes out the last of the batch takes them all out.
    #[test]
    fn orders_pushed_out_leave_the_map_a_batch_at_a_time() {
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 1_000).unwrap();
        let ids: Vec<String> = (0..=schedule::FORGET_BATCH).map(|i| format!("o{i}")).collect();
        let (last, batch) = ids.split_last().unwrap();
        for id in batch {
            hold(&backend, id, DEADLINE).unwrap();
            backend.confirm(id, 1, &mut Events::collecting()).unwrap();
        }
        let (kept, freed) = batch.split_last().unwrap();
        assert!(keeps_forgotten(&backend, &freed[0]), "the first pushed out waits for its batch");
        assert!(!keeps_forgotten(&backend, kept), "the last ended is remembered");
        hold(&backend, last, DEADLINE).unwrap();
        backend.confirm(last, 1, &mut Events::collecting()).unwrap();
        assert!(freed.iter().chain([kept]).all(|id| backend.orders.get(id).is_none()));
        assert_eq!(
            backend.status(last, 1, &mut Events::collecting()).unwrap().state,
            OrderState::Confirmed
        );
        assert_eq!(backend.stock("p").unwrap(), Stock::new(1_000 - ids.len() as u64, 0));
    }

    /// The buffer a batch of pushed-out orders gathered in goes back once
    /// the batch is out of the map, and the next batch but one gathers in
    /// it: the second batch makes the other of the two buffers that go
    /// round, and from the third on no batch makes a buffer, and none is
    /// freed. A release pass that takes the orders left over keeps the
    /// buffer they gathered in.
    #[test]
    fn the_buffers_of_pushed_out_orders_go_round() {
        const BATCH: usize = schedule::FORGET_BATCH;
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 10 * BATCH as u64).unwrap();
        let mut next = 0;
        let mut end_orders = |count: usize| {
            for _ in 0..count {
                let id = format!("o{next}");
                next += 1;
                hold(&backend, &id, DEADLINE).unwrap();
                backend.confirm(&id, 1, &mut Events::collecting()).unwrap();
            }
        };
        // The first end pushes out nothing; the next BATCH fill a batch.
        end_orders(1 + BATCH);
        assert_eq!(backend.schedule.buffers()[0], 0, "the batch handed over took its buffer");
        assert!(
            backend.schedule.buffers()[1] >= BATCH,
            "and gave it back: {:?}",
            backend.schedule.buffers()
        );
        for round in 1..4 {
            end_orders(BATCH);
            let [in_use, spare] = backend.schedule.buffers();
            assert!(in_use >= BATCH && spare >= BATCH, "round {round}: {in_use}, {spare}");
        }
        end_orders(BATCH / 2);
        assert_eq!(backend.release_due(2, &Events::collecting, &drop), 0);
        assert!(backend.schedule.buffers().iter().all(|&room| room >= BATCH));
        assert!(backend.orders.get(&format!("o{}", next - 2)).is_none(), "taken by the pass");
        assert_eq!(backend.stock("p").unwrap(), Stock::new(10 * BATCH as u64 - next as u64, 0));
    }

    /// However often a hold is extended, it keeps one entry in the schedule:
    /// the pass its entry comes up in looks again at the deadline it has
    /// then, asks for the releaser by that moment, and the hold expires just
    /// after it.
    #[test]
    fn a_hold_extended_again_and_again_keeps_one_entry() {
        let backend = LocalBackend::new(1_000_000, 10);
        backend.add_product("p", "Product", 1).unwrap();
        hold(&backend, "o", DEADLINE).unwrap();
        for i in 0..1_000 {
            let extended = backend.extend("o", 1, i, &mut Events::collecting());
            assert_eq!(extended, Ok(DEADLINE + i + 1));
        }
        assert_eq!(backend.schedule.entries(), 1);
        let last = DEADLINE + 1_000;
        let wake = Cell::new(None);
        let publish = |events: Events| wake.set(wake.get().or(events.wake_by()));
        assert_eq!(backend.release_due(DEADLINE + 1, &Events::collecting, &publish), 0);
        assert_eq!(wake.get(), Some(last + 1), "a releaser asleep meanwhile is woken for it");
        assert_eq!(backend.schedule.entries(), 1, "taken and pushed again");
        assert_eq!(backend.schedule.next_due(), Some(last + 1));
        // Extended again once its entry was pushed again: pushed once more.
        let later = last + 10;
        assert_eq!(backend.extend("o", 10, last, &mut Events::collecting()), Ok(later));
        wake.set(None);
        assert_eq!(backend.release_due(last + 1, &Events::collecting, &publish), 0);
        assert_eq!(wake.get(), Some(later + 1));
        assert_eq!(backend.schedule.next_due(), Some(later + 1));
        assert_eq!(backend.schedule.entries(), 1);
        assert_eq!(backend.release_due(later, &Events::collecting, &drop), 0);
        assert_eq!(backend.release_due(later + 1, &Events::collecting, &drop), 1);
        assert_eq!(backend.schedule.entries(), 0);
        assert_eq!(backend.stock("p").unwrap(), Stock::new(1, 0));
    }

    /// A release pass remembers every order it ended before the order's
    /// event goes out, with its batch of events: whenever a batch is
    /// published, of the orders the pass ended so far the newest `BOUND`
    /// read expired, and every older one reads absent, pushed out in the
    /// order they ended. The first batch asks the releaser to wake when the
    /// first of them is due to be forgotten, as none was remembered before.
    #[test]
    fn a_pass_remembers_what_it_ended_before_the_events_go_out() {
        const BOUND: usize = 20;
        const HOLDS: usize = 2 * schedule::BATCH + 7;
        const RETENTION: Nanos = 1_000_000;
        let backend = LocalBackend::new(RETENTION, BOUND);
        backend.add_product("p", "Product", HOLDS as u64).unwrap();
        for i in 0..HOLDS {
            hold(&backend, &format!("h{i}"), DEADLINE).unwrap();
        }
        let now = DEADLINE + 1;
        let (ended, wakes) = (RefCell::new(Vec::<String>::new()), RefCell::new(Vec::new()));
        let publish = |events: Events| {
            wakes.borrow_mut().push(events.wake_by());
            let mut ended = ended.borrow_mut();
            ended.extend(events.into_list().into_iter().map(|event| match event {
                Event::HoldEnded { order, state: OrderState::Expired, .. } => order.to_string(),
                other => panic!("not an expiry: {other:?}"),
            }));
            let states: Vec<_> = ended
                .iter()
                .map(|id| backend.status(id, now, &mut Events::collecting()).map(|v| v.state))
                .collect();
            let (older, newest) = states.split_at(ended.len().saturating_sub(BOUND));
            assert!(older.iter().all(|state| *state == Err(Error::UnknownOrder)), "{older:?}");
            assert!(newest.iter().all(|state| *state == Ok(OrderState::Expired)), "{newest:?}");
        };
        assert_eq!(backend.release_due(now, &Events::collecting, &publish), HOLDS);
        assert_eq!(ended.into_inner().len(), HOLDS);
        let wakes = wakes.into_inner();
        assert!(wakes.len() >= 3, "published {} batches", wakes.len());
        assert_eq!(wakes[0], Some(now + RETENTION));
        assert!(wakes[1..].iter().all(Option::is_none), "{wakes:?}");
        assert_eq!(backend.stock("p").unwrap(), Stock::new(HOLDS as u64, 0));
    }

    /// A pass that takes several rounds (at most a few expiries from each
    /// schedule shard at a time) removes what it forgot only after the
    /// last: the order the first round pushed out is kept, marked, until
    /// then, and under a memory bound of one only the last expired order
    /// is left.
    #[test]
    fn a_pass_of_several_rounds_removes_what_it_forgot_at_the_end() {
        const HOLDS: usize = 3 * schedule::BATCH;
        let backend = LocalBackend::new(1_000_000, 1);
        backend.add_product("p", "Product", 10 * HOLDS as u64).unwrap();
        hold(&backend, "o", DEADLINE).unwrap();
        backend.confirm("o", DEADLINE - 1, &mut Events::collecting()).unwrap();
        let ids: Vec<String> = (0..HOLDS).map(|i| format!("h{i}")).collect();
        for id in &ids {
            hold(&backend, id, DEADLINE).unwrap();
        }
        let rounds = RefCell::new(Vec::new());
        let publish = |_: Events| rounds.borrow_mut().push(keeps_forgotten(&backend, "o"));
        assert_eq!(backend.release_due(DEADLINE + 1, &Events::collecting, &publish), HOLDS);
        let rounds = rounds.into_inner();
        assert!(rounds.len() >= 3, "the pass took {} rounds", rounds.len());
        assert!(rounds.iter().all(|&kept| kept), "kept in every round: {rounds:?}");
        assert!(backend.orders.get("o").is_none(), "removed at the end");
        let kept = ids.iter().filter(|id| backend.orders.get(id).is_some()).count();
        assert_eq!(kept, 1, "one expired order remembered");
    }

    /// The address of the order kept under `id`, with no handle kept.
    fn address(backend: &LocalBackend, id: &str) -> usize {
        Arc::as_ptr(&backend.order(id).unwrap()) as usize
    }

    /// Holds that expire together under a memory bound of 64: the release
    /// pass forgets all but the last 64, whose memory the spare lists keep
    /// up to the bound (none once the engine is cleared). Later holds take
    /// those spares, each order written into the memory of one forgotten
    /// before, until none is left; the orders made so work as any other.
    #[test]
    fn orders_a_release_pass_forgets_are_the_memory_later_holds_take() {
        for clear in [false, true] {
            let backend = LocalBackend::new(1_000_000, 64);
            backend.add_product("p", "Product", 1_000).unwrap();
            let expiring: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
            for id in &expiring {
                hold(&backend, id, DEADLINE).unwrap();
            }
            let before: HashSet<usize> = expiring.iter().map(|id| address(&backend, id)).collect();
            let now = DEADLINE + 1;
            assert_eq!(backend.release_due(now, &Events::collecting, &|_| ()), 200);
            assert_eq!(backend.spares.count(), 64, "200 forgotten, 64 kept at most");
            if clear {
                backend.clear();
                assert_eq!(backend.spares.count(), 0, "cleared with the engine");
                continue;
            }
            let mut made = Vec::new();
            while backend.spares.count() > 0 {
                assert!(made.len() < 10_000, "spares left that no hold takes");
                let (kept, id) = (backend.spares.count(), format!("n{}", made.len()));
                hold(&backend, &id, now + DEADLINE).unwrap();
                let taken = backend.spares.count() < kept;
                assert!(!taken || before.contains(&address(&backend, &id)), "{id} not in a spare");
                made.push((id, taken));
            }
            assert_eq!(made.iter().filter(|(_, taken)| *taken).count(), 64);
            assert_eq!(backend.stock("p").unwrap(), Stock::new(1_000, made.len() as u64));
            for (k, (id, _)) in made.iter().enumerate() {
                let view = backend.status(id, now, &mut Events::collecting()).unwrap();
                assert_eq!((view.state, view.lines), (OrderState::Held, vec![("p".into(), 1)]));
                assert_eq!(hold(&backend, id, now + DEADLINE), Err(Error::DuplicateOrder));
                if k % 2 == 0 {
                    backend.confirm(id, now, &mut Events::collecting()).unwrap();
                } else {
                    backend.cancel(id, now, &mut Events::collecting()).unwrap();
                }
            }
            let paid = made.len().div_ceil(2) as u64;
            assert_eq!(backend.stock("p").unwrap(), Stock::new(1_000 - paid, 0));
        }
    }

    /// A block refused for its stock or for an id in use gives back the
    /// spare its order was written into: the spares stay as they were, and
    /// a refusal with no spare kept makes none.
    #[test]
    fn a_refused_block_gives_its_spare_back() {
        let backend = LocalBackend::new(1_000_000, 64);
        backend.add_product("p", "Product", 200).unwrap();
        let lines = |quantity| [Line::new("p", quantity)];
        let block = |id: &str, quantity| {
            backend.hold(id, &lines(quantity), DEADLINE * 10, true, &mut Events::collecting())
        };
        assert_eq!(
            block("x", 1_000),
            Err(Error::InsufficientStock { product: "p".into(), requested: 1_000, available: 200 })
        );
        assert_eq!(backend.spares.count(), 0, "nothing kept, nothing made");
        for i in 0..200 {
            hold(&backend, &format!("e{i}"), DEADLINE).unwrap();
        }
        assert_eq!(backend.release_due(DEADLINE + 1, &Events::collecting, &|_| ()), 200);
        block("live", 1).unwrap();
        let kept = backend.spares.count();
        assert!(kept > 0);
        for i in 0..100 {
            let refused = block(&format!("r{i}"), 1_000);
            assert!(matches!(refused, Err(Error::InsufficientStock { .. })), "{refused:?}");
            assert_eq!(block("live", 1), Err(Error::DuplicateOrder));
        }
        assert_eq!(backend.spares.count(), kept, "every refused block gave its spare back");
        assert_eq!(backend.stock("p").unwrap(), Stock::new(200, 1));
        let view = backend.status("live", DEADLINE, &mut Events::collecting()).unwrap();
        assert_eq!((view.state, view.lines), (OrderState::Held, vec![("p".into(), 1)]));
    }

    /// An order that something besides the map holds is let go as it is,
    /// not made a spare; a bound of no ended order remembered keeps none,
    /// and one of 17 keeps 32: a whole number for each of the 16 lists.
    #[test]
    fn an_order_still_held_elsewhere_or_a_bound_of_none_makes_no_spare() {
        let backend = LocalBackend::new(1_000_000, 1_000);
        backend.add_product("p", "Product", 10).unwrap();
        hold(&backend, "o", DEADLINE).unwrap();
        let order = backend.order("o").unwrap();
        let kept = Spare::vacate(order.clone()).map(drop).unwrap_err();
        assert!(Arc::ptr_eq(&kept, &order));
        assert_eq!((&*kept.id, kept.lines.len()), ("o", 1), "the cell is as it was");
        drop((kept, order));

        let backend = LocalBackend::new(1_000_000, 0);
        backend.add_product("p", "Product", 10).unwrap();
        for id in ["a", "b", "c"] {
            hold(&backend, id, DEADLINE).unwrap();
        }
        assert_eq!(backend.release_due(DEADLINE + 1, &Events::collecting, &|_| ()), 3);
        assert_eq!(backend.spares.count(), 0);

        let backend = LocalBackend::new(1_000_000, 17);
        backend.add_product("p", "Product", 1_000).unwrap();
        for i in 0..1_000 {
            hold(&backend, &format!("o{i}"), DEADLINE).unwrap();
        }
        assert_eq!(backend.release_due(DEADLINE + 1, &Events::collecting, &|_| ()), 1_000);
        assert_eq!(backend.spares.count(), 32);
    }

    /// Threads hold and end orders of their own while others run release
    /// passes that forget orders by the hundred under a small bound, so
    /// that spares are dealt out and taken at once. Each thread's orders
    /// read back as it made them, and the product's counts add up.
    #[test]
    fn spares_taken_while_passes_deal_them_out_make_sound_orders() {
        const THREADS: usize = 4;
        const ROUNDS: u64 = 300;
        let backend = LocalBackend::new(1, 32);
        backend.add_product("p", "Product", 1 << 40).unwrap();
        backend.add_product("q", "Product", 1 << 40).unwrap();
        let now = AtomicU64::new(DEADLINE);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (backend, now) = (&backend, &now);
                scope.spawn(move || {
                    for i in 0..ROUNDS {
                        let at = now.fetch_add(1, atomic::Ordering::Relaxed);
                        if t % 2 == 0 {
                            backend.release_due(at, &Events::collecting, &|_| ());
                            continue;
                        }
                        let (id, product) = (format!("t{t}-{i}"), ["p", "q"][(i % 2) as usize]);
                        let lines = [Line::new(product, 1 + i % 3)];
                        let events = &mut Events::collecting();
                        backend.hold(&id, &lines, at + 1_000_000, false, events).unwrap();
                        let view = backend.status(&id, at, events).unwrap();
                        assert_eq!(view.lines, vec![(product.to_owned(), 1 + i % 3)]);
                        assert_eq!(view.state, OrderState::Held);
                        backend.confirm(&id, at, events).unwrap();
                        // Expiring holds for the passes to forget.
                        for k in 0..4 {
                            hold(backend, &format!("{id}-x{k}"), at).unwrap();
                        }
                    }
                });
            }
        });
        let paid_per_thread: u64 = (0..ROUNDS).map(|i| 1 + i % 3).sum();
        let end = now.load(atomic::Ordering::Relaxed) + 2_000_000;
        backend.release_due(end, &Events::collecting, &|_| ());
        let on_hand = backend.stock("p").unwrap().on_hand + backend.stock("q").unwrap().on_hand;
        let odd = (THREADS / 2) as u64;
        assert_eq!(on_hand, 2 * (1 << 40) - odd * paid_per_thread);
        let held = backend.stock("p").unwrap().reserved + backend.stock("q").unwrap().reserved;
        assert_eq!(held, 0, "every hold ended");
    }
}
