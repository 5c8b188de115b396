//! Reading a batch ahead of the calls that run it.
//!
//! A call on a large catalogue spends most of its time waiting for memory:
//! the product's place in its map, the product itself, the order's place.
//! Each call takes locks, and a locked instruction lets no later load start
//! before it, so the misses of consecutive calls never overlap. A batch
//! knows which ids come next, though, and a prefetch is not held up that
//! way: [`ReadAhead`] asks the CPU for what a request a few places ahead
//! will read, in steps, each step starting from what the one before brought
//! in (a step takes a shard's read lock, only if it is free at once, to work
//! out addresses or to read a bucket the step before fetched), while the
//! caller runs the current request. Nothing is changed or reported: a step
//! that finds nothing fetches nothing, a request whose id the call will
//! refuse for its length is not looked for in the maps, and the calls
//! themselves are the caller's own, run as they would be without it. Where
//! the CPU has no prefetch instruction the steps would only cost, and none
//! is taken.

use crate::engine::Engine;
use crate::validate::MAX_ID_BYTES;

/// What a request of a batch will look up, for [`Engine::read_ahead`].
///
/// More kinds of lookup may come: a `match` on one needs an arm for the
/// others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup<'a> {
    /// A block of `product` for the new order `order`.
    Block { product: &'a str, order: &'a str },
    /// A call on an order: confirm, cancel, extend or status.
    Order(&'a str),
    /// A call on a product: adding it (a catalogue load), or reading or
    /// updating its stock.
    Product(&'a str),
    /// Nothing: a request that will be refused before it reaches the engine.
    Nothing,
}

impl Lookup<'_> {
    /// Whether reading ahead fetches anything for it in the maps: not for
    /// `Nothing`, nor for a request with an id the call will refuse for its
    /// length, which would be hashed for nothing (a C batch may pass ids of
    /// any length). The backend asks before it hashes: asked for every step
    /// as the steps were taken instead, it cost a read-ahead load of 5M
    /// products 3 to 14% more time. An id the call refuses for a NUL byte
    /// is read ahead all the same: telling would take a scan of every id,
    /// and it costs a short id's fetches at most.
    pub(crate) fn fetches(self) -> bool {
        let fits = |id: &str| !id.is_empty() && id.len() <= MAX_ID_BYTES;
        match self {
            Lookup::Block { product, order } => fits(product) && fits(order),
            Lookup::Order(id) | Lookup::Product(id) => fits(id),
            Lookup::Nothing => false,
        }
    }
}

/// The steps of reading ahead, each taken this many requests before the
/// request runs: far enough for memory to answer (a miss costs several
/// calls' worth of work on the ids), near enough that what was fetched is
/// still in the cache when it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The ids' own bytes, which hashing them reads.
    Ids,
    /// The places in the maps where the ids are looked for.
    Places,
    /// The values found there: the product, or the order.
    Values,
    /// What an order reaches: the products of its lines.
    Behind,
}

impl Step {
    /// How many requests ahead of the one running this step is taken.
    const fn distance(self) -> usize {
        match self {
            Step::Ids => 12,
            Step::Places => 8,
            Step::Values => 4,
            Step::Behind => 2,
        }
    }
}

/// The items of a batch in order, each yielded once, with what the items
/// after it will look up fetched meanwhile (see the module's documentation).
/// Made by [`Engine::read_ahead`].
pub struct ReadAhead<'e, 'i, T, F> {
    engine: &'e Engine,
    items: &'i [T],
    lookup: F,
    next: usize,
}

