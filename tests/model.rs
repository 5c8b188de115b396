//! Model-based test: random sequences of every operation run against the
//! engine (manual clock) and against a small sequential model of the
//! contract written here, and every answer must agree: values, error codes,
//! the products and amounts errors name, and at the end the stock of every
//! product and the state of every order.
//!
//! The model keeps everything in plain maps and does each operation the
//! obvious way: bad input first, then unknown ids, then conflicts with the
//! current state, one check after another.
//!
//! `STOCKKEEPER_MODEL_CASES=1000000 cargo test --release --test model` runs a
//! longer search than the default.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use stockkeeper::{Engine, Error, Line, Options, OrderState, Stock, MAX_COUNT, MAX_ID_BYTES};

const DEFAULT_CASES: u32 = 10_000;
const PRODUCTS: [&str; 3] = ["a", "b", "c"];
const ORDERS: [&str; 4] = ["o0", "o1", "o2", "o3"];

// ---- The model ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setup {
    hold: Duration,
    retention: Duration,
    remember: usize,
    /// Starting stock of each product; a product without one starts unknown.
    stock: [Option<u64>; PRODUCTS.len()],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    on_hand: u64,
    reserved: u64,
}

impl Counts {
    fn stock(self) -> Stock {
        Stock {
            on_hand: self.on_hand,
            reserved: self.reserved,
            available: self.on_hand - self.reserved,
        }
    }
}

#[derive(Debug, Clone)]
struct ModelOrder {
    /// One line per product, summed, sorted by product id.
    lines: Vec<(String, u64)>,
    deadline: u64,
    state: OrderState,
    ended_at: u64,
}

/// What an operation answered, in a form both sides can give.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Done,
    Available(u64),
    Stock(Stock),
    Deadline(Duration),
    Status(OrderState, Vec<(String, u64)>, Duration),
    Released(usize),
    Refused(Error),
}

struct Model {
    setup: Setup,
    now: u64,
    closed: bool,
    products: BTreeMap<String, Counts>,
    orders: BTreeMap<String, ModelOrder>,
    /// Ended orders still remembered, oldest first, grouped by the step that
    /// ended them. Within a group the engine's order is its own affair (one
    /// release pass may end several holds), so the model cannot say which of
    /// a group the memory bound pushes out first.
    ended: VecDeque<Vec<String>>,
    /// How many of the oldest group the memory bound must push out, when the
    /// model cannot tell which; settled by looking at the engine.
    undecided: usize,
}

fn nanos(duration: Duration) -> Result<u64, Error> {
    u64::try_from(duration.as_nanos()).map_err(|_| Error::Overflow)
}

fn check_id(id: &str) -> Result<(), Error> {
    match id {
        "" => Err(Error::EmptyId),
        _ if id.len() > MAX_ID_BYTES => Err(Error::IdTooLong { len: id.len() }),
        _ if id.contains('\0') => Err(Error::IdContainsNul),
        _ => Ok(()),
    }
}

fn unknown_product(id: &str) -> Error {
    Error::UnknownProduct { product: id.to_owned() }
}

impl Model {
    fn new(setup: Setup) -> Model {
        let products = PRODUCTS
            .iter()
            .zip(setup.stock)
            .filter_map(|(id, on_hand)| Some((id, on_hand?)))
            .map(|(id, on_hand)| (id.to_string(), Counts { on_hand, reserved: 0 }))
            .collect();
        Model {
            setup,
            now: 0,
            closed: false,
            products,
            orders: BTreeMap::new(),
            ended: VecDeque::new(),
            undecided: 0,
        }
    }

