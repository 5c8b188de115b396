//! A caller who reads two things one after the other, while another thread
//! holds or ends an order, sees the order wholly before or wholly after:
//! never one product given back and another still held, nor a product's
//! stock moved and the metrics' hold counts not yet (or the other way).
//!
//! Each round, one thread makes a change while this one reads until the
//! change shows whole, checking every pair of reads on the way.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use stockkeeper::{Engine, Line, Metrics, Options, Stock};

const ROUNDS: u64 = 5_000;

/// Reads a round may take before its change must have shown whole.
const PATIENCE: u64 = 50_000_000;

/// Runs the rounds: before round `i`, `prepare(engine, i)`; then, while this
/// thread reads, `change(engine, i)` on another. Fails on the first pair of
/// reads that `torn` rejects, and if a round never reads `settled`.
fn check_rounds<R: Debug>(
    engine: Engine,
    prepare: impl Fn(&Engine, u64) + Send + Sync + 'static,
    change: impl Fn(&Engine, u64) + Send + Sync + 'static,
    read: impl Fn(&Engine) -> R,
    torn: impl Fn(&R, u64) -> bool,
    settled: impl Fn(&R, u64) -> bool,
) {
    let engine = Arc::new(engine);
    let barrier = Arc::new(Barrier::new(2));
    let changer = {
        let (engine, barrier) = (Arc::clone(&engine), Arc::clone(&barrier));
        thread::spawn(move || {
            for i in 0..ROUNDS {
                prepare(&engine, i);
                barrier.wait();
                change(&engine, i);
                barrier.wait();
            }
        })
    };
    for i in 0..ROUNDS {
        barrier.wait();
        let whole = (0..PATIENCE).find_map(|_| {
            let seen = read(&engine);
            assert!(!torn(&seen, i), "round {i}: read {seen:?}");
            settled(&seen, i).then_some(())
        });
        assert!(whole.is_some(), "round {i}: the change never showed whole");
        barrier.wait();
    }
    changer.join().unwrap();
}

fn engine_with(products: &[&str], on_hand: u64) -> Engine {
    let engine = Engine::new(Options::manual()).unwrap();
    for product in products {
        engine.add_product(product, "", on_hand).unwrap();
    }
    engine
}

fn order(i: u64) -> String {
    format!("order-{i}")
}

/// Holds one unit each of "a" and "b" for round `i`'s order.
fn hold_both(engine: &Engine, i: u64) {
    engine.block_order(&order(i), &[Line::new("a", 1), Line::new("b", 1)], None).unwrap();
}

fn cancel(engine: &Engine, i: u64) {
    engine.cancel(&order(i)).unwrap();
}

fn stock_and_metrics(engine: &Engine) -> (Stock, Metrics) {
    (engine.stock("a").unwrap(), engine.metrics().unwrap())
}

#[test]
fn two_stock_reads_never_see_an_order_half_ended() {
    check_rounds(
        engine_with(&["a", "b"], 1),
        hold_both,
        cancel,
        |engine| (engine.stock("a").unwrap(), engine.stock("b").unwrap()),
        |(a, b), _| a.reserved == 0 && b.reserved == 1,
        |(a, b), _| a.reserved == 0 && b.reserved == 0,
    );
}

#[test]
fn stock_then_metrics_never_see_an_order_half_ended() {
    check_rounds(
        engine_with(&["a", "b"], 1),
        hold_both,
        cancel,
        stock_and_metrics,
        |(a, m), _| a.reserved == 0 && (m.live_holds != 0 || m.held_units != 0),
        |(a, m), _| a.reserved == 0 && m.live_holds == 0,
    );
}

#[test]
fn stock_then_metrics_never_see_an_order_half_held() {
    check_rounds(
        engine_with(&["a"], 1),
        |engine, i| {
            if i > 0 {
                cancel(engine, i - 1);
            }
        },
        |engine, i| {
            engine.block("a", 1, &order(i), None).unwrap();
        },
        stock_and_metrics,
        |(a, m), i| a.reserved == 1 && m.held <= i,
        |(a, m), i| a.reserved == 1 && m.held == i + 1,
    );
}

#[test]
fn product_outcomes_then_metrics_agree_on_a_confirm() {
    check_rounds(
        engine_with(&["a"], ROUNDS),
        |engine, i| {
            engine.block("a", 1, &order(i), None).unwrap();
        },
        |engine, i| engine.confirm(&order(i)).unwrap(),
        |engine| (engine.product_outcomes("a").unwrap(), engine.metrics().unwrap()),
        |(outcomes, m), _| outcomes.confirmed > m.confirmed,
        |(outcomes, m), _| outcomes.confirmed == m.confirmed && m.live_holds == 0,
    );
}

/// Runs `workers` threads, each holding and cancelling one unit of a
/// product of its own `rounds` times, while `readers` threads read the
/// metrics until the workers are done. No more holds are ever live than
/// there are workers, so no snapshot may count more, wherever in the engine
/// each hold happens to be counted. Returns the engine.
fn metrics_under_churn(workers: u64, readers: usize, rounds: u64) -> Engine {
    let products: Vec<String> = (0..workers).map(|w| format!("p{w}")).collect();
    let names: Vec<&str> = products.iter().map(String::as_str).collect();
    let engine = engine_with(&names, 1);
    let working = AtomicU64::new(workers);
    thread::scope(|scope| {
        for (w, product) in products.iter().enumerate() {
            let (engine, working) = (&engine, &working);
            scope.spawn(move || {
                for i in 0..rounds {
                    let id = format!("w{w}-{i}");
                    engine.block(product, 1, &id, None).unwrap();
                    engine.cancel(&id).unwrap();
                }
                working.fetch_sub(1, Ordering::Release);
            });
        }
        for _ in 0..readers {
            scope.spawn(|| {
                while working.load(Ordering::Acquire) > 0 {
                    let m = engine.metrics().unwrap();
                    assert!(m.live_holds <= workers && m.held_units <= workers, "{m:?}");
                }
            });
        }
    });
    engine
}

/// One unit held and cancelled over and over, the metrics read meanwhile.
#[test]
fn metrics_never_count_more_live_holds_than_there_ever_were() {
    metrics_under_churn(1, 1, ROUNDS * 40);
}

/// Metrics read on several threads at once, each snapshot reading every
/// shard of the schedule while holds start and end on several others: no
/// reader waits for ever on another, and none sees a moment that never was.
#[test]
fn metrics_read_on_several_threads_at_once_stay_whole() {
    const WORKERS: u64 = 4;
    let engine = metrics_under_churn(WORKERS, 3, ROUNDS * 4);
    let m = engine.metrics().unwrap();
    assert_eq!((m.live_holds, m.cancelled), (0, WORKERS * ROUNDS * 4));
}
