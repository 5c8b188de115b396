//! Linearizability: a few threads call one engine on the manual clock at the
//! same time, each writing down every call with its answer and the moments it
//! started and finished; a search then looks for one sequential order of the
//! calls that respects real time (a call that finished before another started
//! comes first) and in which every answer is the one a sequential model of the
//! contract gives. A history with no such order is a failure.
//!
//! The search is Wing and Gong's, with Lowe's memo: a state of the search is
//! the set of calls placed so far and what the model may look like after them,
//! and a state seen once is never searched again.
//!
//! Two things the contract leaves open make the model a little loose, on
//! purpose:
//!
//! - A hold whose deadline has passed is released "at that moment if nothing
//!   released it before": between a deadline and the release pass that finds
//!   it, a stock read may still count it. The model therefore lets the release
//!   pass of an `advance` release overdue holds at any point while that
//!   `advance` may still be running, and carries the set of every state such
//!   releases can lead to.
//! - A call reads the clock once and then acts. Under a concurrent `advance`,
//!   the time it read may be older than the model's time at the point where
//!   its effect lands. The model accepts any time the call could have read:
//!   no earlier than the clock before the call started, no later than the
//!   clock after it returned, and no later than the model's own time where the
//!   call is placed. `STOCKKEEPER_LIN_STRICT=1` instead demands the model's
//!   time at that point, and counts the histories that fail it without
//!   failing the test.
//!
//! An `advance` is placed as one step that moves the model's clock; the
//! release pass it runs next is covered by the first point above, so how many
//! holds one `advance` reports released is not checked. After the
//! threads finish, one more `advance(0)`, with nothing running beside it, must
//! release every overdue hold and say how many it released, and the stock of
//! every product and the status of every order are read once more.
//!
//! `STOCKKEEPER_LIN_HISTORIES=5000 cargo test --release --test linearizability`
//! runs a longer search than the default.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use common::Rng;
use stockkeeper::{Engine, Error, ErrorCode, Line, Options, OrderState};

const DEFAULT_HISTORIES: usize = 300;
const PRODUCTS: usize = 3;
const ORDERS: usize = 5;

fn product_id(index: usize) -> String {
    format!("p{index}")
}

fn order_id(index: usize) -> String {
    format!("o{index}")
}

fn product_index(id: &str) -> usize {
    id.strip_prefix('p').and_then(|n| n.parse().ok()).expect("a product this test added")
}

// ---- Calls and answers ----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    /// Lines as (product, quantity), possibly naming a product twice.
    Block {
        order: usize,
        lines: Vec<(usize, u64)>,
        hold: u64,
    },
    Confirm {
        order: usize,
    },
    Cancel {
        order: usize,
    },
    Extend {
        order: usize,
        by: u64,
    },
    Status {
        order: usize,
    },
    Stock {
        product: usize,
    },
    Update {
        product: usize,
        delta: i64,
    },
    Advance {
        by: u64,
    },
    /// `advance(0)` with no other call running: every overdue hold goes.
    Sweep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Ending {
    Confirmed,
    Cancelled,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Done,
    Deadline(u64),
    Stock {
        on_hand: u64,
        reserved: u64,
    },
    Status {
        state: OrderState,
        lines: Vec<(usize, u64)>,
        deadline: u64,
    },
    Released(usize),
    Refused(ErrorCode),
    /// Refused for want of stock, naming the product and what it had.
    Short {
        product: usize,
        available: u64,
    },
}

impl Answer {
    fn refused(error: Error) -> Answer {
        match error {
            Error::InsufficientStock { product, available, .. } => {
                Answer::Short { product: product_index(&product), available }
            }
            other => Answer::Refused(other.code()),
        }
    }
}

/// One call as a thread saw it. `called` and `returned` come from one counter
/// shared by every thread, so they order every call and return of a history;
/// `clock_before` and `clock_after` are the engine's clock just before the
/// call and just after it returned.
#[derive(Debug, Clone)]
struct Record {
    thread: usize,
    call: Call,
    answer: Answer,
    called: u64,
    returned: u64,
    clock_before: u64,
    clock_after: u64,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).expect("test times fit")
}