    fn apply(&mut self, op: &Op) -> Answer {
        if self.closed {
            return match op {
                Op::Close => Answer::Done,
                _ => Answer::Refused(Error::Closed),
            };
        }
        let result = match op {
            Op::Add(id, count) => self.add(id, *count).map(|()| Answer::Done),
            Op::Available(id) => self.stock(id).map(|s| Answer::Available(s.available)),
            Op::Stock(id) => self.stock(id).map(Answer::Stock),
            Op::Update(id, delta) => self.update(id, *delta).map(Answer::Stock),
            Op::Block(order, lines, hold) => self.block(order, lines, *hold),
            Op::Confirm(order) => self.finish(order, OrderState::Confirmed).map(|()| Answer::Done),
            Op::Cancel(order) => self.finish(order, OrderState::Cancelled).map(|()| Answer::Done),
            Op::Extend(order, by) => self.extend(order, *by),
            Op::Status(order) => self.status(order),
            Op::Advance(by) => self.advance(*by),
            Op::AdvanceTo(..) => unreachable!("resolved into an advance first"),
            Op::Release => Ok(Answer::Released(self.release_pass())),
            Op::Close => {
                self.closed = true;
                Ok(Answer::Done)
            }
        };
        result.unwrap_or_else(Answer::Refused)
    }

    /// Turns a step that depends on the model's state into a plain one.
    fn resolve(&self, op: Op) -> Op {
        let Op::AdvanceTo(order, past) = op else {
            return op;
        };
        let to = match self.orders.get(&order) {
            Some(held) if held.state == OrderState::Held => held.deadline.max(self.now),
            _ => self.now,
        };
        Op::Advance(Duration::from_nanos(to - self.now) + Duration::from_nanos(u64::from(past)))
    }

    fn add(&mut self, id: &str, count: u64) -> Result<(), Error> {
        check_id(id)?;
        if count > MAX_COUNT {
            return Err(Error::Overflow);
        }
        if self.products.contains_key(id) {
            return Err(Error::ProductExists);
        }
        self.products.insert(id.to_owned(), Counts { on_hand: count, reserved: 0 });
        Ok(())
    }

    fn stock(&self, id: &str) -> Result<Stock, Error> {
        check_id(id)?;
        self.products.get(id).map(|c| c.stock()).ok_or_else(|| unknown_product(id))
    }

    fn update(&mut self, id: &str, delta: i64) -> Result<Stock, Error> {
        check_id(id)?;
        if delta == 0 {
            return Err(Error::InvalidQuantity);
        }
        let counts = self.products.get_mut(id).ok_or_else(|| unknown_product(id))?;
        let magnitude = delta.unsigned_abs();
        if delta > 0 {
            if counts.on_hand + magnitude > MAX_COUNT {
                return Err(Error::Overflow);
            }
            counts.on_hand += magnitude;
        } else {
            if magnitude > MAX_COUNT {
                return Err(Error::Overflow);
            }
            let available = counts.on_hand - counts.reserved;
            if magnitude > available {
                return Err(Error::InsufficientStock {
                    product: id.to_owned(),
                    requested: magnitude,
                    available,
                });
            }
            counts.on_hand -= magnitude;
        }
        Ok(counts.stock())
    }

    fn block(
        &mut self,
        order: &str,
        lines: &[(String, u64)],
        hold: Option<Duration>,
    ) -> Result<Answer, Error> {
        check_id(order)?;
        if lines.is_empty() {
            return Err(Error::InvalidQuantity);
        }
        for (product, quantity) in lines {
            check_id(product)?;
            match *quantity {
                0 => return Err(Error::InvalidQuantity),
                q if q > MAX_COUNT => return Err(Error::Overflow),
                _ => {}
            }
        }
        let hold = match hold {
            Some(time) => nanos(time)?,
            None => nanos(self.setup.hold)?,
        };
        if hold == 0 {
            return Err(Error::InvalidDuration);
        }
        let deadline = self.now.checked_add(hold).ok_or(Error::Overflow)?;

        let mut wanted: BTreeMap<String, u64> = BTreeMap::new();
        for (product, quantity) in lines {
            let sum = wanted.entry(product.clone()).or_insert(0);
            *sum += quantity;
            if *sum > MAX_COUNT {
                return Err(Error::Overflow);
            }
        }
        if let Some(unknown) = wanted.keys().find(|p| !self.products.contains_key(*p)) {
            return Err(unknown_product(unknown));
        }
        if self.orders.contains_key(order) {
            return Err(Error::DuplicateOrder);
        }
        for (product, quantity) in &wanted {
            let counts = self.products[product];
            let available = counts.on_hand - counts.reserved;
            if *quantity > available {
                return Err(Error::InsufficientStock {
                    product: product.clone(),
                    requested: *quantity,
                    available,
                });
            }
        }

        for (product, quantity) in &wanted {
            self.products.get_mut(product).unwrap().reserved += quantity;
        }
        let lines = wanted.into_iter().collect();
        let held = ModelOrder { lines, deadline, state: OrderState::Held, ended_at: 0 };
        self.orders.insert(order.to_owned(), held);
        Ok(Answer::Deadline(Duration::from_nanos(deadline)))
    }

