//! Closing an engine while other threads call it: every call either fails
//! as closed or is waited for, and the events of those that succeeded reach
//! the subscribers; a subscription starting the notifier thread as the close
//! runs never leaves that thread behind. Its own test binary, so that its
//! busy threads do not slow the timing-sensitive tests of other files
//! running beside it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use stockkeeper::{Engine, Error, Event, Options, OrderState, MAX_COUNT};

/// Every hold that a call ended before the close (the call answered Ok) is
/// announced, however the close falls among the calls: the close waits for
/// calls already past its check to publish what they caused. Many short
/// rounds, each closing once a few orders have ended, so that the close
/// lands inside calls at many points.
#[test]
fn a_close_racing_calls_loses_none_of_their_events() {
    const ROUNDS: usize = 300;
    const THREADS: usize = 3;
    for round in 0..ROUNDS {
        let engine = Arc::new(Engine::new(Options::manual()).unwrap());
        engine.add_product("kettle", "Kettle", MAX_COUNT).unwrap();
        let feed = engine.subscribe().unwrap();
        let ended = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..THREADS)
            .map(|caller| {
                let (engine, ended) = (Arc::clone(&engine), Arc::clone(&ended));
                thread::spawn(move || {
                    for n in 0.. {
                        let order = format!("{caller}-{n}");
                        let outcome = engine.block("kettle", 1, &order, None).and_then(|_| {
                            if n % 2 == 0 {
                                engine.confirm(&order)
                            } else {
                                engine.cancel(&order)
                            }
                        });
                        match outcome {
                            Ok(()) => ended.fetch_add(1, Ordering::SeqCst),
                            Err(Error::Closed) => return,
                            Err(other) => panic!("{order}: {other}"),
                        };
                    }
                })
            })
            .collect();
        while ended.load(Ordering::SeqCst) < 2 + (round % 40) as u64 {
            std::hint::spin_loop();
        }
        engine.close();
        for caller in callers {
            caller.join().unwrap();
        }
        let announced = feed
            .try_iter()
            .filter(|event| {
                matches!(event, Event::HoldEnded { state, .. }
                    if matches!(state, OrderState::Confirmed | OrderState::Cancelled))
            })
            .count() as u64;
        assert_eq!(
            announced,
            ended.load(Ordering::SeqCst),
            "round {round}: holds ended before the close but never announced"
        );
    }
}

/// The first subscription, which starts the notifier thread, racing a
/// close: either the subscription is refused as closed, or the close stops
/// the thread it started. A close that missed the new thread would wait for
/// it for ever; each round runs on a thread of its own so that such a
/// round fails the test instead of hanging it.
#[test]
fn a_close_racing_the_first_subscription_stops_the_notifier_it_started() {
    for round in 0..2000 {
        let (done, finished) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let engine = Arc::new(Engine::new(Options::manual()).unwrap());
            let start = Arc::new(Barrier::new(2));
            let subscriber = {
                let (engine, start) = (Arc::clone(&engine), Arc::clone(&start));
                thread::spawn(move || {
                    start.wait();
                    engine.subscribe().map(|_| ())
                })
            };
            // The close lands a little later each round (a busy wait of
            // up to 100 µs), so that over the rounds it meets the
            // subscription at every stage of starting the thread.
            start.wait();
            let lag = Instant::now();
            while lag.elapsed() < Duration::from_micros(round % 100) {
                std::hint::spin_loop();
            }
            engine.close();
            let subscribed = subscriber.join().unwrap();
            let _ = done.send(subscribed);
        });
        match finished.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) | Ok(Err(Error::Closed)) => {}
            Ok(Err(other)) => panic!("round {round}: subscribe failed with {other}"),
            Err(_) => panic!("round {round}: close and the first subscribe deadlocked"),
        }
    }
}

/// A close returns while other threads go on calling the engine: calls it
/// refuses as closed never hold it up, only those that began before it.
/// The callers stop only once the close has returned (or the bound of 10 s
/// passed), and outnumber the cores many times, so that one of them is
/// nearly always inside its call: a close that waited for every call to be
/// out would wait as long as they go on.
#[test]
fn a_close_returns_while_other_threads_go_on_calling() {
    const CALLERS: usize = 32;
    let engine = Arc::new(Engine::new(Options::manual()).unwrap());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let _feed = engine.subscribe().unwrap();
    let closed = Arc::new(AtomicBool::new(false));
    let calling = Arc::new(Barrier::new(CALLERS + 1));
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (engine, closed, calling) =
                (Arc::clone(&engine), Arc::clone(&closed), Arc::clone(&calling));
            thread::spawn(move || {
                calling.wait();
                while !closed.load(Ordering::SeqCst) {
                    let _ = engine.stock("kettle");
                }
            })
        })
        .collect();
    calling.wait();
    let (done, returned) = std::sync::mpsc::channel();
    let closer = {
        let engine = Arc::clone(&engine);
        thread::spawn(move || {
            engine.close();
            let _ = done.send(());
        })
    };
    let in_time = returned.recv_timeout(Duration::from_secs(10)).is_ok();
    closed.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.join().unwrap();
    }
    closer.join().unwrap();
    assert!(in_time, "close waited for calls it refused");
    assert_eq!(engine.stock("kettle"), Err(Error::Closed));
}