fn perform(engine: &Engine, call: &Call) -> Answer {
    let answer = |result: Result<Answer, Error>| result.unwrap_or_else(Answer::refused);
    match call {
        Call::Block { order, lines, hold } => {
            let ids: Vec<String> = lines.iter().map(|(p, _)| product_id(*p)).collect();
            let lines: Vec<Line<'_>> =
                ids.iter().zip(lines).map(|(id, (_, quantity))| Line::new(id, *quantity)).collect();
            let hold = Some(Duration::from_nanos(*hold));
            answer(
                engine
                    .block_order(&order_id(*order), &lines, hold)
                    .map(|deadline| Answer::Deadline(nanos(deadline.since_start))),
            )
        }
        Call::Confirm { order } => answer(engine.confirm(&order_id(*order)).map(|()| Answer::Done)),
        Call::Cancel { order } => answer(engine.cancel(&order_id(*order)).map(|()| Answer::Done)),
        Call::Extend { order, by } => answer(
            engine
                .extend(&order_id(*order), Duration::from_nanos(*by))
                .map(|deadline| Answer::Deadline(nanos(deadline.since_start))),
        ),
        Call::Status { order } => {
            answer(engine.status(&order_id(*order)).map(|status| Answer::Status {
                state: status.state,
                lines: status.lines.iter().map(|(p, q)| (product_index(p), *q)).collect(),
                deadline: nanos(status.deadline.since_start),
            }))
        }
        Call::Stock { product } => answer(
            engine
                .stock(&product_id(*product))
                .map(|stock| Answer::Stock { on_hand: stock.on_hand, reserved: stock.reserved }),
        ),
        Call::Update { product, delta } => answer(
            engine
                .update_inventory(&product_id(*product), *delta)
                .map(|stock| Answer::Stock { on_hand: stock.on_hand, reserved: stock.reserved }),
        ),
        Call::Advance { by } => {
            answer(engine.advance(Duration::from_nanos(*by)).map(Answer::Released))
        }
        Call::Sweep => answer(engine.advance(Duration::ZERO).map(Answer::Released)),
    }
}

