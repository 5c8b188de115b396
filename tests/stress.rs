//! Many threads racing on a few hot products with little stock. Each thread
//! writes down what it saw; at the end the observations must fit one story:
//! every hold ended exactly once, stock is conserved, no unit was sold twice.
//! Readers check `reserved <= on_hand` while the race runs.
//!
//! Nothing here asserts how long anything took. A watchdog turns a deadlock
//! into a failure instead of a hung suite.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::Rng;
use stockkeeper::{ClockKind, Engine, Error, Line, Options, OrderState, DEFAULT_MAX_REMEMBERED};

const PRODUCTS: [&str; 3] = ["hot-a", "hot-b", "hot-c"];
const INITIAL_STOCK: u64 = 6;
const WORKERS: usize = 10;
const OPS_PER_WORKER: usize = 20_000;
const RACE_ROUNDS: usize = 2_000;

/// How long a run may take before it counts as hung. Far above what a run
/// needs on a slow machine; only a deadlock reaches it.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Runs `scenario` on its own thread and fails if it has not finished in
/// time, so that a deadlock fails the test rather than hanging it.
fn with_watchdog(name: &str, scenario: impl FnOnce() + Send + 'static) {
    let (finished, wait) = mpsc::channel();
    let runner = thread::spawn(move || {
        scenario();
        let _ = finished.send(());
    });
    match wait.recv_timeout(WATCHDOG) {
        Ok(()) => runner.join().expect("the scenario finished"),
        Err(RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("{name}: not finished after {WATCHDOG:?}; threads are deadlocked or stuck")
        }
    }
}

/// What one thread saw of one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// This thread's confirm succeeded.
    ConfirmedHere,
    /// This thread's cancel succeeded.
    CancelledHere,
    /// An answer that says the order had ended this way.
    Ended(OrderState),
}

fn seen_in_error(error: &Error) -> Option<Seen> {
    match error {
        Error::AlreadyConfirmed => Some(Seen::Ended(OrderState::Confirmed)),
        Error::AlreadyCancelled => Some(Seen::Ended(OrderState::Cancelled)),
        Error::Expired => Some(Seen::Ended(OrderState::Expired)),
        _ => None,
    }
}

/// A placed order: its id and units per product (lines summed).
struct Placed {
    id: String,
    units: [u64; PRODUCTS.len()],
}

#[derive(Default)]
struct WorkerLog {
    seen: Vec<(usize, Seen)>,
    restocked: [u64; PRODUCTS.len()],
    corrected: [u64; PRODUCTS.len()],
}

struct Race {
    engine: Engine,
    manual: bool,
    /// The memory bound, when the run sets a small one.
    bound: Option<usize>,
    placed: Mutex<Vec<Placed>>,
    stop: AtomicBool,
    observed_stocks: AtomicUsize,
}

impl Race {
    fn new(options: Options) -> Race {
        let manual = options.clock == ClockKind::Manual;
        let bound =
            (options.max_remembered < DEFAULT_MAX_REMEMBERED).then_some(options.max_remembered);
        let engine = Engine::new(options).expect("the engine starts");
        for product in PRODUCTS {
            engine.add_product(product, product, INITIAL_STOCK).unwrap();
        }
        Race {
            engine,
            manual,
            bound,
            placed: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            observed_stocks: AtomicUsize::new(0),
        }
    }

    fn hold_time(&self, rng: &mut Rng) -> Duration {
        match self.manual {
            true => Duration::from_millis(1 + rng.below(8)),
            false => Duration::from_micros(100 + rng.below(2_000)),
        }
    }

    /// A recently placed order, where the races are.
    fn pick(&self, rng: &mut Rng) -> Option<(usize, String)> {
        let placed = self.placed.lock().unwrap();
        let window = placed.len().min(32) as u64;
        if window == 0 {
            return None;
        }
        let index = placed.len() - 1 - rng.below(window) as usize;
        Some((index, placed[index].id.clone()))
    }

