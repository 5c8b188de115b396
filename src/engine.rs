//! The engine: the public face of the core. It checks input, reads the clock,
//! runs the releaser and hands the work to the backend.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ahead::{Lookup, ReadAhead};
use crate::backend::{Backend, OrderView};
use crate::clock::{nanos, Clock, ClockKind, Nanos};
use crate::error::{Error, ErrorCode, Result};
use crate::fork;
use crate::local::LocalBackend;
use crate::metrics::{prometheus, Metrics, ProductOutcomes, Refusals};
use crate::notify::{Callback, Events, InProgress, Notifier, SubscriptionId};
use crate::order::{Deadline, Event, Line, OrderStatus, Stock};
use crate::releaser::{self, Alarm};
use crate::sync::std_locks::Mutex;
use crate::validate::{check_count, check_id, check_line, check_name, summed_past_max};
use std::sync::mpsc::Receiver;

/// The hold time when none is given: five minutes.
pub const DEFAULT_HOLD_TIME: Duration = Duration::from_secs(300);

/// The longest hold time an engine takes as its own, 2^63 - 1 nanoseconds
/// (about 292 years): the longest every front door's duration type carries.
/// A longer one would leave a block with no deadline to give once the
/// clock had run for what is left of the 64-bit range, which for a hold
/// time near it comes at once.
pub const MAX_HOLD_TIME: Duration = Duration::from_nanos(i64::MAX as u64);

/// How long ended orders are remembered by default: one hour.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);

/// How many ended orders are remembered at most by default.
pub const DEFAULT_MAX_REMEMBERED: usize = 1_000_000;

/// How an engine is set up. `Options::default()` is what production wants;
/// [`Options::manual`] is what deterministic tests want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long a hold lasts when the caller gives no time of its own: above
    /// zero and at most [`MAX_HOLD_TIME`].
    pub hold_time: Duration,
    /// How long an ended order is remembered, so that a late confirm is told
    /// "expired" and its id cannot be reused.
    pub retention: Duration,
    /// The most ended orders remembered at once; past it the oldest are
    /// forgotten early (of orders that one release pass ended, in no set
    /// order). An order is freed once it is forgotten, has left the order
    /// map and the release schedule has let it go; the memory of up to this
    /// many orders that release passes forgot (rounded up to a multiple of
    /// 16) is kept for later holds to reuse, so that a mass expiry's orders
    /// do not all go back to the allocator from one thread, and let go when
    /// the engine closes. Orders the bound pushes out leave the map 64 at a
    /// time, and any left over at the end of a release pass; those past
    /// their retention, at the end of the pass that forgets them, once the
    /// holds it expires are back in stock. The schedule lets go of an order
    /// when it ends, for a hold of the engine's
    /// own hold time that ends by its first deadline, extended or not, as
    /// most do (bar the odd one that raced another into the schedule); at
    /// its last deadline, for any other. It keeps 16 bytes of every hold
    /// until its deadline, one entry however often the hold is extended.
    pub max_remembered: usize,
    /// Which clock deadlines are measured on.
    pub clock: ClockKind,
    /// Whether a background thread releases expired holds. Without it the
    /// caller triggers release ([`Engine::release_expired`]); with the manual
    /// clock no thread runs and [`Engine::advance`] releases what fell due.
    pub background_release: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            hold_time: DEFAULT_HOLD_TIME,
            retention: DEFAULT_RETENTION,
            max_remembered: DEFAULT_MAX_REMEMBERED,
            clock: ClockKind::System,
            background_release: true,
        }
    }
}

impl Options {
    /// The default options on the manual clock, with no thread.
    pub fn manual() -> Options {
        Options { clock: ClockKind::Manual, background_release: false, ..Options::default() }
    }
}

/// What the engine and its releaser thread share.
pub(crate) struct Shared {
    backend: Box<dyn Backend>,
    clock: Clock,
    hold_time: Nanos,
    closed: AtomicBool,
    /// The fork generation the engine was made in (see [`crate::fork`]).
    born: u64,
    pub(crate) alarm: Alarm,
    notifier: Notifier,
    refusals: Refusals,
}