// ---- The sequential model -------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Phase {
    Held { deadline: u64 },
    Ended { ending: Ending, deadline: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ModelOrder {
    /// Summed per product, in product id order.
    lines: Vec<(usize, u64)>,
    phase: Phase,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Model {
    now: u64,
    /// (on_hand, reserved) per product.
    counts: Vec<(u64, u64)>,
    orders: Vec<Option<ModelOrder>>,
}

/// How the time a call acts on is matched with the model's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timing {
    /// Any time the call could have read (see the module comment).
    Window,
    /// Exactly the model's time where the call is placed.
    Strict,
}

impl Model {
    fn new(stock: &[u64]) -> Model {
        Model {
            now: 0,
            counts: stock.iter().map(|&n| (n, 0)).collect(),
            orders: vec![None; ORDERS],
        }
    }

    fn available(&self, product: usize) -> u64 {
        let (on_hand, reserved) = self.counts[product];
        on_hand - reserved
    }

    fn end(&mut self, order: usize, ending: Ending) {
        let held = self.orders[order].as_mut().expect("a held order");
        let Phase::Held { deadline } = held.phase else { unreachable!("only a held order ends") };
        held.phase = Phase::Ended { ending, deadline };
        for &(product, quantity) in &held.lines {
            let counts = &mut self.counts[product];
            counts.1 -= quantity;
            if ending == Ending::Confirmed {
                counts.0 -= quantity;
            }
        }
    }

    fn overdue(&self) -> impl Iterator<Item = usize> + '_ {
        self.orders.iter().enumerate().filter_map(|(index, order)| match order {
            Some(ModelOrder { phase: Phase::Held { deadline }, .. }) if *deadline < self.now => {
                Some(index)
            }
            _ => None,
        })
    }

    /// The states this one may become by releasing overdue holds, itself
    /// included.
    fn with_releases(self, into: &mut BTreeSet<Model>) {
        if !into.insert(self.clone()) {
            return;
        }
        let overdue: Vec<usize> = self.overdue().collect();
        for order in overdue {
            let mut next = self.clone();
            next.end(order, Ending::Expired);
            next.with_releases(into);
        }
    }

    /// The state after `record`, if the model could have given its answer.
    fn apply(&self, record: &Record, timing: Timing) -> Option<Model> {
        // The clock never runs back, so the call cannot be placed before a
        // time its own thread had already read.
        if record.clock_before > self.now {
            return None;
        }
        let (earliest, latest) = match timing {
            Timing::Window => (record.clock_before, record.clock_after.min(self.now)),
            Timing::Strict => (self.now, self.now),
        };
        let mut next = self.clone();
        let answer = &record.answer;
        let fits = match &record.call {
            Call::Block { order, lines, hold } => {
                next.block(*order, lines, *hold, answer, earliest, latest)
            }
            Call::Confirm { order } => next.finish(*order, answer, earliest, latest, |m, o| {
                m.end(o, Ending::Confirmed);
                Answer::Done
            }),
            Call::Cancel { order } => next.finish(*order, answer, earliest, latest, |m, o| {
                m.end(o, Ending::Cancelled);
                Answer::Done
            }),
            Call::Extend { order, by } => next.finish(*order, answer, earliest, latest, |m, o| {
                let held = m.orders[o].as_mut().expect("a held order");
                let Phase::Held { deadline } = held.phase else { unreachable!() };
                held.phase = Phase::Held { deadline: deadline + by };
                Answer::Deadline(deadline + by)
            }),
            Call::Status { order } => next.status(*order, answer, earliest, latest),
            Call::Stock { product } => {
                let (on_hand, reserved) = next.counts[*product];
                *answer == Answer::Stock { on_hand, reserved }
            }
            Call::Update { product, delta } => next.update(*product, *delta, answer),
            Call::Advance { by } => {
                next.now += by;
                matches!(answer, Answer::Released(_))
            }
            Call::Sweep => {
                let overdue: Vec<usize> = next.overdue().collect();
                for &order in &overdue {
                    next.end(order, Ending::Expired);
                }
                *answer == Answer::Released(overdue.len())
            }
        };
        fits.then_some(next)
    }

    fn block(
        &mut self,
        order: usize,
        lines: &[(usize, u64)],
        hold: u64,
        answer: &Answer,
        earliest: u64,
        latest: u64,
    ) -> bool {
        if self.orders[order].is_some() {
            return *answer == Answer::Refused(ErrorCode::DuplicateOrder);
        }
        let mut summed = vec![0; PRODUCTS];
        for &(product, quantity) in lines {
            summed[product] += quantity;
        }
        let summed: Vec<(usize, u64)> =
            summed.into_iter().enumerate().filter(|&(_, quantity)| quantity > 0).collect();
        if let Some(&(product, _)) = summed.iter().find(|&&(p, q)| q > self.available(p)) {
            return *answer == Answer::Short { product, available: self.available(product) };
        }
        let Answer::Deadline(deadline) = *answer else { return false };
        let read = deadline.wrapping_sub(hold);
        if deadline < hold || read < earliest || read > latest {
            return false;
        }
        for &(product, quantity) in &summed {
            self.counts[product].1 += quantity;
        }
        self.orders[order] = Some(ModelOrder { lines: summed, phase: Phase::Held { deadline } });
        true
    }

    /// Confirm, cancel and extend: `live` acts on a hold whose deadline has not
    /// passed and returns the answer that gives.
    fn finish(
        &mut self,
        order: usize,
        answer: &Answer,
        earliest: u64,
        latest: u64,
        live: impl FnOnce(&mut Model, usize) -> Answer,
    ) -> bool {
        let Some(held) = &self.orders[order] else {
            return *answer == Answer::Refused(ErrorCode::UnknownOrder);
        };
        match held.phase {
            Phase::Ended { ending, .. } => {
                let code = match ending {
                    Ending::Confirmed => ErrorCode::AlreadyConfirmed,
                    Ending::Cancelled => ErrorCode::AlreadyCancelled,
                    Ending::Expired => ErrorCode::Expired,
                };
                *answer == Answer::Refused(code)
            }
            Phase::Held { deadline } => {
                if *answer == Answer::Refused(ErrorCode::Expired) {
                    // Read a time past the deadline: the call expires the hold.
                    if latest <= deadline {
                        return false;
                    }
                    self.end(order, Ending::Expired);
                    return true;
                }
                earliest <= deadline && live(self, order) == *answer
            }
        }
    }

    fn status(&mut self, order: usize, answer: &Answer, earliest: u64, latest: u64) -> bool {
        let Some(known) = &self.orders[order] else {
            return *answer == Answer::Refused(ErrorCode::UnknownOrder);
        };
        let lines = known.lines.clone();
        let Answer::Status { state, lines: seen, deadline: seen_deadline } = answer else {
            return false;
        };
        let (expected_state, deadline) = match known.phase {
            Phase::Ended { ending, deadline } => (ending_state(ending), deadline),
            Phase::Held { deadline } => match state {
                OrderState::Held if earliest <= deadline => (OrderState::Held, deadline),
                OrderState::Expired if latest > deadline => {
                    self.end(order, Ending::Expired);
                    (OrderState::Expired, deadline)
                }
                _ => return false,
            },
        };
        *state == expected_state && *seen == lines && *seen_deadline == deadline
    }

    fn update(&mut self, product: usize, delta: i64, answer: &Answer) -> bool {
        let magnitude = delta.unsigned_abs();
        if delta < 0 && magnitude > self.available(product) {
            return *answer == Answer::Short { product, available: self.available(product) };
        }
        let counts = &mut self.counts[product];
        if delta > 0 {
            counts.0 += magnitude;
        } else {
            counts.0 -= magnitude;
        }
        *answer == Answer::Stock { on_hand: counts.0, reserved: counts.1 }
    }
}