    fn block(&self, rng: &mut Rng, id: String, multi: bool) {
        let count = if multi { 2 + rng.below(3) as usize } else { 1 };
        let start = rng.below(PRODUCTS.len() as u64) as usize;
        // Consecutive products from a random start, forwards or backwards:
        // two such orders often take the same products in opposite orders.
        let backwards = rng.chance(50);
        let lines: Vec<Line<'_>> = (0..count)
            .map(|i| {
                let step = if backwards { PRODUCTS.len() - i % PRODUCTS.len() } else { i };
                let product = PRODUCTS[(start + step) % PRODUCTS.len()];
                Line::new(product, 1 + rng.below(2))
            })
            .collect();
        // On the system clock some orders take the engine's own tiny hold time.
        let hold = match self.manual || rng.chance(75) {
            true => Some(self.hold_time(rng)),
            false => None,
        };
        let result = match lines.as_slice() {
            [line] => self.engine.block(line.product, line.quantity, &id, hold),
            _ => self.engine.block_order(&id, &lines, hold),
        };
        match result {
            Ok(_) => {
                let mut units = [0; PRODUCTS.len()];
                for line in &lines {
                    units[product_index(line.product)] += line.quantity;
                }
                self.placed.lock().unwrap().push(Placed { id, units });
            }
            Err(Error::InsufficientStock { .. }) => {}
            Err(other) => panic!("block {id} failed unexpectedly: {other:?}"),
        }
    }

    fn worker(&self, worker: usize, seed: u64) -> WorkerLog {
        let mut rng = Rng::new(seed);
        let mut log = WorkerLog::default();
        for n in 0..OPS_PER_WORKER {
            let roll = rng.below(100);
            if roll < 40 {
                self.block(&mut rng, format!("w{worker}-{n}"), roll >= 25);
                continue;
            }
            if roll >= 92 {
                self.update(&mut rng, &mut log, roll >= 96);
                continue;
            }
            let Some((index, id)) = self.pick(&mut rng) else {
                continue;
            };
            let seen = match roll {
                40..=64 => match self.engine.confirm(&id) {
                    Ok(()) => Some(Seen::ConfirmedHere),
                    Err(error) => seen_in_error(&error),
                },
                65..=79 => match self.engine.cancel(&id) {
                    Ok(()) => Some(Seen::CancelledHere),
                    Err(error) => seen_in_error(&error),
                },
                80..=86 => {
                    let by = Duration::from_micros(1 + rng.below(2_000));
                    self.engine.extend(&id, by).err().as_ref().and_then(seen_in_error)
                }
                _ => match self.engine.status(&id) {
                    Ok(status) if status.state == OrderState::Held => None,
                    Ok(status) => Some(Seen::Ended(status.state)),
                    Err(Error::UnknownOrder) if self.bound.is_some() => None,
                    Err(other) => panic!("status {id} failed unexpectedly: {other:?}"),
                },
            };
            log.seen.extend(seen.map(|seen| (index, seen)));
        }
        log
    }

    fn update(&self, rng: &mut Rng, log: &mut WorkerLog, restock: bool) {
        let product = rng.below(PRODUCTS.len() as u64) as usize;
        let units = 1 + rng.below(2);
        let delta = if restock { units as i64 } else { -(units as i64) };
        match self.engine.update_inventory(PRODUCTS[product], delta) {
            Ok(_) if restock => log.restocked[product] += units,
            Ok(_) => log.corrected[product] += units,
            Err(Error::InsufficientStock { .. }) if !restock => {}
            Err(other) => panic!("update {delta} failed unexpectedly: {other:?}"),
        }
    }

    /// Reads every product's stock until the race stops, checking the
    /// invariants on each reading.
    fn reader(&self) {
        while !self.stop.load(Ordering::Acquire) {
            for product in PRODUCTS {
                let stock = self.engine.stock(product).unwrap();
                assert!(stock.reserved <= stock.on_hand, "{product}: {stock:?}");
                assert_eq!(stock.available, stock.on_hand - stock.reserved, "{product}");
                self.observed_stocks.fetch_add(1, Ordering::Relaxed);
            }
            thread::yield_now();
        }
    }

