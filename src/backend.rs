//! The seam between the engine and where stock and orders live.
//!
//! The engine validates input, owns the clock and the releaser thread, and
//! delivers events; a backend stores products and orders and applies the
//! contract's state changes atomically. Every time-dependent call takes `now`
//! from the engine, so a backend never reads a clock of its own. The one
//! backend today keeps everything in this process ([`crate::local`]); a store
//! shared across machines would implement the same trait.

use crate::ahead::{Lookup, Step};
use crate::clock::Nanos;
use crate::error::Result;
use crate::metrics::{HoldCounts, ProductOutcomes};
use crate::notify::Events;
use crate::order::{Line, OrderState, Stock};

/// An order as a backend reports it; the engine adds the wall-clock time.
pub(crate) struct OrderView {
    pub state: OrderState,
    pub lines: Vec<(String, u64)>,
    pub deadline: Nanos,
}

pub(crate) trait Backend: Send + Sync {
    /// Adds a product; fails if the id exists.
    fn add_product(&self, id: &str, name: &str, on_hand: u64) -> Result<()>;

    /// The product's name.
    fn product_name(&self, id: &str) -> Result<String>;

    /// The product's on_hand, reserved and available.
    fn stock(&self, id: &str) -> Result<Stock>;

    /// Restocks (`delta > 0`) or corrects (`delta < 0`) on_hand.
    fn update(&self, id: &str, delta: i64, events: &mut Events) -> Result<Stock>;

    /// Holds every line until `deadline`, or nothing. `usual_hold` says the
    /// hold lasts the engine's default hold time, so that (on a clock that
    /// never goes back) its deadline comes no earlier than those of the
    /// usual holds before it, bar threads racing: the backend may schedule
    /// it on that promise.
    fn hold(
        &self,
        order: &str,
        lines: &[Line<'_>],
        deadline: Nanos,
        usual_hold: bool,
        events: &mut Events,
    ) -> Result<()>;

    /// Confirms a held order whose deadline has not passed at `now`.
    fn confirm(&self, order: &str, now: Nanos, events: &mut Events) -> Result<()>;

    /// Cancels a held order whose deadline has not passed at `now`.
    fn cancel(&self, order: &str, now: Nanos, events: &mut Events) -> Result<()>;

    /// Moves a live hold's deadline `by` later; returns the new deadline.
    fn extend(&self, order: &str, by: Nanos, now: Nanos, events: &mut Events) -> Result<Nanos>;

    /// The order's state, lines and deadline as of `now`.
    fn status(&self, order: &str, now: Nanos, events: &mut Events) -> Result<OrderView>;

    /// Expires every hold whose deadline passed before `now` and forgets ended
    /// orders past their retention; returns how many holds it expired. Works
    /// in batches, each with a fresh buffer from `events` handed to `publish`
    /// when done, so that a mass expiry holds no lock for long and its events
    /// start flowing before it ends.
    ///
    /// It also expires what falls due while it forgets many orders: between
    /// one share of them and the next, it reads `later` for a fresh moment
    /// and, if anything is due by then, expires that before it goes on. It
    /// looks at most once a share of what it first had to forget, so that
    /// it ends however fast holds fall due. `later` answers None when the
    /// caller wants no more passes (say, the engine is closing).
    fn release_due_then<'n>(
        &self,
        now: Nanos,
        later: &dyn Fn() -> Option<Nanos>,
        events: &dyn Fn() -> Events<'n>,
        publish: &dyn Fn(Events<'n>),
    ) -> usize;

    /// [`Backend::release_due_then`] with no moment after `now`.
    #[cfg(test)]
    fn release_due<'n>(
        &self,
        now: Nanos,
        events: &dyn Fn() -> Events<'n>,
        publish: &dyn Fn(Events<'n>),
    ) -> usize {
        self.release_due_then(now, &|| None, events, publish)
    }

    /// The earliest moment at which [`Backend::release_due_then`] has work, if any.
    fn next_due(&self) -> Option<Nanos>;

    /// Holds started and ended so far, and units still held, read at once.
    fn hold_counts(&self) -> HoldCounts;

    /// Starts fetching into the cache what a call on `lookup` will read at
    /// `step` of reading a batch ahead ([`crate::ahead`]). Changes nothing; a
    /// backend with nothing worth fetching does nothing.
    fn fetch_ahead(&self, _lookup: Lookup<'_>, _step: Step) {}

    /// How the holds on one product ended so far.
    fn outcomes(&self, product: &str) -> Result<ProductOutcomes>;

    /// Lets go of every product and order, and of the memory that kept
    /// them: for a closed engine, once no call is left in progress, so
    /// that nothing reads them again.
    fn clear(&self);
}