impl Shared {
    /// The background releaser's pass: releases what fell due; nothing once
    /// the engine is closed, so that a pass never publishes after the
    /// notifier stopped.
    pub(crate) fn release_due(&self) -> usize {
        match self.enter() {
            Ok(call) => self.release_due_within(&call.events()),
            Err(_) => 0,
        }
    }

    /// Releases what fell due inside a call already entered, collecting
    /// events as that call's buffer `call` does.
    fn release_due_within(&self, call: &Events) -> usize {
        let later = || (!self.is_closed()).then(|| self.clock.now());
        let publish = |events| self.finish(events);
        self.backend.release_due_then(self.clock.now(), &later, &|| call.another(), &publish)
    }

    /// Counts the caller among the calls in progress, which a close waits
    /// for (see [`Notifier::enter_call`]), then fails if the engine is
    /// closed. A closed engine is refused before the count too: only calls
    /// that began before the close can hold the close up, never the stream
    /// of calls refused after it.
    fn enter(&self) -> Result<InProgress<'_>> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let call = self.notifier.enter_call();
        if self.is_closed() {
            return Err(Error::Closed);
        }
        Ok(call)
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || fork::forked_since(self.born)
    }

    /// Hands a call's (or a release batch's) events to the notifier, and
    /// wakes the releaser by the moment the call needs it awake: a first
    /// ended order to forget when its retention runs out, which a releaser
    /// asleep until a later deadline would otherwise keep, refusing its id,
    /// until that deadline.
    fn finish(&self, events: Events) {
        if let Some(at) = events.wake_by() {
            self.alarm.schedule(at);
        }
        self.notifier.publish(events);
    }

    pub(crate) fn next_due(&self) -> Option<Nanos> {
        self.backend.next_due()
    }

    pub(crate) fn instant(&self, at: Nanos) -> Option<Instant> {
        self.clock.instant(at)
    }

    fn deadline(&self, at: Nanos) -> Deadline {
        Deadline { since_start: Duration::from_nanos(at), wall: self.clock.wall(at) }
    }
}

/// An inventory reservation engine. Every method takes `&self` and may be
/// called from any number of threads at once; an `Engine` is usually shared
/// in an `Arc`. Methods lock only the products and orders they touch, each for
/// the few instructions it takes to change their counts; none blocks on I/O.
///
/// Dropping the engine closes it.
pub struct Engine {
    shared: Arc<Shared>,
    releaser: Mutex<Option<JoinHandle<()>>>,
    /// Held for the whole of a close, so that a second close waits for it.
    closing: Mutex<()>,
}

impl Engine {
    /// Starts an engine. Fails with [`Error::InvalidDuration`] for a zero hold
    /// time, [`Error::Overflow`] for a time that does not fit 64-bit
    /// nanoseconds or a hold time past [`MAX_HOLD_TIME`], and
    /// [`Error::Closed`] when the operating system refuses the background
    /// releaser's thread.
    pub fn new(options: Options) -> Result<Engine> {
        let hold_time = nanos(options.hold_time)?;
        if hold_time == 0 {
            return Err(Error::InvalidDuration);
        }
        if options.hold_time > MAX_HOLD_TIME {
            return Err(Error::Overflow);
        }
        let retention = nanos(options.retention)?;
        let shared = Arc::new(Shared {
            backend: Box::new(LocalBackend::new(retention, options.max_remembered)),
            clock: Clock::new(options.clock),
            hold_time,
            closed: AtomicBool::new(false),
            born: fork::generation(),
            alarm: Alarm::new(),
            notifier: Notifier::default(),
            refusals: Refusals::default(),
        });
        let engine = Engine { shared, releaser: Mutex::new(None), closing: Mutex::new(()) };
        if options.background_release {
            engine.start_releaser()?;
        }
        Ok(engine)
    }

