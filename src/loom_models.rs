//! Loom models of the backend's races (`make verify-loom`).
//!
//! Each model drives a [`LocalBackend`] directly, with explicit times, from
//! two loom threads, and loom runs it under every interleaving of their lock
//! operations that takes at most [`PREEMPTION_BOUND`] preemptions. Under
//! `--cfg loom` every lock the backend takes, the locks of its two maps
//! included, is loom's (see `src/sync.rs`); the reference counts (a
//! product's, `Arc`'s) stay std atomics, whose orderings loom does not
//! explore.
//!
//! After the threads join, each model checks how every order ended and the
//! counts of the product, the outcome counters and the hold counts. Each
//! execution names the outcome it reached, and a model fails unless every
//! outcome it expects was reached by some execution: a race that always went
//! the same way would prove nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use loom::model::Builder;
use loom::thread;

use crate::backend::Backend;
use crate::clock::Nanos;
use crate::error::{Error, Result};
use crate::local::LocalBackend;
use crate::loom_map::{shard_index, MAX_SHARDS};
use crate::metrics::{HoldCounts, ProductOutcomes};
use crate::notify::Events;
use crate::order::{Event, Line, OrderState, Stock};
use crate::sync::RandomState;

/// Every model explores all interleavings with at most this many
/// preemptions (a thread switched out while it could have gone on), fixed
/// here so that `LOOM_MAX_PREEMPTIONS` cannot change it. With two threads of
/// a few critical sections each, a model takes at most a few hundred
/// executions, well under a second in release; the snapshot's, whose
/// thread takes 64 shard locks in turn, takes about 110,000, some 7 s.
const PREEMPTION_BOUND: usize = 3;

/// The deadline of every hold a model starts with.
const DEADLINE: Nanos = 1_000;

/// Long enough that no ended order is forgotten for its age in a model.
const RETENTION: Nanos = 1_000_000;

/// Large enough that the memory bound forgets nothing, where it is not the
/// subject of the model.
const REMEMBER_ALL: usize = 100;

const PRODUCT: &str = "p";

/// How a call or a release pass ended holds: (order, state) for each.
type Ended = Vec<(String, OrderState)>;

/// Runs `model` under loom; each execution returns the outcome it reached,
/// one of `outcomes`, and each of them must be reached by some execution.
fn check(
    outcomes: &'static [&'static str],
    model: impl Fn() -> &'static str + Send + Sync + 'static,
) {
    let reached = Arc::new(Mutex::new((BTreeSet::new(), 0_usize)));
    let seen = Arc::clone(&reached);
    let mut builder = Builder::new();
    builder.preemption_bound = Some(PREEMPTION_BOUND);
    builder.check(move || {
        let outcome = model();
        assert!(outcomes.contains(&outcome), "unexpected outcome {outcome}");
        let mut seen = seen.lock().unwrap();
        seen.0.insert(outcome);
        seen.1 += 1;
    });
    let (reached, executions) = &*reached.lock().unwrap();
    eprintln!("{executions} executions, outcomes {reached:?}");
    assert_eq!(*reached, outcomes.iter().copied().collect(), "outcomes reached");
}

/// A backend with `on_hand` units of one product and, for each id in
/// `orders`, a hold of one unit until [`DEADLINE`].
fn backend(on_hand: u64, orders: &[&str], max_remembered: usize) -> Arc<LocalBackend> {
    let backend = LocalBackend::new(RETENTION, max_remembered);
    backend.add_product(PRODUCT, "Product", on_hand).unwrap();
    for order in orders {
        hold(&backend, order, 1).unwrap();
    }
    Arc::new(backend)
}

fn ended(events: Vec<Event>) -> Ended {
    let ends = events.into_iter().filter_map(|event| match event {
        Event::HoldEnded { order, state, .. } => Some((order.to_string(), state)),
        Event::SoldOut { .. } => None,
    });
    ends.collect()
}

/// Runs one call with an event buffer of its own; returns its answer and the
/// holds it ended.
fn call<T>(run: impl FnOnce(&mut Events) -> T) -> (T, Ended) {
    let mut events = Events::collecting();
    let answer = run(&mut events);
    (answer, ended(events.into_list()))
}