    /// Moves the manual clock on in small steps while the race runs.
    fn clock(&self, seed: u64) {
        let mut rng = Rng::new(seed);
        while !self.stop.load(Ordering::Acquire) {
            self.engine.advance(Duration::from_micros(rng.below(1_500))).unwrap();
            thread::yield_now();
        }
    }

    fn releaser(&self) {
        while !self.stop.load(Ordering::Acquire) {
            self.engine.release_expired().unwrap();
            thread::yield_now();
        }
    }

    /// Runs the workers, with readers (and, on the manual clock, a clock
    /// thread and a release thread) beside them; returns every worker's log.
    fn run(&self, seed: u64) -> Vec<WorkerLog> {
        thread::scope(|scope| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| scope.spawn(move || self.worker(w, seed + w as u64)))
                .collect();
            let mut helpers = vec![scope.spawn(|| self.reader()), scope.spawn(|| self.reader())];
            if self.manual {
                helpers.push(scope.spawn(move || self.clock(seed ^ 0xC10C)));
                helpers.push(scope.spawn(|| self.releaser()));
            }
            let logs = workers.into_iter().map(|w| w.join().expect("a worker panicked")).collect();
            self.stop.store(true, Ordering::Release);
            for helper in helpers {
                helper.join().expect("a reader, clock or releaser panicked");
            }
            logs
        })
    }

    /// Checks that every observation fits one history of each order, and that
    /// stock adds up.
    fn check(&self, logs: &[WorkerLog]) {
        let placed = self.placed.lock().unwrap();
        let mut seen_per_order: HashMap<usize, Vec<Seen>> = HashMap::new();
        for (index, seen) in logs.iter().flat_map(|log| &log.seen) {
            seen_per_order.entry(*index).or_default().push(*seen);
        }

        let mut confirmed_units = [0u64; PRODUCTS.len()];
        let mut remembered = 0;
        for (index, order) in placed.iter().enumerate() {
            let seen = seen_per_order.remove(&index).unwrap_or_default();
            let ending = one_ending(&order.id, &seen);
            match self.engine.status(&order.id) {
                Ok(status) => {
                    assert_eq!(status.state, ending, "{}: final state against {seen:?}", order.id);
                    remembered += 1;
                }
                // Only the memory bound may have forgotten an order already.
                Err(Error::UnknownOrder) if self.bound.is_some() => {}
                Err(other) => panic!("{}: status failed with {other:?}", order.id),
            }
            if ending == OrderState::Confirmed {
                for (sum, units) in confirmed_units.iter_mut().zip(order.units) {
                    *sum += units;
                }
            }
        }
        if let Some(bound) = self.bound {
            assert_eq!(remembered, bound.min(placed.len()), "ended orders remembered");
        }

        for (i, product) in PRODUCTS.into_iter().enumerate() {
            let restocked: u64 = logs.iter().map(|log| log.restocked[i]).sum();
            let corrected: u64 = logs.iter().map(|log| log.corrected[i]).sum();
            let stock = self.engine.stock(product).unwrap();
            assert_eq!(stock.reserved, 0, "{product}: every hold ended");
            assert_eq!(
                stock.on_hand,
                INITIAL_STOCK + restocked - corrected - confirmed_units[i],
                "{product}: on_hand = initial + restocks - corrections - confirmed units"
            );
            assert!(
                confirmed_units[i] <= INITIAL_STOCK + restocked,
                "{product}: more units confirmed than ever stocked"
            );
        }
    }
}

fn product_index(product: &str) -> usize {
    PRODUCTS.iter().position(|p| *p == product).expect("a known product")
}

/// What the threads saw of one order must tell one story: it ended once,
/// and every answer about it agrees with how it ended. Returns how it ended.
fn one_ending(order: &str, seen: &[Seen]) -> OrderState {
    let confirms = seen.iter().filter(|s| **s == Seen::ConfirmedHere).count();
    let cancels = seen.iter().filter(|s| **s == Seen::CancelledHere).count();
    assert!(confirms + cancels <= 1, "{order} ended more than once: {seen:?}");
    let ending = match (confirms, cancels) {
        (1, _) => OrderState::Confirmed,
        (_, 1) => OrderState::Cancelled,
        _ => OrderState::Expired,
    };
    for answer in seen {
        if let Seen::Ended(reported) = answer {
            assert_eq!(*reported, ending, "{order} was reported {reported:?}: {seen:?}");
        }
    }
    ending
}