    /// Ends a held order: moves its units and records when it ended.
    fn end(&mut self, order: &str, state: OrderState) {
        let held = self.orders.get_mut(order).unwrap();
        held.state = state;
        held.ended_at = self.now;
        for (product, quantity) in &held.lines {
            let counts = self.products.get_mut(product).unwrap();
            counts.reserved -= quantity;
            if state == OrderState::Confirmed {
                counts.on_hand -= quantity;
            }
        }
    }

    /// Remembers a group of orders that ended together, then pushes the
    /// oldest out while more than the bound are remembered.
    fn remember(&mut self, group: Vec<String>) {
        if group.is_empty() {
            return;
        }
        self.ended.push_back(group);
        let mut excess =
            self.ended.iter().map(Vec::len).sum::<usize>().saturating_sub(self.setup.remember);
        while excess > 0 {
            let oldest = self.ended.front().unwrap();
            if oldest.len() > excess {
                self.undecided = excess;
                return;
            }
            excess -= oldest.len();
            for order in self.ended.pop_front().unwrap() {
                self.orders.remove(&order);
            }
        }
    }

    /// The checks confirm, cancel and extend share: a held order whose
    /// deadline has not passed, or why there is none.
    fn live(&mut self, order: &str) -> Result<(), Error> {
        let held = self.orders.get(order).ok_or(Error::UnknownOrder)?;
        match held.state {
            OrderState::Held if self.now <= held.deadline => Ok(()),
            OrderState::Held => {
                self.end(order, OrderState::Expired);
                self.remember(vec![order.to_owned()]);
                Err(Error::Expired)
            }
            OrderState::Confirmed => Err(Error::AlreadyConfirmed),
            OrderState::Cancelled => Err(Error::AlreadyCancelled),
            OrderState::Expired => Err(Error::Expired),
        }
    }

    fn finish(&mut self, order: &str, state: OrderState) -> Result<(), Error> {
        check_id(order)?;
        self.live(order)?;
        self.end(order, state);
        self.remember(vec![order.to_owned()]);
        Ok(())
    }

    fn extend(&mut self, order: &str, by: Duration) -> Result<Answer, Error> {
        check_id(order)?;
        let by = nanos(by)?;
        if by == 0 {
            return Err(Error::InvalidDuration);
        }
        self.live(order)?;
        let held = self.orders.get_mut(order).unwrap();
        held.deadline = held.deadline.checked_add(by).ok_or(Error::Overflow)?;
        Ok(Answer::Deadline(Duration::from_nanos(held.deadline)))
    }

    fn status(&mut self, order: &str) -> Result<Answer, Error> {
        check_id(order)?;
        let held = self.orders.get(order).ok_or(Error::UnknownOrder)?;
        if held.state == OrderState::Held && self.now > held.deadline {
            self.end(order, OrderState::Expired);
            self.remember(vec![order.to_owned()]);
        }
        let held = &self.orders[order];
        let deadline = Duration::from_nanos(held.deadline);
        Ok(Answer::Status(held.state, held.lines.clone(), deadline))
    }

    fn advance(&mut self, by: Duration) -> Result<Answer, Error> {
        let by = nanos(by)?;
        self.now = self.now.checked_add(by).ok_or(Error::Overflow)?;
        Ok(Answer::Released(self.release_pass()))
    }