impl<'e, 'i, T, F> ReadAhead<'e, 'i, T, F>
where
    F: Fn(&'i T) -> Lookup<'i>,
{
    pub(crate) fn new(engine: &'e Engine, items: &'i [T], lookup: F) -> Self {
        ReadAhead { engine, items, lookup, next: 0 }
    }

    /// Takes every step due before item `at` runs. The first item also takes
    /// the steps the items before it would have taken for those that follow.
    /// An engine closed meanwhile takes no step past the ids. The caller's
    /// `lookup` runs before the engine counts this as a call in progress, so
    /// that a lookup may call the engine, even close it.
    fn fetch_for(&self, at: usize) {
        if !PREFETCHES {
            return;
        }
        let lookup_at = |index: usize| self.items.get(index).map(|item| (self.lookup)(item));
        if at == 0 {
            for step in [Step::Ids, Step::Places, Step::Values, Step::Behind] {
                for lookup in (0..step.distance()).filter_map(lookup_at) {
                    self.take(&[(step, Some(lookup))]);
                }
            }
        }
        let due = [Step::Ids, Step::Places, Step::Values, Step::Behind]
            .map(|step| (step, lookup_at(at + step.distance())));
        self.take(&due);
    }

    /// Takes each step for its lookup: the ids' bytes at once, the others
    /// with the engine entered.
    fn take(&self, steps: &[(Step, Option<Lookup<'_>>)]) {
        let due = || {
            let found = steps.iter().filter_map(|&(step, lookup)| Some((step, lookup?)));
            found.filter(|&(_, lookup)| lookup != Lookup::Nothing)
        };
        let mut in_engine = false;
        for (step, lookup) in due() {
            match (step, lookup) {
                (Step::Ids, Lookup::Block { product, order }) => {
                    prefetch_str(product);
                    prefetch_str(order);
                }
                (Step::Ids, Lookup::Order(id) | Lookup::Product(id)) => prefetch_str(id),
                _ => in_engine = true,
            }
        }
        if in_engine {
            self.engine.with_backend(|backend| {
                for (step, lookup) in due().filter(|&(step, _)| step != Step::Ids) {
                    backend.fetch_ahead(lookup, step);
                }
            });
        }
    }
}

impl<'i, T, F> Iterator for ReadAhead<'_, 'i, T, F>
where
    F: Fn(&'i T) -> Lookup<'i>,
{
    type Item = &'i T;

    fn next(&mut self) -> Option<&'i T> {
        let item = self.items.get(self.next)?;
        self.fetch_for(self.next);
        self.next += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.items.len() - self.next;
        (left, Some(left))
    }
}

impl<'i, T, F> ExactSizeIterator for ReadAhead<'_, 'i, T, F> where F: Fn(&'i T) -> Lookup<'i> {}

/// Whether [`prefetch_line`] asks the CPU for anything. Miri counts as one
/// that does, so that it checks every step, whose fetches it skips.
pub(crate) const PREFETCHES: bool = cfg!(target_arch = "x86_64");

/// Asks the CPU to bring the cache line at `at` in, without waiting for it.
/// Never faults, whatever the address; a no-op where there is no such
/// instruction to hand, and under Miri, which has none.
#[inline]
pub(crate) fn prefetch_line(at: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: a prefetch reads nothing the program can see and does not
    // fault on any address; SSE, which it belongs to, is part of x86_64.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at.cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = at;
}

/// Asks the CPU to start bringing the `len` bytes from `start` into its
/// cache, without waiting for them: for a front door that reads its own
/// batches ahead, as [`Engine::read_ahead`] reads the engine's. Reads
/// nothing the program can see and never faults, whatever the address. A
/// length of 0 asks for the line at `start`; only the first 4 KiB of a
/// longer span are asked for, which keeps a call short and leaves most of
/// the first-level cache to what is in it. Does nothing where the CPU has
/// no prefetch instruction to hand (only x86_64 has one here).
pub fn prefetch(start: *const u8, len: usize) {
    const LINE: usize = 64;
    let first = start as usize & !(LINE - 1);
    let last = (start as usize).saturating_add(len.clamp(1, PREFETCH_MAX) - 1) & !(LINE - 1);
    for line in (first..=last).step_by(LINE) {
        prefetch_line(start.wrapping_add(line.wrapping_sub(start as usize)));
    }
}

/// The most bytes [`prefetch`] asks for at once.
const PREFETCH_MAX: usize = 4096;

/// Prefetches the first cache line of `text`'s bytes.
fn prefetch_str(text: &str) {
    prefetch_line(text.as_ptr());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Line, Options};

    /// An engine with products `p0` to `p4`, orders `o0` to `o9` held (one
    /// of several lines) and `o10` to `o14` confirmed.
    fn engine() -> Engine {
        let engine = Engine::new(Options::manual()).unwrap();
        for product in 0..5 {
            engine.add_product(&format!("p{product}"), "P", 100).unwrap();
        }
        for order in 0..15 {
            let (one, other) = (format!("p{}", order % 5), format!("p{}", (order + 1) % 5));
            let lines = [Line::new(&one, 1), Line::new(&other, 2)];
            let lines = if order == 3 { &lines[..] } else { &lines[..1] };
            engine.block_order(&format!("o{order}"), lines, None).unwrap();
            if order >= 10 {
                engine.confirm(&format!("o{order}")).unwrap();
            }
        }
        engine
    }

    /// Requests of every kind: blocks of known and unknown products with new
    /// and taken order ids, calls on held, ended and unknown orders, and
    /// requests refused before the engine.
    fn lookup(item: &(u8, String, String)) -> Lookup<'_> {
        match item.0 {
            0 => Lookup::Block { product: &item.1, order: &item.2 },
            1 => Lookup::Order(&item.2),
            2 => Lookup::Product(&item.1),
            _ => Lookup::Nothing,
        }
    }

    fn items(len: usize) -> Vec<(u8, String, String)> {
        let item = |i: usize| ((i % 4) as u8, format!("p{}", i % 7), format!("o{}", i % 20));
        (0..len).map(item).collect()
    }

    #[test]
    fn ids_the_call_refuses_for_their_length_are_not_fetched() {
        let (long, longest) = ("i".repeat(MAX_ID_BYTES + 1), "i".repeat(MAX_ID_BYTES));
        for (lookup, fetches) in [
            (Lookup::Block { product: "p", order: "o" }, true),
            (Lookup::Block { product: &longest, order: &longest }, true),
            (Lookup::Block { product: &long, order: "o" }, false),
            (Lookup::Block { product: "p", order: &long }, false),
            (Lookup::Block { product: "", order: "o" }, false),
            (Lookup::Order(&longest), true),
            (Lookup::Order(&long), false),
            (Lookup::Order(""), false),
            (Lookup::Product("p"), true),
            (Lookup::Product(""), false),
            (Lookup::Product(&long), false),
            (Lookup::Product(&"é".repeat(MAX_ID_BYTES / 2)), true),
            (Lookup::Product(&"é".repeat(MAX_ID_BYTES / 2 + 1)), false),
            (Lookup::Nothing, false),
        ] {
            assert_eq!(lookup.fetches(), fetches, "{lookup:?}");
        }
    }

    #[test]
    fn yields_every_item_once_in_order() {
        let engine = engine();
        for len in [0, 1, 2, 3, 5, 8, 12, 13, 40] {
            let items = items(len);
            let mut ahead = engine.read_ahead(&items, lookup);
            assert_eq!(ahead.len(), len);
            let mut seen = Vec::new();
            while let Some(item) = ahead.next() {
                seen.push(item.clone());
                assert_eq!(ahead.len(), len - seen.len());
            }
            assert_eq!(seen, items, "{len} items");
        }
    }

    #[test]
    fn reading_ahead_changes_and_counts_nothing() {
        let engine = engine();
        let statuses = |engine: &Engine| {
            (0..20).map(|order| engine.status(&format!("o{order}"))).collect::<Vec<_>>()
        };
        let held = statuses(&engine);
        let before = (engine.metrics().unwrap(), engine.stock("p0").unwrap());
        assert_eq!(engine.read_ahead(&items(40), lookup).count(), 40);
        assert_eq!((engine.metrics().unwrap(), engine.stock("p0").unwrap()), before);
        assert_eq!(statuses(&engine), held);
    }

    /// [`lookup`], which closes the engine on its call after `close_at`.
    fn closing_lookup<'a>(
        engine: &'a Engine,
        seen: &'a std::cell::Cell<usize>,
        close_at: usize,
    ) -> impl Fn(&'a (u8, String, String)) -> Lookup<'a> {
        move |item| {
            seen.set(seen.get() + 1);
            if seen.get() == close_at + 1 {
                engine.close();
            }
            lookup(item)
        }
    }

    #[test]
    fn a_lookup_may_close_the_engine() {
        for close_at in [0, 1, 5, 17] {
            let engine = engine();
            let items = items(30);
            let seen = std::cell::Cell::new(0);
            let closing = closing_lookup(&engine, &seen, close_at);
            assert_eq!(engine.read_ahead(&items, closing).count(), 30, "closed at {close_at}");
            assert!(engine.is_closed());
        }
    }

    #[test]
    fn the_caller_may_close_the_engine_midway() {
        let engine = engine();
        let items = items(30);
        let mut answers = Vec::new();
        for (at, item) in engine.read_ahead(&items, lookup).enumerate() {
            if at == 10 {
                engine.close();
            }
            answers.push(engine.available(&item.1).err());
        }
        assert_eq!(answers.len(), 30);
        assert!(answers[..10].iter().all(|answer| answer != &Some(Error::Closed)));
        assert!(answers[10..].iter().all(|answer| answer == &Some(Error::Closed)));
    }
}

#[cfg(test)]
mod prefetch_tests {
    use super::*;

    /// Returns, neither panicking (on overflow, in a debug build) nor taking
    /// for ever, whatever the span.
    #[test]
    fn prefetch_takes_any_address_and_length() {
        let bytes = [7u8; 300];
        for (start, len) in [
            (bytes.as_ptr(), bytes.len()),
            (bytes.as_ptr(), 0),
            (std::ptr::null(), 0),
            (std::ptr::null(), usize::MAX),
            (usize::MAX as *const u8, 1),
            ((usize::MAX - 10) as *const u8, 5),
            ((usize::MAX - 100) as *const u8, usize::MAX),
            (0x1000 as *const u8, 1 << 40),
        ] {
            prefetch(start, len);
        }
    }
}