    /// Starts the background releaser if it is not running. Does nothing on
    /// the manual clock, where [`Engine::advance`] releases what fell due.
    /// Fails with [`Error::Closed`] on a closed engine or when the operating
    /// system refuses a new thread.
    pub fn start_releaser(&self) -> Result<()> {
        let (shared, _call) = self.open()?;
        let mut releaser = self.releaser.lock();
        // Checked again under the lock a close takes the releaser with: a
        // close that took it first would never join a thread started now.
        if self.is_closed() {
            return Err(Error::Closed);
        }
        if releaser.is_some() || shared.clock.is_manual() {
            return Ok(());
        }
        let thread = releaser::spawn(Arc::clone(&self.shared)).map_err(|_| Error::Closed)?;
        *releaser = Some(thread);
        Ok(())
    }

    /// Whether the calling thread is this engine's notifier thread, inside
    /// one of its callbacks: there [`Engine::close`] and
    /// [`Engine::flush_events`] cannot wait for that thread, and return
    /// without waiting for it.
    pub fn is_notifier_thread(&self) -> bool {
        self.shared.notifier.on_notifier_thread()
    }

    /// Whether the engine has its background releaser thread: never once it
    /// is closed, also by a close from an event callback, which tells the
    /// thread to stop (it may finish a pass) without joining it. An engine
    /// made before the process forked into this child has none here (the
    /// thread was the parent's), and its lock, which a parent thread may
    /// have held at the fork, is not touched.
    pub fn has_releaser(&self) -> bool {
        !self.is_closed() && self.releaser.lock().is_some()
    }

    /// The engine for a call that publishes nothing, counted among the
    /// calls in progress, which a close waits for, until the second value
    /// is dropped.
    fn open(&self) -> Result<(&Shared, InProgress<'_>)> {
        let shared = &*self.shared;
        Ok((shared, shared.enter()?))
    }

