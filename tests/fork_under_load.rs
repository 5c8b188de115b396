//! A child forked while the parent's engine is busy can make and use an
//! engine of its own.
//!
//! A fork copies every lock as it stands, held ones included, and only the
//! forking thread. The engine's own locks keep their state in themselves, so
//! a new engine in the child meets none of the parent's (the maps' shard
//! locks excepted, as the README says). With locks that
//! share one table of waiting threads for the whole process, a child forked
//! while a parent thread was waiting or waking on it hung in its new engine,
//! or aborted on the table's broken links: on that code, runs of 3,000
//! rounds of this test had 5, 3, 1, 1 and 0 children fail.
//!
//! Each round forks while two threads of the parent block, confirm, cancel
//! and restock with the background releaser and a subscriber running. The
//! child makes an engine with both, uses it, closes it and exits; one that
//! has not exited after a minute is taken as hung, and the test stops at the
//! first child that fails. `STOCKKEEPER_FORK_ROUNDS` sets the number of
//! rounds: 1,000 by default, a few seconds, which would have caught the
//! fault above about half the time.

#![cfg(unix)]

use std::panic;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use stockkeeper::{Engine, Options};

mod common;

const PRODUCTS: [&str; 4] = ["p0", "p1", "p2", "p3"];

/// What [`wait_for`] reports for a child that never exited.
const HUNG: i32 = -1;

/// A child's exit status when its work panicked.
const PANICKED: i32 = 8;

/// Blocks, ends and restocks on the parent's engine until `stop` is set.
fn keep_busy(engine: &Engine, worker: usize, stop: &AtomicBool) {
    let hold = Some(Duration::from_millis(1));
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let order = format!("w{worker}-{n}");
        let product = PRODUCTS[(n % 4) as usize];
        if engine.block(product, 1, &order, hold).is_ok() {
            let _ = if n % 2 == 0 { engine.confirm(&order) } else { engine.cancel(&order) };
        }
        if n % 100 == 0 {
            engine.update_inventory(product, 100).unwrap();
        }
    }
}

/// What the child does: 0 when every step went as it should.
fn child_work() -> i32 {
    let Ok(engine) = Engine::new(Options::default()) else {
        return 1;
    };
    let heard = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&heard);
    let subscribed = engine.on_event(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let used = subscribed.is_ok()
        && engine.add_product("x", "X", 5).is_ok()
        && engine.block("x", 2, "o1", Some(Duration::from_millis(1))).is_ok()
        && engine.block("x", 1, "o2", None).is_ok()
        && engine.confirm("o2").is_ok()
        && engine.flush_events().is_ok();
    // The confirm, and perhaps the first hold's expiry.
    let announced = heard.load(Ordering::SeqCst) >= 1;
    engine.close();
    i32::from(!used) * 2 + i32::from(!announced) * 4
}

/// Waits for the child; HUNG (after killing it) if it has not exited
/// within a minute, else its exit status, or 100 plus the signal that ended
/// it.
fn wait_for(child: libc::pid_t) -> i32 {
    match common::wait_for_child(child, Duration::from_secs(60)) {
        None => HUNG,
        Some(status) if libc::WIFEXITED(status) => libc::WEXITSTATUS(status),
        Some(status) => 100 + libc::WTERMSIG(status),
    }
}

/// Tells the parent's threads to stop when dropped, so that a panic in the
/// forking loop does not leave the scope waiting for them for ever.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_child_forked_from_a_busy_engine_makes_and_uses_its_own() {
    let rounds: usize = std::env::var("STOCKKEEPER_FORK_ROUNDS")
        .map_or(1_000, |rounds| rounds.parse().expect("a number of rounds"));
    let engine = Engine::new(Options::default()).unwrap();
    for product in PRODUCTS {
        engine.add_product(product, "Busy", 1_000_000_000).unwrap();
    }
    engine.on_event(|_| {}).unwrap();
    let stop = AtomicBool::new(false);
    let failure: Option<(usize, i32)> = thread::scope(|scope| {
        let _stop = StopOnDrop(&stop);
        for worker in 0..2 {
            let (engine, stop) = (&engine, &stop);
            scope.spawn(move || keep_busy(engine, worker, stop));
        }
        for round in 0..rounds {
            // SAFETY: the child runs only `child_work` and _exit; it never
            // returns into the test harness, not even by a panic.
            let child = unsafe { libc::fork() };
            assert!(child >= 0, "fork failed");
            if child == 0 {
                let status = panic::catch_unwind(child_work).unwrap_or(PANICKED);
                // SAFETY: ends the child at once, running nothing of the
                // parent's.
                unsafe { libc::_exit(status) };
            }
            let status = wait_for(child);
            if status != 0 {
                return Some((round, status));
            }
        }
        None
    });
    let statuses = "-1 hung, 8 panicked, 100 + n killed by signal n, else child_work's";
    assert_eq!(failure, None, "a child failed (round, status; {statuses})");
    assert!(engine.metrics().unwrap().confirmed > 0, "the parent's engine was not busy");
}