fn ending_state(ending: Ending) -> OrderState {
    match ending {
        Ending::Confirmed => OrderState::Confirmed,
        Ending::Cancelled => OrderState::Cancelled,
        Ending::Expired => OrderState::Expired,
    }
}

// ---- The checker ----------------------------------------------------------------

type Possible = BTreeSet<Model>;

fn with_releases(possible: &Possible) -> Possible {
    let mut all = Possible::new();
    for model in possible {
        model.clone().with_releases(&mut all);
    }
    all
}

struct Search<'a> {
    history: &'a [Record],
    timing: Timing,
    /// (calls placed, possible states) pairs already searched without success.
    dead_ends: HashSet<(u64, Possible)>,
}

impl Search<'_> {
    /// Every state the model may be in after the call at `index`, starting
    /// from any of `possible`.
    ///
    /// Overdue holds are released by the pass an `advance` runs after moving
    /// the clock, and that pass ends before the `advance` returns. A release
    /// may therefore come next if a placed `advance` returned after every
    /// placed call started: then a moment exists after all of them at which
    /// that `advance` was still running. (Confirm, cancel, extend and status
    /// release a hold themselves, as calls.)
    fn step(&self, possible: &Possible, placed: u64, index: usize) -> Possible {
        let placed_calls = || (0..self.history.len()).filter(move |i| placed & (1 << i) != 0);
        let last_start = placed_calls().map(|i| self.history[i].called).max().unwrap_or(0);
        let advancing = placed_calls().any(|i| {
            let other = &self.history[i];
            matches!(other.call, Call::Advance { .. }) && other.returned > last_start
        });
        let before = match advancing {
            true => with_releases(possible),
            false => possible.clone(),
        };
        before.iter().filter_map(|model| model.apply(&self.history[index], self.timing)).collect()
    }

    fn extend(&mut self, placed: u64, possible: Possible) -> bool {
        let all = (1u64 << self.history.len()) - 1;
        if placed == all {
            return true;
        }
        if self.dead_ends.contains(&(placed, possible.clone())) {
            return false;
        }
        let pending = || (0..self.history.len()).filter(move |i| placed & (1 << i) == 0);
        let first_return = pending().map(|i| self.history[i].returned).min().expect("a call left");
        // Any call that started before the earliest pending return may come
        // next; a later one cannot, since that return must precede it.
        let candidates: Vec<usize> =
            pending().filter(|&i| self.history[i].called < first_return).collect();
        for index in candidates {
            let next = self.step(&possible, placed, index);
            if !next.is_empty() && self.extend(placed | (1 << index), next) {
                return true;
            }
        }
        self.dead_ends.insert((placed, possible));
        false
    }
}