/// A release pass at `now`: how many holds it expired, and which.
fn release(backend: &LocalBackend, now: Nanos) -> (usize, Ended) {
    let published = Mutex::new(Vec::new());
    let publish = |events: Events| published.lock().unwrap().extend(events.into_list());
    let expired = backend.release_due(now, &Events::collecting, &publish);
    let ends = ended(published.into_inner().unwrap());
    assert_eq!(ends.len(), expired, "one event for each hold a pass expired");
    (expired, ends)
}

/// Runs `first` and `second` on two threads of the model; returns what each
/// gave.
fn race<A, B>(
    backend: &Arc<LocalBackend>,
    first: impl FnOnce(&LocalBackend) -> A + Send + 'static,
    second: impl FnOnce(&LocalBackend) -> B + Send + 'static,
) -> (A, B)
where
    A: Send + 'static,
    B: Send + 'static,
{
    let (one, two) = (Arc::clone(backend), Arc::clone(backend));
    let first = thread::spawn(move || first(&one));
    let second = thread::spawn(move || second(&two));
    (first.join().unwrap(), second.join().unwrap())
}

/// Holds `quantity` units of the product for `order` until `deadline`.
fn hold_until(backend: &LocalBackend, order: &str, quantity: u64, deadline: Nanos) -> Result<()> {
    let lines = [Line::new(PRODUCT, quantity)];
    backend.hold(order, &lines, deadline, true, &mut Events::collecting())
}

/// Holds `quantity` units of the product for `order` until [`DEADLINE`].
fn hold(backend: &LocalBackend, order: &str, quantity: u64) -> Result<()> {
    hold_until(backend, order, quantity, DEADLINE)
}

/// Holds one unit of the product for `order`, past [`DEADLINE`].
fn hold_later(backend: &LocalBackend, order: &str) -> Result<()> {
    hold_until(backend, order, 1, DEADLINE + 100)
}

fn state(backend: &LocalBackend, order: &str, now: Nanos) -> Result<OrderState> {
    backend.status(order, now, &mut Events::collecting()).map(|view| view.state)
}

/// Checks every count against `ends` (how the ended holds ended) and
/// `held` (holds still live), when every hold took one unit of a product
/// that started with `on_hand`.
fn assert_counts(backend: &LocalBackend, on_hand: u64, ends: &[OrderState], held: u64) {
    let count = |state| ends.iter().filter(|end| **end == state).count() as u64;
    let (confirmed, cancelled, expired) =
        (count(OrderState::Confirmed), count(OrderState::Cancelled), count(OrderState::Expired));
    assert_eq!(backend.stock(PRODUCT).unwrap(), Stock::new(on_hand - confirmed, held));
    let outcomes = ProductOutcomes { confirmed, cancelled, expired };
    assert_eq!(backend.outcomes(PRODUCT).unwrap(), outcomes);
    let held_units = u128::from(held);
    let holds =
        HoldCounts { held: held + ends.len() as u64, confirmed, cancelled, expired, held_units };
    assert_eq!(backend.hold_counts(), holds);
}

/// The one hold that `first` and `second` ended between them, of order "o".
fn ended_once(first: &Ended, second: &Ended) -> OrderState {
    let ends: Vec<_> = first.iter().chain(second).collect();
    assert_eq!(ends.len(), 1, "the order ends exactly once: {ends:?}");
    assert_eq!(ends[0].0, "o");
    ends[0].1
}