    /// The engine with the caller counted among the calls in progress until
    /// the guard drops: for a front door whose own work around the engine's
    /// calls (reading C arguments, writing outputs) must be done before a
    /// close returns.
    pub(crate) fn entered(&self) -> Result<Entered<'_>> {
        let (_, call) = self.open()?;
        Ok(Entered { engine: self, _call: call })
    }

    /// Runs `work` on the backend of an open engine, counted among the calls
    /// in progress; nothing on a closed one.
    pub(crate) fn with_backend(&self, work: impl FnOnce(&dyn Backend)) {
        if let Ok((shared, _call)) = self.open() {
            work(&*shared.backend);
        }
    }

    /// Runs an operation on an open engine with an event buffer, then
    /// publishes what it collected, whether the call succeeded or not (a
    /// confirm that finds the deadline passed expires the hold and fails),
    /// and counts a refusal.
    fn run<T>(&self, call: impl FnOnce(&Shared, &mut Events) -> Result<T>) -> Result<T> {
        let shared = &*self.shared;
        let entered = shared.enter()?;
        let mut events = entered.events();
        let result = call(shared, &mut events);
        shared.finish(events);
        if let Err(error) = &result {
            shared.refusals.note(error.code());
        }
        result
    }

    /// Yields `items` in order, each once, for the caller to run one by one,
    /// and meanwhile fetches into the cache what the items a few places
    /// ahead will read, as `lookup` tells for each, so that their cache
    /// misses overlap the work of the items before them. For batches over a
    /// catalogue larger than the cache, whose calls otherwise wait for
    /// memory one miss after another. Changes and counts nothing: a fetch
    /// for an item the caller then skips, or on an engine closed meanwhile,
    /// is only wasted, and a lookup naming an empty id or one longer than
    /// [`MAX_ID_BYTES`](crate::MAX_ID_BYTES), which the call refuses,
    /// fetches nothing. `lookup` is called several times for each item, the
    /// first as many as twelve items before the item is yielded, so it
    /// should be cheap; it may call the engine. A panic in it comes out of
    /// the `next` that called it, for an earlier item. Where the CPU has no
    /// prefetch instruction (only x86_64 has one here), it only yields the
    /// items.
    ///
    /// ```
    /// use stockkeeper::{Engine, Lookup, Options};
    ///
    /// let engine = Engine::new(Options::manual()).unwrap();
    /// engine.add_product("kettle", "Kettle", 5).unwrap();
    /// let orders = [("kettle", "o1"), ("kettle", "o2")];
    /// let by_order = |&(product, order): &(&'static str, &'static str)| {
    ///     Lookup::Block { product, order }
    /// };
    /// for (product, order) in engine.read_ahead(&orders, by_order) {
    ///     engine.block(product, 1, order, None).unwrap();
    /// }
    /// assert_eq!(engine.available("kettle").unwrap(), 3);
    /// ```
    pub fn read_ahead<'i, T, F>(&self, items: &'i [T], lookup: F) -> ReadAhead<'_, 'i, T, F>
    where
        F: Fn(&'i T) -> Lookup<'i>,
    {
        ReadAhead::new(self, items, lookup)
    }

    /// Counts `error` as a refused call and hands it back. For front doors
    /// that refuse input before it reaches the engine (a string that is not
    /// UTF-8, an int past 2^63 - 1), so that
    /// [`Metrics`] counts every refusal the same way whichever door it came
    /// through. A closed engine hands back [`Error::Closed`] instead and
    /// counts nothing, as its own methods answer whatever their input.
    pub fn refuse(&self, error: Error) -> Error {
        if self.is_closed() {
            return Error::Closed;
        }
        self.note_refusal(error.code());
        error
    }

    pub(crate) fn note_refusal(&self, code: ErrorCode) {
        self.shared.refusals.note(code);
    }

    /// Adds a product with `on_hand` units. Fails if the id is taken or bad,
    /// the name is bad, or `on_hand` passes [`MAX_COUNT`](crate::MAX_COUNT).
    pub fn add_product(&self, id: &str, name: &str, on_hand: u64) -> Result<()> {
        self.run(|shared, _| {
            check_id(id)?;
            check_name(name)?;
            check_count(on_hand)?;
            shared.backend.add_product(id, name, on_hand)
        })
    }

    /// The product's name.
    pub fn product_name(&self, id: &str) -> Result<String> {
        self.run(|shared, _| {
            check_id(id)?;
            shared.backend.product_name(id)
        })
    }

    /// The units a new order can still hold: `on_hand - reserved`.
    pub fn available(&self, id: &str) -> Result<u64> {
        Ok(self.stock(id)?.available)
    }

    /// The product's on_hand, reserved and available, read together.
    pub fn stock(&self, id: &str) -> Result<Stock> {
        self.run(|shared, _| {
            check_id(id)?;
            shared.backend.stock(id)
        })
    }

    /// Restocks (`delta > 0`: on_hand grows) or corrects (`delta < 0`: on_hand
    /// shrinks). A correction may not take available below zero
    /// ([`Error::InsufficientStock`]); a restock may not pass
    /// [`MAX_COUNT`](crate::MAX_COUNT), nor a correction be of more than it
    /// (`i64::MIN`) ([`Error::Overflow`]); zero is
    /// [`Error::InvalidQuantity`]. Returns the stock after the change.
    pub fn update_inventory(&self, id: &str, delta: i64) -> Result<Stock> {
        self.run(|shared, events| {
            check_id(id)?;
            if delta == 0 {
                return Err(Error::InvalidQuantity);
            }
            shared.backend.update(id, delta, events)
        })
    }

    /// Holds `quantity` units of one product for `order`, for `hold_time` or
    /// the engine's default. A one-line [`Engine::block_order`].
    pub fn block(
        &self,
        product: &str,
        quantity: u64,
        order: &str,
        hold_time: Option<Duration>,
    ) -> Result<Deadline> {
        self.block_order(order, &[Line::new(product, quantity)], hold_time)
    }

    /// Holds every line for `order`, or nothing: lines naming the same product
    /// are summed, then each product must have that many available. The hold
    /// lasts `hold_time` (the engine's default when `None`).
    ///
    /// Fails, changing nothing, with the first of these that applies, checked
    /// in this order ([`Error::Closed`] before all on a closed engine): the
    /// order id's fault; [`Error::InvalidQuantity`] for no lines; each line
    /// in turn, its product id's fault, then [`Error::InvalidQuantity`] for
    /// a zero quantity or [`Error::Overflow`] for one past
    /// [`MAX_COUNT`](crate::MAX_COUNT); the hold time's fault
    /// ([`Error::Overflow`] past 64-bit nanoseconds, [`Error::InvalidDuration`]
    /// for zero); [`Error::Overflow`] when a product's lines sum past
    /// [`MAX_COUNT`](crate::MAX_COUNT), then when the deadline would pass the
    /// clock's range; [`Error::UnknownProduct`] naming the lowest unknown id;
    /// [`Error::DuplicateOrder`] when the order id is held or remembered;
    /// [`Error::InsufficientStock`] naming the lowest id short of stock.
    pub fn block_order(
        &self,
        order: &str,
        lines: &[Line<'_>],
        hold_time: Option<Duration>,
    ) -> Result<Deadline> {
        self.run(|shared, events| {
            check_id(order)?;
            if lines.is_empty() {
                return Err(Error::InvalidQuantity);
            }
            for line in lines {
                check_line(line.product, line.quantity)?;
            }
            let hold = match hold_time {
                Some(time) => nanos(time)?,
                None => shared.hold_time,
            };
            if hold == 0 {
                return Err(Error::InvalidDuration);
            }
            // Before the deadline, whose overflow names no product.
            if summed_past_max(lines).is_some() {
                return Err(Error::Overflow);
            }
            let deadline = shared.clock.now().checked_add(hold).ok_or(Error::Overflow)?;
            let usual = hold == shared.hold_time;
            shared.backend.hold(order, lines, deadline, usual, events)?;
            shared.alarm.schedule(deadline.saturating_add(1));
            Ok(shared.deadline(deadline))
        })
    }

    /// Confirms a held order: its units leave on_hand. Succeeds up to and
    /// including the deadline. After it the hold is expired (and released now,
    /// if the releaser has not run yet) and this fails with [`Error::Expired`].
    /// Fails with [`Error::AlreadyConfirmed`] or [`Error::AlreadyCancelled`]
    /// for an ended order and [`Error::UnknownOrder`] for one never held or
    /// forgotten.
    pub fn confirm(&self, order: &str) -> Result<()> {
        self.run(|shared, events| {
            check_id(order)?;
            shared.backend.confirm(order, shared.clock.now(), events)
        })
    }

    /// Cancels a held order (payment failed): its units go back to available.
    /// Fails as [`Engine::confirm`] does.
    pub fn cancel(&self, order: &str) -> Result<()> {
        self.run(|shared, events| {
            check_id(order)?;
            shared.backend.cancel(order, shared.clock.now(), events)
        })
    }

    /// Moves a live hold's deadline `by` later and returns the new deadline.
    /// An ended hold cannot be extended; a hold whose deadline has passed
    /// expires and this fails with [`Error::Expired`].
    pub fn extend(&self, order: &str, by: Duration) -> Result<Deadline> {
        self.run(|shared, events| {
            check_id(order)?;
            let by = nanos(by)?;
            if by == 0 {
                return Err(Error::InvalidDuration);
            }
            let deadline = shared.backend.extend(order, by, shared.clock.now(), events)?;
            Ok(shared.deadline(deadline))
        })
    }

    /// Where an order stands, what it holds and its deadline. A held order
    /// whose deadline has passed is expired by this call.
    pub fn status(&self, order: &str) -> Result<OrderStatus> {
        self.run(|shared, events| {
            check_id(order)?;
            let OrderView { state, lines, deadline } =
                shared.backend.status(order, shared.clock.now(), events)?;
            Ok(OrderStatus { state, lines, deadline: shared.deadline(deadline) })
        })
    }

    /// Releases every hold whose deadline has passed and forgets ended orders
    /// past their retention; returns how many holds it released. The
    /// background releaser does this on its own; call it with manual release.
    pub fn release_expired(&self) -> Result<usize> {
        self.run(|shared, events| Ok(shared.release_due_within(events)))
    }

    /// Moves the manual clock forward by `by`, then releases what fell due;
    /// returns how many holds it released. Fails with
    /// [`Error::ClockNotManual`] on the system clock.
    pub fn advance(&self, by: Duration) -> Result<usize> {
        self.run(|shared, events| {
            shared.clock.advance(by)?;
            Ok(shared.release_due_within(events))
        })
    }

    /// The time since the engine started, on its clock.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.shared.clock.now())
    }

    /// A snapshot of the counters: holds by outcome, refusals by reason, live
    /// holds and held units. The hold figures are those of one moment,
    /// though read one schedule shard at a time: a block or a release waits
    /// for a metrics read at most while it reads one shard.
    pub fn metrics(&self) -> Result<Metrics> {
        let (shared, _call) = self.open()?;
        Ok(shared.refusals.snapshot(shared.backend.hold_counts()))
    }

    /// How the holds on one product ended: confirmed, cancelled, expired.
    pub fn product_outcomes(&self, product: &str) -> Result<ProductOutcomes> {
        self.run(|shared, _| {
            check_id(product)?;
            shared.backend.outcomes(product)
        })
    }

    /// [`Engine::metrics`] in the Prometheus text exposition format, with the
    /// outcomes of each product named in `products` (a catalogue of millions
    /// is never listed whole), once each however often it is named: a
    /// series twice over would fail the whole scrape. Fails if a named
    /// product is unknown.
    pub fn metrics_text(&self, products: &[&str]) -> Result<String> {
        let metrics = self.metrics()?;
        let mut named = HashSet::new();
        let outcomes = products
            .iter()
            .filter(|&&product| named.insert(product))
            .map(|&product| Ok((product, self.product_outcomes(product)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(prometheus(&metrics, &outcomes))
    }

    /// A feed of every event from now on. Events arrive from the engine's
    /// notifier thread; the channel is unbounded, so a receiver that stops
    /// reading costs memory, never a stalled block or confirm. Dropping the
    /// receiver ends the subscription. Fails with [`Error::Closed`] on a
    /// closed engine, and also when the operating system refuses the
    /// notifier thread that the first subscription starts: the engine stays
    /// open then.
    pub fn subscribe(&self) -> Result<Receiver<Event>> {
        let (shared, _call) = self.open()?;
        shared.notifier.channel()
    }

    /// Calls `callback` with every event from now on, on the engine's
    /// notifier thread, one event at a time, after the engine released every
    /// lock. A panic in the callback is caught and logged; the subscription
    /// goes on. A slow callback delays later events, never the engine.
    /// Closing or flushing another engine from the callback waits for that
    /// engine's notifier: if that engine's callbacks may close or flush this
    /// one, the two wait for each other for ever. A callback that forks
    /// returns in the child too, on the notifier thread, the child's only
    /// thread: that thread then ends, and a child that started no thread of
    /// its own exits with it, as a process whose last thread ends (status 0,
    /// exit handlers run); a child meant for other work should `exec` or
    /// `_exit`. Fails with [`Error::Closed`] as [`Engine::subscribe`] does.
    pub fn on_event(
        &self,
        callback: impl FnMut(&Event) + Send + 'static,
    ) -> Result<SubscriptionId> {
        let callback: Callback = Box::new(callback);
        let (shared, call) = self.open()?;
        let subscribed = shared.notifier.on_event(callback);
        // A refused callback is dropped once this call has ended, as its
        // drop may close this engine, which waits for the calls in progress.
        drop(call);
        subscribed.map_err(|refused| refused.error)
    }

    /// Has the notifier thread call `wrapper` around each run of events it
    /// delivers together: the events queued at that moment, up to 1,024
    /// (more only when one call published more), each to every subscriber
    /// in turn. `wrapper` is handed the run's delivery and calls it, so that
    /// what the callbacks need (a lock, an interpreter to attach to) is
    /// taken once for the run, not once for each event. A delivery it does
    /// not call runs once it has returned; a panic in it is caught and
    /// logged. A later wrapper replaces this one, from the next run on.
    /// Fails with [`Error::Closed`] on a closed engine.
    pub fn wrap_deliveries(
        &self,
        wrapper: impl FnMut(&mut dyn FnMut()) + Send + 'static,
    ) -> Result<()> {
        let (shared, call) = self.open()?;
        let wrapped = shared.notifier.wrap(Box::new(wrapper));
        drop(call);
        wrapped
    }

    /// Ends a subscription. Once this returns no delivery to it begins, not
    /// even of an event queued before; one already under way on the notifier
    /// thread (the callback may not have been entered yet) goes on, and
    /// [`Engine::flush_events`] from another thread waits for it. Inside a
    /// callback of this engine no other delivery is under way, so from
    /// there, once this returns, the callback is never called again. On a
    /// closed engine, whose close may still be delivering what was queued,
    /// it ends the subscription all the same and then fails with
    /// [`Error::Closed`]. It never waits. Unknown ids are ignored.
    pub fn unsubscribe(&self, id: SubscriptionId) -> Result<()> {
        self.with_notifier(|notifier| notifier.unsubscribe(id))
    }

    /// Waits until every event published before this call reached its
    /// subscribers. Called from a callback, it returns at once. On a closed
    /// engine it waits all the same, for what its close may still be
    /// delivering, then fails with [`Error::Closed`]: after an unsubscription
    /// it is what makes a callback's data safe to drop. A close does not
    /// wait for it: a close from a callback waits for the calls in
    /// progress, and a flush may be waiting for that callback.
    pub fn flush_events(&self) -> Result<()> {
        self.with_notifier(Notifier::flush)
    }

    /// Runs `work` on the notifier uncounted, even on a closed engine (whose
    /// close may still be delivering), then fails if the engine is closed.
    /// In a forked child it runs nothing: no notifier thread came across the
    /// fork, and a lock one of the parent's threads held stays held.
    fn with_notifier(&self, work: impl FnOnce(&Notifier)) -> Result<()> {
        if fork::forked_since(self.shared.born) {
            return Err(Error::Closed);
        }
        work(&self.shared.notifier);
        match self.is_closed() {
            true => Err(Error::Closed),
            false => Ok(()),
        }
    }

    /// Stops the engine: later calls fail with [`Error::Closed`], the
    /// releaser thread is stopped and joined, calls already in progress on
    /// other threads are waited for (all but [`Engine::flush_events`] and
    /// [`Engine::unsubscribe`]), and
    /// their events and every other queued event are delivered before the
    /// notifier thread stops: a call that succeeded is always announced.
    /// Last, it lets go of every product and order, giving back their
    /// memory; what is left until the engine is dropped takes a few
    /// kilobytes. Returns once all that is done, also when another thread
    /// is closing the engine at the same time; calling it again does
    /// nothing.
    ///
    /// Called from an event callback, it cannot wait for the notifier thread
    /// it runs on: it waits for the calls in progress, stops the engine and
    /// returns, and the queued events are still delivered; a later close (or
    /// drop) from another thread waits for them, and lets go of the products
    /// and orders.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        if fork::forked_since(self.shared.born) {
            // The threads are the parent's and the locks may be held forever.
            return;
        }
        self.shared.alarm.stop();
        if self.is_notifier_thread() {
            self.shared.notifier.stop_without_joining();
            return;
        }
        let _closing = self.closing.lock();
        let releaser = self.releaser.lock().take();
        if let Some(thread) = releaser {
            // The releaser has no panicking path; a join error would mean a
            // bug, and there is nothing left to undo.
            let _ = thread.join();
        }
        self.shared.notifier.stop();
        // No call is left in progress, and every later one is refused
        // before it reaches the backend.
        self.shared.backend.clear();
    }

    /// Whether [`Engine::close`] was called, or the engine was made before
    /// the process forked into this child (it then acts as closed).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

/// An engine and a call counted as in progress; see [`Engine::entered`].
pub(crate) struct Entered<'a> {
    engine: &'a Engine,
    _call: InProgress<'a>,
}

impl std::ops::Deref for Entered<'_> {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        self.engine
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if fork::forked_since(self.shared.born) {
            // The parent's threads do not exist here: forget their handles
            // rather than detach threads this process never had. What the
            // engine shares is never dropped here either: the notifier's
            // thread handle and channel are those threads', and a lock one
            // of them held at the fork stays held. The releaser's own handle
            // on it kept it alive anyway; an engine with no releaser has none.
            std::mem::forget(self.releaser.get_mut().take());
            std::mem::forget(Arc::clone(&self.shared));
            return;
        }
        self.close();
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("closed", &self.is_closed()).finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
pub(crate) mod tests {
    use std::time::Instant;

    use super::*;
    use crate::order::OrderState;

    /// Yields until `done` holds. The bound of 30 s only keeps a releaser
    /// that never wakes from hanging the suite.
    fn eventually(what: &str, done: impl Fn() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < give_up, "{what} never happened");
            std::thread::yield_now();
        }
    }

    /// A close lets go of every product and order: held, ended and
    /// remembered, and those whose expiry is still scheduled.
    #[test]
    fn a_close_lets_go_of_every_product_and_order() {
        let engine = Engine::new(Options::manual()).unwrap();
        engine.add_product("kettle", "Kettle", 5).unwrap();
        engine.block("kettle", 1, "live", None).unwrap();
        engine.block("kettle", 1, "paid", None).unwrap();
        engine.confirm("paid").unwrap();
        let backend = &engine.shared.backend;
        let status = |order| backend.status(order, 0, &mut Events::collecting()).map(|v| v.state);
        assert_eq!(status("paid"), Ok(OrderState::Confirmed));
        engine.close();
        let unknown = Error::UnknownProduct { product: "kettle".into() };
        assert_eq!(backend.stock("kettle"), Err(unknown));
        assert_eq!(status("live"), Err(Error::UnknownOrder));
        assert_eq!(status("paid"), Err(Error::UnknownOrder));
        assert_eq!(backend.next_due(), None, "no expiry or retention left to run");
    }

    /// A call that ends an order, with no other remembered, wakes a
    /// releaser asleep until a later deadline, so that it forgets the order
    /// when the retention runs out rather than at that deadline. Watched
    /// through the moment the releaser sleeps until, so that nothing waits
    /// for the retention.
    #[test]
    fn ending_an_order_wakes_a_releaser_asleep_until_a_later_deadline() {
        let (hour, minute) = (Duration::from_secs(3600), 60_000_000_000);
        let options = Options { hold_time: hour, retention: hour / 2, ..Options::default() };
        let engine = Engine::new(options).unwrap();
        engine.add_product("kettle", "Kettle", 5).unwrap();
        engine.block("kettle", 1, "live", None).unwrap();
        engine.block("kettle", 1, "paid", None).unwrap();
        let (alarm, clock) = (&engine.shared.alarm, &engine.shared.clock);
        eventually("the releaser asleep until the hour's deadlines", || {
            let at = alarm.sleeps_until();
            at != u64::MAX && at > clock.now() + 45 * minute
        });
        let ended = clock.now();
        engine.confirm("paid").unwrap();
        eventually("the releaser asleep until the paid order's retention ends", || {
            alarm.sleeps_until() <= ended + 31 * minute
        });
    }

    /// Checks that `close`, run on another thread, does not return while
    /// `call` (a call held in progress) is kept, and returns once it is
    /// dropped. `is_closed` tells when the close has begun.
    pub(crate) fn assert_close_waits_for<C>(
        call: C,
        close: impl FnOnce() + Send,
        is_closed: impl Fn() -> bool,
    ) {
        let returned = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                close();
                returned.store(true, Ordering::SeqCst);
            });
            eventually("the close begun", is_closed);
            // A close that did not wait returns within these yields.
            for _ in 0..10_000 {
                assert!(!returned.load(Ordering::SeqCst), "close returned during a call");
                std::thread::yield_now();
            }
            drop(call);
        });
        assert!(returned.load(Ordering::SeqCst));
    }

    /// A close returns only once the calls in progress on other threads are
    /// done, whether or not anyone subscribed: after it returns, no call
    /// changes the engine. A call is held in progress here by entering it
    /// and not yet leaving.
    #[test]
    fn a_close_waits_for_calls_in_progress_with_no_subscriber() {
        let engine = Engine::new(Options::manual()).unwrap();
        let call = engine.shared.enter().unwrap();
        assert_close_waits_for(call, || engine.close(), || engine.is_closed());
    }
}