    /// Forgets ended orders past their retention, then expires every hold
    /// whose deadline has passed.
    fn release_pass(&mut self) -> usize {
        let retention = nanos(self.setup.retention).unwrap();
        while let Some(oldest) = self.ended.front() {
            let ended_at = self.orders[&oldest[0]].ended_at;
            if ended_at.saturating_add(retention) > self.now {
                break;
            }
            for order in self.ended.pop_front().unwrap() {
                self.orders.remove(&order);
            }
        }

        let due: Vec<String> = self
            .orders
            .iter()
            .filter(|(_, o)| o.state == OrderState::Held && o.deadline < self.now)
            .map(|(id, _)| id.clone())
            .collect();
        for order in &due {
            self.end(order, OrderState::Expired);
        }
        let released = due.len();
        self.remember(due);
        released
    }

    /// Settles which members of the oldest group the memory bound pushed
    /// out, by asking the engine: exactly as many as the bound demands must
    /// be gone. Asking about an ended or unknown order changes nothing.
    fn settle(&mut self, engine: &Engine) -> Result<(), String> {
        if self.undecided == 0 {
            return Ok(());
        }
        let group = self.ended.pop_front().unwrap();
        let (gone, kept): (Vec<String>, Vec<String>) =
            group.into_iter().partition(|order| engine.status(order) == Err(Error::UnknownOrder));
        if gone.len() != self.undecided {
            return Err(format!(
                "the memory bound should have pushed out {} of {gone:?} and {kept:?}",
                self.undecided
            ));
        }
        for order in &gone {
            self.orders.remove(order);
        }
        self.ended.push_front(kept);
        self.undecided = 0;
        Ok(())
    }
}

// ---- Running an operation on the engine -------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Add(String, u64),
    Available(String),
    Stock(String),
    Update(String, i64),
    Block(String, Vec<(String, u64)>, Option<Duration>),
    Confirm(String),
    Cancel(String),
    Extend(String, Duration),
    Status(String),
    Advance(Duration),
    /// Advance exactly to the order's deadline, or one nanosecond past it.
    AdvanceTo(String, bool),
    Release,
    Close,
}

/// Runs an operation on the engine. Deadlines must also be reported on the
/// wall clock, the same instant for every deadline: `origin` keeps the
/// engine's start on the wall clock as the first deadline showed it.
fn perform(engine: &Engine, op: &Op, origin: &mut Option<SystemTime>) -> Answer {
    let mut deadline = |d: stockkeeper::Deadline| {
        let start = d.wall - d.since_start;
        assert_eq!(*origin.get_or_insert(start), start, "wall-clock deadlines drifted");
        Answer::Deadline(d.since_start)
    };
    let result = match op {
        Op::Add(id, count) => engine.add_product(id, id, *count).map(|()| Answer::Done),
        Op::Available(id) => engine.available(id).map(Answer::Available),
        Op::Stock(id) => engine.stock(id).map(Answer::Stock),
        Op::Update(id, delta) => engine.update_inventory(id, *delta).map(Answer::Stock),
        Op::Block(order, lines, hold) => match lines.as_slice() {
            [(product, quantity)] => engine.block(product, *quantity, order, *hold),
            _ => {
                let lines: Vec<Line<'_>> = lines.iter().map(|(p, q)| Line::new(p, *q)).collect();
                engine.block_order(order, &lines, *hold)
            }
        }
        .map(&mut deadline),
        Op::Confirm(order) => engine.confirm(order).map(|()| Answer::Done),
        Op::Cancel(order) => engine.cancel(order).map(|()| Answer::Done),
        Op::Extend(order, by) => engine.extend(order, *by).map(&mut deadline),
        Op::Status(order) => engine.status(order).map(|status| {
            let since_start = status.deadline.since_start;
            deadline(status.deadline);
            Answer::Status(status.state, status.lines, since_start)
        }),
        Op::Advance(by) => engine.advance(*by).map(Answer::Released),
        Op::AdvanceTo(..) => unreachable!("resolved into an advance first"),
        Op::Release => engine.release_expired().map(Answer::Released),
        Op::Close => {
            engine.close();
            Ok(Answer::Done)
        }
    };
    result.unwrap_or_else(Answer::Refused)
}