/// One thread confirms order "o" at `confirm_at`, the other runs a release
/// pass at `release_at`.
fn confirm_against_release(
    confirm_at: Nanos,
    release_at: Nanos,
    outcomes: &'static [&'static str],
) {
    check(outcomes, move || {
        let backend = backend(2, &["o"], REMEMBER_ALL);
        let ((confirmed, by_confirm), (expired, by_release)) = race(
            &backend,
            move |backend| call(|events| backend.confirm("o", confirm_at, events)),
            move |backend| release(backend, release_at),
        );
        let end = ended_once(&by_confirm, &by_release);
        match &confirmed {
            Ok(()) => assert_eq!(end, OrderState::Confirmed),
            Err(Error::Expired) => assert_eq!(end, OrderState::Expired),
            Err(other) => panic!("confirm refused with {other:?}"),
        }
        // Confirming at the deadline succeeds unless a pass past it ended
        // the hold first; a moment later it never does.
        if confirm_at > DEADLINE || release_at <= DEADLINE {
            assert_eq!(confirmed.is_ok(), confirm_at <= DEADLINE);
        }
        assert_eq!(state(&backend, "o", release_at), Ok(end));
        assert_counts(&backend, 2, &[end], 0);
        match (confirmed, expired) {
            (Ok(()), 0) => "confirmed",
            (Err(_), 0) => "expired by the confirm",
            (Err(_), 1) => "expired by the release",
            (confirmed, expired) => panic!("{confirmed:?} and a pass that expired {expired}"),
        }
    });
}

#[test]
fn confirm_at_the_deadline_beats_a_release_at_the_deadline() {
    confirm_against_release(DEADLINE, DEADLINE, &["confirmed"]);
}

#[test]
fn confirm_at_the_deadline_against_a_release_just_past_it_ends_the_hold_once() {
    confirm_against_release(DEADLINE, DEADLINE + 1, &["confirmed", "expired by the release"]);
}

#[test]
fn confirm_just_past_the_deadline_is_refused_whoever_ends_the_hold() {
    let outcomes = &["expired by the confirm", "expired by the release"];
    confirm_against_release(DEADLINE + 1, DEADLINE + 1, outcomes);
}

#[test]
fn cancel_against_confirm_has_one_winner() {
    check(&["confirmed", "cancelled"], || {
        let backend = backend(2, &["o"], REMEMBER_ALL);
        let now = DEADLINE - 1;
        let ((confirmed, by_confirm), (cancelled, by_cancel)) = race(
            &backend,
            move |backend| call(|events| backend.confirm("o", now, events)),
            move |backend| call(|events| backend.cancel("o", now, events)),
        );
        let end = ended_once(&by_confirm, &by_cancel);
        let outcome = match (confirmed, cancelled) {
            (Ok(()), Err(Error::AlreadyConfirmed)) => "confirmed",
            (Err(Error::AlreadyCancelled), Ok(())) => "cancelled",
            (confirmed, cancelled) => panic!("confirm: {confirmed:?}, cancel: {cancelled:?}"),
        };
        let expected =
            if outcome == "confirmed" { OrderState::Confirmed } else { OrderState::Cancelled };
        assert_eq!(end, expected);
        assert_eq!(state(&backend, "o", now), Ok(end));
        assert_counts(&backend, 2, &[end], 0);
        outcome
    });
}

/// Blocks one unit for `order`, then reads the product's stock.
fn block_last_unit(backend: &LocalBackend, order: &str) -> Result<()> {
    let held = hold(backend, order, 1);
    let stock = backend.stock(PRODUCT).unwrap();
    assert!(stock.reserved <= stock.on_hand, "{stock:?}");
    held
}

#[test]
fn two_blocks_for_the_last_unit_have_one_winner() {
    // Ids in two shards of the order map, whose blocks can overlap.
    let shard = |id: &str| shard_index(&RandomState::default(), MAX_SHARDS, id);
    assert_ne!(shard("a"), shard("b"), "the two orders share a shard");
    check(&["a holds", "b holds"], || {
        let backend = backend(1, &[], REMEMBER_ALL);
        let (a, b) = race(
            &backend,
            |backend| block_last_unit(backend, "a"),
            |backend| block_last_unit(backend, "b"),
        );
        let refused =
            Err(Error::InsufficientStock { product: PRODUCT.into(), requested: 1, available: 0 });
        let (winner, loser, outcome) = match (a, b) {
            (Ok(()), b) if b == refused => ("a", "b", "a holds"),
            (a, Ok(())) if a == refused => ("b", "a", "b holds"),
            (a, b) => panic!("a: {a:?}, b: {b:?}"),
        };
        assert_eq!(state(&backend, winner, 0), Ok(OrderState::Held));
        assert_eq!(state(&backend, loser, 0), Err(Error::UnknownOrder));
        assert_counts(&backend, 1, &[], 1);
        outcome
    });
}