/// Whether some order of `history` that respects real time gives every
/// answer in it, starting from products with `stock` units each.
fn linearizable(history: &[Record], stock: &[u64], timing: Timing) -> bool {
    assert!(history.len() < 64, "a history fits one 64-bit set of calls");
    let mut search = Search { history, timing, dead_ends: HashSet::new() };
    search.extend(0, Possible::from([Model::new(stock)]))
}

// ---- Making histories -----------------------------------------------------------

fn random_call(rng: &mut Rng) -> Call {
    let order = rng.index(ORDERS);
    let product = rng.index(PRODUCTS);
    match rng.below(100) {
        0..=29 => {
            let lines = (0..1 + rng.below(3)).map(|_| (rng.index(PRODUCTS), 1 + rng.below(2)));
            Call::Block { order, lines: lines.collect(), hold: [3, 6, 10][rng.index(3)] }
        }
        30..=44 => Call::Confirm { order },
        45..=54 => Call::Cancel { order },
        55..=62 => Call::Extend { order, by: 1 + rng.below(5) },
        63..=71 => Call::Status { order },
        72..=81 => Call::Stock { product },
        82..=86 => Call::Update { product, delta: [-1, 1, 2][rng.index(3)] },
        _ => Call::Advance { by: 1 + rng.below(6) },
    }
}

/// A short, random busy wait, so that threads do not always meet in the same
/// places.
fn jitter(rng: &mut Rng) {
    for _ in 0..rng.below(200) {
        std::hint::spin_loop();
    }
}

struct Recorder<'a> {
    engine: &'a Engine,
    sequence: &'a AtomicU64,
}

impl Recorder<'_> {
    fn record(&self, thread: usize, call: Call) -> Record {
        let clock_before = nanos(self.engine.now());
        let called = self.sequence.fetch_add(1, Ordering::SeqCst);
        let answer = perform(self.engine, &call);
        let returned = self.sequence.fetch_add(1, Ordering::SeqCst);
        let clock_after = nanos(self.engine.now());
        Record { thread, call, answer, called, returned, clock_before, clock_after }
    }
}