/// Runs one sequence on a fresh engine and a fresh model, comparing every
/// answer as it goes and every product and order at the end.
fn check_sequence(setup: Setup, ops: &[Op]) -> Result<(), String> {
    let options = Options {
        hold_time: setup.hold,
        retention: setup.retention,
        max_remembered: setup.remember,
        ..Options::manual()
    };
    let engine = Engine::new(options).expect("the engine starts");
    for (id, on_hand) in PRODUCTS.iter().zip(setup.stock) {
        if let Some(on_hand) = on_hand {
            engine.add_product(id, id, on_hand).unwrap();
        }
    }
    let mut model = Model::new(setup);
    let mut origin = None;

    for (step, op) in ops.iter().enumerate() {
        let op = model.resolve(op.clone());
        let want = model.apply(&op);
        let got = perform(&engine, &op, &mut origin);
        if got != want {
            return Err(format!(
                "step {step}, {op:?}: the engine gave {got:?}, the model {want:?}"
            ));
        }
        model.settle(&engine).map_err(|e| format!("step {step}, {op:?}: {e}"))?;
    }

    let closed = model.closed;
    let expected_end = |answer: Answer| match closed {
        true => Answer::Refused(Error::Closed),
        false => answer,
    };
    for product in PRODUCTS {
        let want = expected_end(model.stock(product).map_or_else(Answer::Refused, Answer::Stock));
        let got = engine.stock(product).map_or_else(Answer::Refused, Answer::Stock);
        if got != want {
            return Err(format!("final stock of {product}: engine {got:?}, model {want:?}"));
        }
    }
    for order in ORDERS {
        let want = expected_end(model.status(order).unwrap_or_else(Answer::Refused));
        let got = perform(&engine, &Op::Status(order.to_owned()), &mut origin);
        if got != want {
            return Err(format!("final status of {order}: engine {got:?}, model {want:?}"));
        }
    }
    Ok(())
}

// ---- Random sequences ---------------------------------------------------------------
//
// Proptest generates plain integers and each is read as a run of choices.
// Nested strategies would describe the same distribution but cost far more
// to generate in a debug build; integers shrink towards zero, and zero reads
// as the first, simplest choice everywhere.

const ADVANCES: [Duration; 13] = [
    Duration::from_secs(1),
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_secs(59),
    Duration::from_secs(60),
    Duration::from_secs(299),
    Duration::from_secs(300),
    Duration::from_secs(301),
    Duration::from_secs(599),
    Duration::from_secs(600),
    Duration::from_secs(601),
    Duration::from_secs(3600),
    Duration::MAX,
];

const EXTENSIONS: [Duration; 7] = [
    Duration::from_secs(1),
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_secs(60),
    Duration::from_secs(300),
    Duration::from_nanos(u64::MAX),
    Duration::MAX,
];

/// A random number read as a sequence of choices.
struct Choices(u128);

