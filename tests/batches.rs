//! Batches read ahead (`Engine::read_ahead`) from many threads at once, on
//! the same few products, while other threads grow the maps the batches
//! read ahead in and read the stock: what the batches report must add up
//! to the stock, and no unit may be held twice.
//!
//! Nothing here asserts how long anything took.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;

use stockkeeper::{Engine, Error, Lookup, Options};

const PRODUCTS: [&str; 4] = ["hot-a", "hot-b", "hot-c", "hot-d"];
const STOCK: u64 = 150;
const WORKERS: usize = 6;
const BATCHES: usize = 40;
const BATCH: usize = 48;

fn block_lookup<'a>(&(product, _, ref order): &'a (&'static str, u64, String)) -> Lookup<'a> {
    Lookup::Block { product, order }
}

fn order_lookup<'a>(&order: &&'a str) -> Lookup<'a> {
    Lookup::Order(order)
}

/// What one worker's batches did to each product: units confirmed, and
/// units held and not yet ended.
#[derive(Default)]
struct Tally {
    confirmed: [u64; PRODUCTS.len()],
    live: [u64; PRODUCTS.len()],
}

#[test]
fn batches_from_many_threads_add_up_to_the_stock() {
    let engine = Engine::new(Options::manual()).unwrap();
    for product in PRODUCTS {
        engine.add_product(product, "Hot", STOCK).unwrap();
    }
    let start = Barrier::new(WORKERS + 2);
    let done = AtomicBool::new(false);
    let tallies: Vec<Tally> = thread::scope(|scope| {
        // Grows the product map (and so its tables) while batches read its
        // places ahead; and reads stock, which must never show a unit twice.
        scope.spawn(|| {
            start.wait();
            let mut added = 0;
            while !done.load(Ordering::Relaxed) {
                engine.add_product(&format!("filler-{added}"), "Filler", 1).unwrap();
                added += 1;
                for product in PRODUCTS {
                    let stock = engine.stock(product).unwrap();
                    assert!(stock.reserved <= stock.on_hand, "{product}: {stock:?}");
                }
            }
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let (engine, start) = (&engine, &start);
                scope.spawn(move || {
                    start.wait();
                    run_worker(engine, worker)
                })
            })
            .collect();
        start.wait();
        let tallies = workers.into_iter().map(|worker| worker.join().unwrap()).collect();
        done.store(true, Ordering::Relaxed);
        tallies
    });
    for (index, product) in PRODUCTS.iter().enumerate() {
        let confirmed: u64 = tallies.iter().map(|tally| tally.confirmed[index]).sum();
        let live: u64 = tallies.iter().map(|tally| tally.live[index]).sum();
        let stock = engine.stock(product).unwrap();
        assert_eq!((stock.on_hand, stock.reserved), (STOCK - confirmed, live), "{product}");
    }
    let metrics = engine.metrics().unwrap();
    assert_eq!(metrics.live_holds, metrics.held - metrics.confirmed - metrics.cancelled);
    assert!(metrics.refused_stock > 0, "the batches ran short of stock: {metrics:?}");
}

/// Blocks a batch, then confirms a third of what it held and cancels a
/// third, both in batches read ahead; tallies what each batch answered.
fn run_worker(engine: &Engine, worker: usize) -> Tally {
    let mut tally = Tally::default();
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ worker as u64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    for batch in 0..BATCHES {
        let requests: Vec<(&str, u64, String)> = (0..BATCH)
            .map(|i| {
                let product = PRODUCTS[next(PRODUCTS.len() as u64) as usize];
                (product, 1 + next(3), format!("w{worker}-b{batch}-{i}"))
            })
            .collect();
        let mut held = Vec::new();
        for request in engine.read_ahead(&requests, block_lookup) {
            let (product, quantity, order) = request;
            match engine.block(product, *quantity, order, None) {
                Ok(_) => held.push(request),
                Err(Error::InsufficientStock { .. }) => {}
                Err(other) => panic!("{order}: {other}"),
            }
        }
        let index = |product: &str| PRODUCTS.iter().position(|p| *p == product).unwrap();
        let (confirm, rest) = held.split_at(held.len() / 3);
        let (cancel, keep) = rest.split_at(rest.len() / 2);
        let confirm: Vec<&str> = confirm.iter().map(|(_, _, order)| order.as_str()).collect();
        for order in engine.read_ahead(&confirm, order_lookup) {
            engine.confirm(order).unwrap();
        }
        let cancel_ids: Vec<&str> = cancel.iter().map(|(_, _, order)| order.as_str()).collect();
        for order in engine.read_ahead(&cancel_ids, order_lookup) {
            engine.cancel(order).unwrap();
        }
        for (product, quantity, _) in &held[..confirm.len()] {
            tally.confirmed[index(product)] += quantity;
        }
        for (product, quantity, _) in keep {
            tally.live[index(product)] += quantity;
        }
    }
    tally
}

#[test]
fn a_batch_closed_from_another_thread_answers_closed_from_then_on() {
    const CLOSE_AT: usize = 1_000;
    let engine = Engine::new(Options::manual()).unwrap();
    engine.add_product("kettle", "Kettle", 1_000_000).unwrap();
    let requests: Vec<(&str, u64, String)> =
        (0..5_000).map(|i| ("kettle", 1, format!("o{i}"))).collect();
    // The batch stops at CLOSE_AT, with steps of reading ahead taken for the
    // requests after it, until another thread has closed the engine.
    let (reached, closed) = (Barrier::new(2), Barrier::new(2));
    let answers: Vec<Result<(), Error>> = thread::scope(|scope| {
        let batch = scope.spawn(|| {
            let block = |(at, (product, quantity, order)): (usize, &(&str, u64, String))| {
                if at == CLOSE_AT {
                    reached.wait();
                    closed.wait();
                }
                engine.block(product, *quantity, order, None).map(|_| ())
            };
            engine.read_ahead(&requests, block_lookup).enumerate().map(block).collect()
        });
        reached.wait();
        engine.close();
        closed.wait();
        batch.join().unwrap()
    });
    assert!(answers[..CLOSE_AT].iter().all(Result::is_ok));
    assert!(answers[CLOSE_AT..].iter().all(|answer| answer == &Err(Error::Closed)));
}