#[test]
fn release_against_extension_keeps_or_expires_the_hold() {
    const BY: Nanos = 50;
    const LATER: Nanos = DEADLINE + BY;
    const RELEASE_AT: Nanos = DEADLINE + 10;
    check(&["extended", "expired"], || {
        let backend = backend(2, &["o"], REMEMBER_ALL);
        let ((extended, by_extend), (expired, by_release)) = race(
            &backend,
            |backend| call(|events| backend.extend("o", BY, DEADLINE, events)),
            |backend| release(backend, RELEASE_AT),
        );
        let ends: Vec<_> = by_extend.iter().chain(&by_release).collect();
        match (extended, expired) {
            (Ok(later), 0) => {
                assert_eq!((later, ends.len()), (LATER, 0));
                let view = backend.status("o", RELEASE_AT, &mut Events::collecting()).unwrap();
                assert_eq!((view.state, view.deadline), (OrderState::Held, LATER));
                assert_counts(&backend, 2, &[], 1);
                // The new deadline holds: confirmable at it, expired past it.
                assert_eq!(release(&backend, LATER).0, 0);
                assert_eq!(release(&backend, LATER + 1).0, 1);
                assert_counts(&backend, 2, &[OrderState::Expired], 0);
                "extended"
            }
            (Err(Error::Expired), 1) => {
                assert_eq!(ended_once(&by_extend, &by_release), OrderState::Expired);
                assert_eq!(state(&backend, "o", RELEASE_AT), Ok(OrderState::Expired));
                assert_counts(&backend, 2, &[OrderState::Expired], 0);
                "expired"
            }
            (extended, expired) => panic!("extend: {extended:?}, pass expired {expired}"),
        }
    });
}

#[test]
fn ending_two_orders_under_a_memory_bound_of_one_forgets_the_older() {
    check(&["a remembered", "b remembered"], || {
        let backend = backend(2, &["a", "b"], 1);
        let now = DEADLINE - 1;
        let ((confirmed, _), (cancelled, _)) = race(
            &backend,
            move |backend| call(|events| backend.confirm("a", now, events)),
            move |backend| call(|events| backend.cancel("b", now, events)),
        );
        assert_eq!((confirmed, cancelled), (Ok(()), Ok(())));
        let ends = [OrderState::Confirmed, OrderState::Cancelled];
        assert_counts(&backend, 2, &ends, 0);
        let (a, b) = (state(&backend, "a", now), state(&backend, "b", now));
        let (kept, forgotten, outcome) = match (a, b) {
            (Ok(OrderState::Confirmed), Err(Error::UnknownOrder)) => ("a", "b", "a remembered"),
            (Err(Error::UnknownOrder), Ok(OrderState::Cancelled)) => ("b", "a", "b remembered"),
            (a, b) => panic!("a: {a:?}, b: {b:?}"),
        };
        // A forgotten id is free again; a remembered one is not.
        assert_eq!(hold(&backend, kept, 1), Err(Error::DuplicateOrder));
        assert_eq!(hold(&backend, forgotten, 1), Ok(()));
        outcome
    });
}

/// A release pass whose expiry pushes an ended order out of a memory bound
/// of one, racing a block of that order's id. The pass marks the order
/// forgotten at once and takes it out of the order map only once its
/// expiries are done, so the block either comes first and is refused as a
/// duplicate, or comes after the mark and holds, whether the order is still
/// in the map or not; the pass must then leave the new order where it is.
#[test]
fn a_block_races_a_release_pass_forgetting_its_order_id() {
    check(&["refused while remembered", "held once forgotten"], || {
        let backend = backend(3, &["h", "o"], 1);
        call(|events| backend.confirm("o", DEADLINE - 1, events)).0.unwrap();
        let (block, (expired, _)) = race(
            &backend,
            |backend| hold_later(backend, "o"),
            |backend| release(backend, DEADLINE + 1),
        );
        assert_eq!(expired, 1);
        let now = DEADLINE + 1;
        let ends = [OrderState::Confirmed, OrderState::Expired];
        match block {
            Err(Error::DuplicateOrder) => {
                assert_eq!(state(&backend, "o", now), Err(Error::UnknownOrder));
                assert_counts(&backend, 3, &ends, 0);
                "refused while remembered"
            }
            Ok(()) => {
                assert_eq!(state(&backend, "o", now), Ok(OrderState::Held));
                assert_counts(&backend, 3, &ends, 1);
                "held once forgotten"
            }
            other => panic!("block: {other:?}"),
        }
    });
}