impl Choices {
    /// A choice among `n`, the next digit of the number in base `n`.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u128;
        let choice = self.0 % n;
        self.0 /= n;
        choice as usize
    }

    /// An id from `pool`, now and then one that is not a valid id.
    fn id(&mut self, pool: &[&str]) -> String {
        let roll = self.below(16 * pool.len() + 3);
        match roll.checked_sub(16 * pool.len()) {
            None => pool[roll % pool.len()].to_owned(),
            Some(0) => String::new(),
            Some(1) => "nul\0".to_owned(),
            Some(_) => "x".repeat(MAX_ID_BYTES + 1),
        }
    }

    fn product(&mut self) -> String {
        self.id(&PRODUCTS)
    }

    fn order(&mut self) -> String {
        self.id(&ORDERS)
    }

    fn quantity(&mut self) -> u64 {
        match self.below(50) {
            roll @ 0..=39 => 1 + roll as u64 % 3,
            40 | 41 => 0,
            42..=45 => 4 + self.below(5) as u64,
            46 => MAX_COUNT / 2 + 1,
            47 => MAX_COUNT,
            48 => MAX_COUNT + 1,
            _ => u64::MAX,
        }
    }

    fn count(&mut self) -> u64 {
        match self.below(13) {
            roll @ 0..=9 => roll as u64 % 9,
            10 => MAX_COUNT - 1,
            11 => MAX_COUNT,
            _ => MAX_COUNT + 1,
        }
    }

    fn delta(&mut self) -> i64 {
        match self.below(15) {
            roll @ 0..=11 => [1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 0, 1][roll],
            12 => i64::MAX,
            13 => -i64::MAX,
            _ => i64::MIN,
        }
    }

    fn hold(&mut self) -> Option<Duration> {
        match self.below(24) {
            0..=13 => None,
            14 => Some(Duration::ZERO),
            15 => Some(Duration::from_nanos(1)),
            16 | 17 => Some(Duration::from_secs(1)),
            18 | 19 => Some(Duration::from_secs(60)),
            20 | 21 => Some(Duration::from_secs(300)),
            22 => Some(Duration::from_nanos(u64::MAX)),
            _ => Some(Duration::MAX),
        }
    }

    /// One to four lines, products possibly repeated; now and then none.
    fn lines(&mut self) -> Vec<(String, u64)> {
        if self.below(31) == 30 {
            return Vec::new();
        }
        let count = [1, 1, 1, 1, 2, 2, 3, 4][self.below(8)];
        (0..count).map(|_| (self.product(), self.quantity())).collect()
    }

    fn op(&mut self) -> Op {
        // Weights out of 200; closing ends the interesting part of a
        // sequence, so it is rare.
        match self.below(200) {
            0..=59 => {
                let order = self.order();
                let lines = self.lines();
                Op::Block(order, lines, self.hold())
            }
            60..=83 => Op::Confirm(self.order()),
            84..=99 => Op::Cancel(self.order()),
            100..=111 => Op::Extend(self.order(), EXTENSIONS[self.below(EXTENSIONS.len())]),
            112..=123 => Op::Status(self.order()),
            124..=131 => Op::Stock(self.product()),
            132..=135 => Op::Available(self.product()),
            136..=145 => Op::Add(self.product(), self.count()),
            146..=157 => Op::Update(self.product(), self.delta()),
            158..=175 => Op::Advance(ADVANCES[self.below(ADVANCES.len())]),
            176..=191 => Op::AdvanceTo(self.order(), self.below(2) == 1),
            192..=198 => Op::Release,
            _ => Op::Close,
        }
    }

    fn setup(&mut self) -> Setup {
        let hold = [Duration::from_secs(300), Duration::from_secs(60)][self.below(2)];
        let retention = match self.below(8) {
            0..=5 => Duration::from_secs(600),
            6 => Duration::ZERO,
            _ => Duration::from_secs(3600),
        };
        let remember = match self.below(4) {
            0..=2 => 1_000_000,
            _ => 1 + self.below(3),
        };
        let stock = [0; PRODUCTS.len()].map(|_| match self.below(8) {
            7 => None,
            n => Some(n as u64),
        });
        Setup { hold, retention, remember, stock }
    }
}

fn cases() -> u32 {
    match std::env::var("STOCKKEEPER_MODEL_CASES") {
        Ok(text) => text.parse().expect("STOCKKEEPER_MODEL_CASES is a number of sequences"),
        Err(_) => DEFAULT_CASES,
    }
}

#[test]
fn the_engine_answers_as_the_model_does() {
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let sequences = AtomicUsize::new(0);
    let strategy = (any::<u128>(), prop::collection::vec(any::<u128>(), 1..=40));
    let result = runner.run(&strategy, |(setup, ops)| {
        sequences.fetch_add(1, Ordering::Relaxed);
        let setup = Choices(setup).setup();
        let ops: Vec<Op> = ops.into_iter().map(|op| Choices(op).op()).collect();
        check_sequence(setup, &ops).map_err(|failure| {
            let steps: Vec<String> = ops.iter().map(|op| format!("  {op:?}")).collect();
            TestCaseError::fail(format!("{failure}\n{setup:?}\n{}", steps.join("\n")))
        })
    });
    // Written straight to stderr: the test harness captures `eprintln!`, and
    // how many sequences ran is the measure of what this test covered.
    let _ =
        writeln!(std::io::stderr(), "model: {} sequences run", sequences.load(Ordering::Relaxed));
    if let Err(failure) = result {
        panic!("the engine and the model disagree: {failure}");
    }
}