/// Blocks until no product has units held, or fails after a generous limit.
fn wait_until_all_released(engine: &Engine) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while PRODUCTS.iter().any(|p| engine.stock(p).unwrap().reserved > 0) {
        assert!(Instant::now() < give_up, "the releaser left holds unreleased");
        thread::yield_now();
    }
}

fn report(name: &str, race: &Race) {
    let placed = race.placed.lock().unwrap().len();
    let readings = race.observed_stocks.load(Ordering::Relaxed);
    eprintln!("{name}: {placed} orders held, {readings} stock readings checked");
}

#[test]
fn racing_threads_on_the_manual_clock_keep_every_invariant() {
    with_watchdog("manual clock race", || {
        // A long retention keeps every order answerable for the final check.
        let options = Options { retention: Duration::from_secs(1 << 30), ..Options::manual() };
        let race = Race::new(options);
        let logs = race.run(0x5EED);
        race.engine.advance(Duration::from_secs(3600)).unwrap();
        race.check(&logs);
        report("manual clock race", &race);
    });
}

#[test]
fn racing_threads_under_a_small_memory_bound_keep_every_invariant() {
    with_watchdog("memory bound race", || {
        // Every ending pushes an older order out: the bound is kept over all
        // threads while they end orders at once.
        let options = Options {
            retention: Duration::from_secs(1 << 30),
            max_remembered: 40,
            ..Options::manual()
        };
        let race = Race::new(options);
        let logs = race.run(0xB0D);
        race.engine.advance(Duration::from_secs(3600)).unwrap();
        race.check(&logs);
        report("memory bound race", &race);
    });
}

#[test]
fn racing_threads_with_the_background_releaser_keep_every_invariant() {
    with_watchdog("background releaser race", || {
        let options = Options { hold_time: Duration::from_micros(500), ..Options::default() };
        let race = Race::new(options);
        let logs = race.run(0xB0B);
        wait_until_all_released(&race.engine);
        race.check(&logs);
        report("background releaser race", &race);
    });
}

/// How each round of a confirm-versus-expiry race ended.
#[derive(Default, Debug)]
struct Tally {
    confirmed: usize,
    expired: usize,
}

impl Tally {
    /// Checks one round: exactly one side won, and stock moved to match.
    fn round(
        &mut self,
        engine: &Engine,
        order: &str,
        confirm: &Result<(), Error>,
        released: usize,
    ) {
        let state = engine.status(order).unwrap().state;
        match confirm {
            Ok(()) => {
                assert_eq!(state, OrderState::Confirmed, "{order}");
                assert_eq!(released, 0, "{order} was confirmed and also released");
                self.confirmed += 1;
            }
            Err(Error::Expired) => {
                assert_eq!(state, OrderState::Expired, "{order}");
                assert!(released <= 1, "{order} released {released} times");
                self.expired += 1;
            }
            Err(other) => panic!("{order}: confirm failed with {other:?}"),
        }
        let stock = engine.stock("hot").unwrap();
        assert_eq!(stock.reserved, 0, "{order} left units held");
        assert_eq!(stock.on_hand, RACE_ROUNDS as u64 - self.confirmed as u64, "{order}");
    }
}

/// One side of a race: given the round's order id, it returns a release
/// count, or 1 for a confirm that succeeded and 0 for one that expired.
type Racer = fn(&Engine, &str) -> Result<usize, Error>;

