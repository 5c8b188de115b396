//! Closing an engine while other threads are in the middle of calls on it.
//!
//! What a racing caller gets is defined here: a call either runs in full (its
//! ordinary answer, success or a refusal such as insufficient stock) or is
//! refused with `Closed` and changes nothing; once `close` has returned, every
//! call is refused with `Closed`. No call panics, hangs or sees a broken
//! invariant, and the stock a closed engine last showed is conserved.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use stockkeeper::ffi::{
    sk_engine_close, sk_engine_free, sk_engine_new, sk_order_confirm, sk_product_add, SkStatus,
};
use stockkeeper::{ClockKind, Engine, Error, Line, Options};

const PRODUCTS: [&str; 2] = ["hot-a", "hot-b"];
const CALLERS: usize = 4;
const ROUNDS: usize = 50;

/// Calls every kind of operation until the engine refuses with `Closed`;
/// returns how many calls ran in full.
fn hammer(engine: &Engine, caller: usize, closed_seen: &AtomicBool) -> u64 {
    let mut ran = 0;
    for i in 0.. {
        let order = format!("c{caller}-{i}");
        let product = PRODUCTS[i % PRODUCTS.len()];
        let results: [Result<(), Error>; 8] = [
            engine.block(product, 1, &order, None).map(drop),
            engine
                .block_order(
                    &format!("{order}-m"),
                    &[Line::new("hot-a", 1), Line::new("hot-b", 1)],
                    None,
                )
                .map(drop),
            engine.extend(&order, Duration::from_secs(1)).map(drop),
            engine.status(&order).map(drop),
            match i % 3 {
                0 => engine.confirm(&order),
                1 => engine.cancel(&order),
                _ => engine.advance(Duration::from_secs(200)).map(drop),
            },
            engine.stock(product).map(|stock| assert!(stock.reserved <= stock.on_hand)),
            engine.update_inventory(product, 1).map(drop),
            engine.metrics().map(drop),
        ];
        for result in results {
            match result {
                Ok(()) => ran += 1,
                Err(Error::Closed) => {
                    closed_seen.store(true, Ordering::Relaxed);
                    return ran;
                }
                // Ordinary refusals: the stock ran out, the hold ended, ...
                Err(_) => ran += 1,
            }
        }
    }
    unreachable!("the loop ends when the engine is closed")
}

fn close_during_calls(options: Options) {
    for _ in 0..ROUNDS {
        let engine = Arc::new(Engine::new(options.clone()).expect("an engine"));
        for product in PRODUCTS {
            engine.add_product(product, "Hot", 5).expect("a new product");
        }
        let start = Arc::new(Barrier::new(CALLERS + 1));
        let closed_seen = Arc::new(AtomicBool::new(false));
        let callers: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let (engine, start, closed_seen) =
                    (Arc::clone(&engine), Arc::clone(&start), Arc::clone(&closed_seen));
                thread::spawn(move || {
                    start.wait();
                    hammer(&engine, caller, &closed_seen)
                })
            })
            .collect();
        start.wait();
        thread::yield_now();
        engine.close();

        // Closed for good: every call from now on is refused.
        assert_eq!(engine.stock("hot-a"), Err(Error::Closed));
        assert_eq!(engine.block("hot-a", 1, "late", None), Err(Error::Closed));
        assert_eq!(engine.advance(Duration::from_secs(1)), Err(Error::Closed));
        for caller in callers {
            caller.join().expect("no caller panicked");
        }
        assert!(closed_seen.load(Ordering::Relaxed));
        assert!(engine.is_closed());
    }
}

#[test]
fn closing_on_the_manual_clock_while_threads_call_is_safe() {
    close_during_calls(Options::manual());
}

#[test]
fn closing_with_the_background_releaser_running_is_safe() {
    // Short holds keep the releaser busy while the engine closes.
    let options = Options { hold_time: Duration::from_millis(1), ..Options::default() };
    assert_eq!(options.clock, ClockKind::System);
    close_during_calls(options);
}

#[test]
fn closing_through_the_c_abi_while_threads_call_is_safe() {
    for _ in 0..ROUNDS {
        let mut handle = std::ptr::null_mut();
        // SAFETY: NULL options for the defaults and a writable out.
        assert_eq!(unsafe { sk_engine_new(std::ptr::null(), &mut handle) }, SkStatus::Ok);
        // The handle crosses threads as an address, as a C caller's would.
        let address = handle as usize;
        // SAFETY: a live handle and readable id and name.
        let added = unsafe { sk_product_add(handle, b"p".as_ptr(), 1, b"P".as_ptr(), 1, 5) };
        assert_eq!(added, SkStatus::Ok);
        let calls = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let calls = Arc::clone(&calls);
                thread::spawn(move || loop {
                    let handle = address as *mut stockkeeper::ffi::SkEngine;
                    // SAFETY: the handle stays live until every caller joined.
                    let status = unsafe { sk_order_confirm(handle, b"none".as_ptr(), 4) };
                    calls.fetch_add(1, Ordering::Relaxed);
                    match status {
                        SkStatus::UnknownOrder => continue,
                        SkStatus::Closed => return,
                        other => panic!("a racing call got {other:?}"),
                    }
                })
            })
            .collect();
        while calls.load(Ordering::Relaxed) < CALLERS as u64 {
            thread::yield_now();
        }
        // SAFETY: a live handle; closing may race calls, freeing may not.
        assert_eq!(unsafe { sk_engine_close(handle) }, SkStatus::Ok);
        for caller in callers {
            caller.join().expect("no caller panicked");
        }
        // SAFETY: from sk_engine_new, freed once, after every caller joined.
        unsafe { sk_engine_free(handle) };
    }
}

/// After `sk_engine_close` every call returns `SK_STATUS_CLOSED`, even one
/// whose arguments the boundary would refuse on an open engine (a NULL
/// pointer with a length, bytes that are not UTF-8, a negative count), as
/// the Rust API and the shared cases answer.
#[test]
fn a_closed_engine_refuses_bad_input_with_closed_through_the_c_abi() {
    let mut handle = std::ptr::null_mut();
    // SAFETY: NULL options for the defaults and a writable out.
    assert_eq!(unsafe { sk_engine_new(std::ptr::null(), &mut handle) }, SkStatus::Ok);
    // SAFETY: a live handle.
    assert_eq!(unsafe { sk_engine_close(handle) }, SkStatus::Ok);
    let not_utf8 = [0xff_u8, 0xfe];
    // SAFETY: a live (closed) handle; the id is readable for its length.
    let status = unsafe { sk_order_confirm(handle, not_utf8.as_ptr(), not_utf8.len()) };
    // SAFETY: from sk_engine_new, freed once, no other user.
    unsafe { sk_engine_free(handle) };
    assert_eq!(status, SkStatus::Closed);
}