/// Two blocks of the id of an order that a release pass has pushed out of a
/// memory bound of one: they run while the pass publishes its events, when
/// the order is marked forgotten but still in the order map. Each block
/// that finds it there removes it and tries again, so exactly one holds,
/// the other is refused as a duplicate, and the pass leaves the one that
/// holds where it is. A block that removed whatever order had the id could
/// remove the other's new order, and both would hold.
#[test]
fn two_blocks_race_for_the_id_of_an_order_a_pass_forgot() {
    check(&["first holds", "second holds"], || {
        let backend = backend(3, &["h", "o"], 1);
        call(|events| backend.confirm("o", DEADLINE - 1, events)).0.unwrap();
        let raced = Mutex::new(Vec::new());
        let publish = |_: Events| {
            let blocks = race(&backend, |b| hold_later(b, "o"), |b| hold_later(b, "o"));
            raced.lock().unwrap().push(blocks);
        };
        assert_eq!(backend.release_due(DEADLINE + 1, &Events::collecting, &publish), 1);
        let raced = raced.into_inner().unwrap();
        let outcome = match raced[..] {
            [(Ok(()), Err(Error::DuplicateOrder))] => "first holds",
            [(Err(Error::DuplicateOrder), Ok(()))] => "second holds",
            ref other => panic!("blocks during the pass: {other:?}"),
        };
        assert_eq!(state(&backend, "o", DEADLINE + 1), Ok(OrderState::Held));
        assert_counts(&backend, 3, &[OrderState::Confirmed, OrderState::Expired], 1);
        outcome
    });
}

/// Under a memory bound of one, with "x" remembered, two confirms race:
/// whichever ends first pushes "x" out. However the two interleave, once a
/// confirm has returned, at most one order is remembered besides its own
/// moment of ending, so "x" must already read as absent to the thread that
/// ran it. An order marked forgotten only after the queue's lock is let go
/// could still be found then, by a thread whose own confirm came second.
#[test]
fn an_order_pushed_out_reads_absent_once_a_later_end_returns() {
    check(&["a pushed x out", "b pushed x out"], || {
        let backend = backend(3, &["x", "a", "b"], 1);
        call(|events| backend.confirm("x", DEADLINE - 1, events)).0.unwrap();
        let now = DEADLINE - 1;
        let confirm_then_look = move |backend: &LocalBackend, order: &str| {
            call(|events| backend.confirm(order, now, events)).0.unwrap();
            state(backend, "x", now)
        };
        let (after_a, after_b) = race(
            &backend,
            move |backend| confirm_then_look(backend, "a"),
            move |backend| confirm_then_look(backend, "b"),
        );
        assert_eq!((after_a, after_b), (Err(Error::UnknownOrder), Err(Error::UnknownOrder)));
        let ends = [OrderState::Confirmed; 3];
        assert_counts(&backend, 3, &ends, 0);
        match (state(&backend, "a", now), state(&backend, "b", now)) {
            (Err(Error::UnknownOrder), Ok(OrderState::Confirmed)) => "a pushed x out",
            (Ok(OrderState::Confirmed), Err(Error::UnknownOrder)) => "b pushed x out",
            other => panic!("a, b: {other:?}"),
        }
    });
}