/// Runs one history: `threads` threads of a few random calls each, then the
/// closing sweep and reads on one thread. Returns the starting stock too.
fn run_history(seed: u64) -> (Vec<u64>, Vec<Record>) {
    let mut rng = Rng::new(seed);
    let threads = 3 + rng.index(2);
    let stock: Vec<u64> = (0..PRODUCTS).map(|_| 1 + rng.below(3)).collect();
    let engine = Engine::new(Options::manual()).expect("an engine");
    for (index, &units) in stock.iter().enumerate() {
        engine.add_product(&product_id(index), "hot", units).expect("a new product");
    }
    let plans: Vec<(u64, Vec<Call>)> = (0..threads)
        .map(|_| {
            let calls = 5 + rng.below(4);
            (rng.below(u64::MAX), (0..calls).map(|_| random_call(&mut rng)).collect())
        })
        .collect();

    let sequence = AtomicU64::new(0);
    let recorder = Recorder { engine: &engine, sequence: &sequence };
    let start = Barrier::new(threads);
    let mut history: Vec<Record> = thread::scope(|scope| {
        let workers: Vec<_> = plans
            .into_iter()
            .enumerate()
            .map(|(thread, (seed, calls))| {
                let (recorder, start) = (&recorder, &start);
                scope.spawn(move || {
                    let mut rng = Rng::new(seed);
                    start.wait();
                    calls
                        .into_iter()
                        .map(|call| {
                            jitter(&mut rng);
                            recorder.record(thread, call)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("a worker")).collect()
    });

    let closing = std::iter::once(Call::Sweep)
        .chain((0..PRODUCTS).map(|product| Call::Stock { product }))
        .chain((0..ORDERS).map(|order| Call::Status { order }));
    history.extend(closing.map(|call| recorder.record(threads, call)));
    (stock, history)
}

fn histories_to_run() -> usize {
    std::env::var("STOCKKEEPER_LIN_HISTORIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_HISTORIES)
}

fn describe(stock: &[u64], history: &[Record]) -> String {
    let mut sorted: Vec<&Record> = history.iter().collect();
    sorted.sort_by_key(|record| record.called);
    let mut text = format!("starting stock {stock:?}\n");
    for r in sorted {
        text += &format!(
            "  thread {} [{:>3}..{:>3}] clock {}..{}: {:?} -> {:?}\n",
            r.thread, r.called, r.returned, r.clock_before, r.clock_after, r.call, r.answer
        );
    }
    text
}

#[test]
fn concurrent_histories_are_linearizable() {
    let histories = histories_to_run();
    let strict = std::env::var_os("STOCKKEEPER_LIN_STRICT").is_some();
    let mut overlapping = 0;
    let mut strict_failures = 0;
    for seed in 0..histories as u64 {
        let (stock, history) = run_history(seed);
        assert!(
            linearizable(&history, &stock, Timing::Window),
            "history {seed} is not linearizable:\n{}",
            describe(&stock, &history)
        );
        // A history whose calls never overlapped checks nothing concurrent.
        let mut spans: Vec<(u64, u64)> = history.iter().map(|r| (r.called, r.returned)).collect();
        spans.sort_unstable();
        if spans.windows(2).any(|pair| pair[1].0 < pair[0].1) {
            overlapping += 1;
        }
        if strict && !linearizable(&history, &stock, Timing::Strict) {
            strict_failures += 1;
            if strict_failures <= 3 {
                eprintln!("strict timing rejects history {seed}:\n{}", describe(&stock, &history));
            }
        }
    }
    eprintln!("{histories} histories checked, {overlapping} with overlapping calls");
    if strict {
        eprintln!("strict timing rejected {strict_failures} of {histories}");
    }
    // How many overlap depends on the scheduler; none at all would mean the
    // threads never met and the test checked nothing concurrent.
    assert!(histories < 100 || overlapping > 0, "no history had calls running at once");
}

// ---- The checker can say no -----------------------------------------------------

/// Builds a history from (thread, call, answer, called, returned) with the
/// clock standing at `clock` throughout.
fn hand_made(calls: Vec<(usize, Call, Answer, u64, u64)>, clock: u64) -> Vec<Record> {
    calls
        .into_iter()
        .map(|(thread, call, answer, called, returned)| Record {
            thread,
            call,
            answer,
            called,
            returned,
            clock_before: clock,
            clock_after: clock,
        })
        .collect()
}

fn block(order: usize, product: usize, quantity: u64) -> Call {
    Call::Block { order, lines: vec![(product, quantity)], hold: 10 }
}

#[test]
fn the_checker_accepts_answers_that_fit_only_out_of_call_order() {
    // Thread 1's block started first but overlapped thread 0's, which took
    // the last unit: the order "thread 0, then thread 1" explains both.
    let history = hand_made(
        vec![
            (1, block(1, 0, 1), Answer::Short { product: 0, available: 0 }, 0, 3),
            (0, block(0, 0, 1), Answer::Deadline(10), 1, 2),
        ],
        0,
    );
    assert!(linearizable(&history, &[1], Timing::Window));
}

#[test]
fn the_checker_rejects_the_last_unit_sold_twice() {
    let history = hand_made(
        vec![
            (0, block(0, 0, 1), Answer::Deadline(10), 0, 1),
            (1, block(1, 0, 1), Answer::Deadline(10), 2, 3),
        ],
        0,
    );
    assert!(!linearizable(&history, &[1], Timing::Window));
}

#[test]
fn the_checker_rejects_a_hold_that_ends_twice() {
    // The confirm and the cancel overlap, so either may come first, but not
    // both can succeed.
    let history = hand_made(
        vec![
            (0, block(0, 0, 1), Answer::Deadline(10), 0, 1),
            (0, Call::Confirm { order: 0 }, Answer::Done, 2, 5),
            (1, Call::Cancel { order: 0 }, Answer::Done, 3, 4),
        ],
        0,
    );
    assert!(!linearizable(&history, &[1], Timing::Window));
}

#[test]
fn the_checker_rejects_a_read_that_misses_a_finished_cancel() {
    let history = hand_made(
        vec![
            (0, block(0, 0, 2), Answer::Deadline(10), 0, 1),
            (0, Call::Cancel { order: 0 }, Answer::Done, 2, 3),
            (1, Call::Stock { product: 0 }, Answer::Stock { on_hand: 2, reserved: 2 }, 4, 5),
        ],
        0,
    );
    assert!(!linearizable(&history, &[2], Timing::Window));
}

#[test]
fn the_checker_rejects_a_confirm_after_the_deadline_passed() {
    let mut history = hand_made(
        vec![
            (0, block(0, 0, 1), Answer::Deadline(10), 0, 1),
            (1, Call::Advance { by: 11 }, Answer::Released(1), 2, 3),
            (0, Call::Confirm { order: 0 }, Answer::Done, 4, 5),
        ],
        0,
    );
    history[1].clock_after = 11;
    history[2].clock_before = 11;
    history[2].clock_after = 11;
    assert!(!linearizable(&history, &[1], Timing::Window));
}

#[test]
fn the_checker_rejects_a_read_that_counts_a_hold_the_sweep_released() {
    let mut history = hand_made(
        vec![
            (0, block(0, 0, 1), Answer::Deadline(10), 0, 1),
            (0, Call::Advance { by: 11 }, Answer::Released(1), 2, 3),
            (0, Call::Sweep, Answer::Released(0), 4, 5),
            (0, Call::Stock { product: 0 }, Answer::Stock { on_hand: 1, reserved: 1 }, 6, 7),
        ],
        0,
    );
    history[1].clock_after = 11;
    for record in &mut history[2..] {
        record.clock_before = 11;
        record.clock_after = 11;
    }
    assert!(!linearizable(&history, &[1], Timing::Window));
}

#[test]
fn the_checker_lets_a_read_count_an_overdue_hold_until_its_release() {
    // Past the deadline, before any release pass: the hold may still be
    // counted, and the confirm is told it expired.
    let mut history = hand_made(
        vec![
            (0, block(0, 0, 1), Answer::Deadline(10), 0, 1),
            (1, Call::Advance { by: 11 }, Answer::Released(0), 2, 9),
            (0, Call::Stock { product: 0 }, Answer::Stock { on_hand: 1, reserved: 1 }, 4, 5),
            (0, Call::Confirm { order: 0 }, Answer::Refused(ErrorCode::Expired), 6, 7),
        ],
        0,
    );
    history[1].clock_after = 11;
    for record in &mut history[2..] {
        record.clock_before = 11;
        record.clock_after = 11;
    }
    assert!(linearizable(&history, &[1], Timing::Window));
}