/// Runs `RACE_ROUNDS` rounds of `racers` threads started together. Before
/// each round `prepare` holds one unit for the round's order; the first
/// racer confirms it.
fn race_rounds(name: &'static str, engine: Engine, prepare: fn(&Engine, &str), racers: Vec<Racer>) {
    with_watchdog(name, move || {
        engine.add_product("hot", "Hot", RACE_ROUNDS as u64).unwrap();
        let start = Barrier::new(racers.len() + 1);
        let end = Barrier::new(racers.len() + 1);
        let order = Mutex::new(String::new());
        let results = Mutex::new(vec![Ok(0); racers.len()]);
        let mut tally = Tally::default();
        thread::scope(|scope| {
            for (i, racer) in racers.iter().enumerate() {
                let (engine, start, end, order, results) =
                    (&engine, &start, &end, &order, &results);
                scope.spawn(move || {
                    for _ in 0..RACE_ROUNDS {
                        start.wait();
                        let id = order.lock().unwrap().clone();
                        let result = racer(engine, &id);
                        results.lock().unwrap()[i] = result;
                        end.wait();
                    }
                });
            }
            for round in 0..RACE_ROUNDS {
                let id = format!("round-{round}");
                prepare(&engine, &id);
                *order.lock().unwrap() = id.clone();
                start.wait();
                end.wait();
                let results = results.lock().unwrap();
                let confirm = match &results[0] {
                    Ok(1) => Ok(()),
                    Ok(_) => Err(Error::Expired),
                    Err(error) => Err(error.clone()),
                };
                let released = results[1..].iter().map(|r| *r.as_ref().unwrap()).sum();
                tally.round(&engine, &id, &confirm, released);
            }
        });
        eprintln!("{name}: {RACE_ROUNDS} rounds, {tally:?}");
    });
}

/// A confirm, as a racer: 1 when it succeeded, 0 when the hold had expired.
fn confirm_racer(engine: &Engine, order: &str) -> Result<usize, Error> {
    match engine.confirm(order) {
        Ok(()) => Ok(1),
        Err(Error::Expired) => Ok(0),
        Err(other) => Err(other),
    }
}

fn hold_until_now_is_the_deadline(engine: &Engine, order: &str) {
    engine.block("hot", 1, order, Some(Duration::from_millis(1))).unwrap();
    engine.advance(Duration::from_millis(1)).unwrap();
}

#[test]
fn confirm_against_advancing_past_the_deadline_has_one_winner() {
    let engine = Engine::new(Options::manual()).unwrap();
    race_rounds(
        "confirm against advance",
        engine,
        hold_until_now_is_the_deadline,
        vec![confirm_racer, |engine, _| engine.advance(Duration::from_nanos(1))],
    );
}

#[test]
fn confirm_against_advance_and_release_pass_has_one_winner() {
    let engine = Engine::new(Options::manual()).unwrap();
    race_rounds(
        "confirm against advance and release",
        engine,
        hold_until_now_is_the_deadline,
        vec![
            confirm_racer,
            |engine, _| engine.advance(Duration::from_nanos(1)),
            |engine, _| engine.release_expired(),
            |engine, _| engine.release_expired(),
        ],
    );
}

#[test]
fn confirm_against_release_on_the_system_clock_has_one_winner() {
    // No releaser thread: the deadline passes on its own and a release pass
    // runs as it does, so confirm meets both a release pass and a deadline
    // that passed a moment ago.
    let options = Options { background_release: false, ..Options::default() };
    let engine = Engine::new(options).unwrap();
    race_rounds(
        "confirm against release on the system clock",
        engine,
        |engine, order| {
            engine.block("hot", 1, order, Some(Duration::from_micros(300))).unwrap();
        },
        vec![
            |engine, order| {
                // Aim a little before the deadline: a confirm takes about
                // that long, so it lands on either side of it.
                let deadline = engine.status(order)?.deadline.since_start;
                let aim = deadline.saturating_sub(Duration::from_micros(2));
                while engine.now() < aim {
                    std::hint::spin_loop();
                }
                confirm_racer(engine, order)
            },
            |engine, order| {
                let deadline = engine.status(order)?.deadline.since_start;
                while engine.now() <= deadline {
                    std::hint::spin_loop();
                }
                engine.release_expired()
            },
        ],
    );
}