/// Two blocks of one order id: a block builds its order before it looks for
/// the id, then takes stock only once it holds the id's place in the map,
/// so exactly one holds (its own quantity) and the other is refused as a
/// duplicate, having taken nothing.
#[test]
fn two_blocks_of_one_order_id_have_one_winner() {
    check(&["first holds", "second holds"], || {
        let backend = backend(3, &[], REMEMBER_ALL);
        let (a, b) =
            race(&backend, |backend| hold(backend, "o", 1), |backend| hold(backend, "o", 2));
        let outcome = match (a, b) {
            (Ok(()), Err(Error::DuplicateOrder)) => "first holds",
            (Err(Error::DuplicateOrder), Ok(())) => "second holds",
            (a, b) => panic!("a: {a:?}, b: {b:?}"),
        };
        let reserved = backend.stock(PRODUCT).unwrap().reserved;
        assert_eq!(reserved, if outcome == "first holds" { 1 } else { 2 });
        assert_eq!(backend.stock(PRODUCT).unwrap(), Stock::new(3, reserved));
        let hc = backend.hold_counts();
        assert_eq!((hc.held, hc.held_units), (1, u128::from(reserved)));
        outcome
    });
}

/// A block the stock cannot cover racing a good block of the same id: the
/// refused one leaves nothing behind, so the good one holds whichever went
/// first, and the refused one is told why it lost in that order.
#[test]
fn a_refused_block_races_a_good_block_of_the_same_id() {
    check(&["good holds, big refused for stock", "good holds, big refused as duplicate"], || {
        let backend = backend(1, &[], REMEMBER_ALL);
        let (big, good) = race(
            &backend,
            |backend| {
                let r = hold(backend, "o", 5);
                let s = state(backend, "o", 0);
                (r, s)
            },
            |backend| hold(backend, "o", 1),
        );
        assert_eq!(good, Ok(()));
        assert_eq!(state(&backend, "o", 0), Ok(OrderState::Held));
        assert_counts(&backend, 1, &[], 1);
        match big.0 {
            Err(Error::InsufficientStock { .. }) => "good holds, big refused for stock",
            Err(Error::DuplicateOrder) => "good holds, big refused as duplicate",
            other => panic!("{other:?}"),
        }
    });
}

/// A two-line order expiring while a block wants both of its products: the
/// block either comes first and is refused for the first product (in id
/// order), or comes after and holds both. An expiry that gave the products
/// back one at a time would let the block see the first product free and the
/// second still held, and be refused for the second: the order half ended.
#[test]
fn a_block_never_sees_an_order_half_ended() {
    const OTHER: &str = "q";
    check(&["refused for the first", "held both"], || {
        let backend = backend(1, &[], REMEMBER_ALL);
        backend.add_product(OTHER, "Other", 1).unwrap();
        let both = |quantity| [Line::new(PRODUCT, quantity), Line::new(OTHER, quantity)];
        let mut events = Events::collecting();
        backend.hold("o", &both(1), DEADLINE, true, &mut events).unwrap();
        let (block, (expired, _)) = race(
            &backend,
            move |backend| {
                backend.hold("b", &both(1), DEADLINE + 100, true, &mut Events::collecting())
            },
            |backend| release(backend, DEADLINE + 1),
        );
        assert_eq!(expired, 1);
        match block {
            Ok(()) => "held both",
            Err(Error::InsufficientStock { product, .. }) if product == PRODUCT => {
                "refused for the first"
            }
            other => panic!("the block saw the order half ended: {other:?}"),
        }
    });
}

#[test]
fn a_metrics_snapshot_never_shows_a_moment_that_never_was() {
    // The product has one unit: "n" can be held only once "o" has expired.
    // Under the models' fixed hash seed the two orders are counted in
    // different shards of the schedule, so a snapshot that read the shards
    // one at a time could see "n" held and "o" not yet expired: two live
    // holds on one unit.
    check(&["o live", "o expired", "n held"], || {
        let backend = backend(1, &["o"], REMEMBER_ALL);
        let (_, counts) = race(
            &backend,
            |backend| {
                assert_eq!(release(backend, DEADLINE + 1).0, 1);
                hold(backend, "n", 1).unwrap();
            },
            |backend| backend.hold_counts(),
        );
        let o_live = HoldCounts { held: 1, held_units: 1, ..HoldCounts::default() };
        let o_expired = HoldCounts { expired: 1, held_units: 0, ..o_live };
        match counts {
            counts if counts == o_live => "o live",
            counts if counts == o_expired => "o expired",
            counts if counts == HoldCounts { held: 2, held_units: 1, ..o_expired } => "n held",
            other => panic!("a snapshot of a moment that never was: {other:?}"),
        }
    });
}
