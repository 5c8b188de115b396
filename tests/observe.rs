//! Notifications and metrics: what subscribers receive, that they cannot
//! stall or crash the engine, and that snapshots add up under concurrency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, Weak};
use std::thread;
use std::time::Duration;

use stockkeeper::{Engine, Event, Line, Metrics, Options, OrderState, SubscriptionId};

fn engine() -> Engine {
    Engine::new(Options::manual()).unwrap()
}

fn ended(order: &str, state: OrderState, lines: &[(&str, u64)]) -> Event {
    Event::HoldEnded {
        order: order.into(),
        state,
        lines: lines.iter().map(|&(p, q)| (Arc::from(p), q)).collect(),
    }
}

#[test]
fn a_feed_sees_every_ending_and_every_sell_out() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 3).unwrap();
    engine.add_product("mug", "Mug", 10).unwrap();
    let feed = engine.subscribe().unwrap();

    engine.block_order("o1", &[Line::new("kettle", 2), Line::new("mug", 1)], None).unwrap();
    engine.block("kettle", 1, "o2", None).unwrap();
    engine.block("mug", 1, "o3", None).unwrap();
    engine.confirm("o1").unwrap();
    engine.cancel("o3").unwrap();
    engine.advance(Duration::from_secs(301)).unwrap();
    engine.flush_events().unwrap();

    let events: Vec<Event> = feed.try_iter().collect();
    assert_eq!(
        events,
        vec![
            Event::SoldOut { product: "kettle".into() },
            ended("o1", OrderState::Confirmed, &[("kettle", 2), ("mug", 1)]),
            ended("o3", OrderState::Cancelled, &[("mug", 1)]),
            ended("o2", OrderState::Expired, &[("kettle", 1)]),
        ]
    );
}

/// Thousands of holds of a hold time of their own expire in one pass, which
/// takes them all at once and announces them a few hundred at a time: each
/// is announced once, and its stock is back.
#[test]
fn a_mass_expiry_announces_every_hold_once() {
    const HOLDS: usize = 3_000;
    let engine = engine();
    engine.add_product("bulk", "Bulk", HOLDS as u64).unwrap();
    let feed = engine.subscribe().unwrap();
    let orders: Vec<String> = (0..HOLDS).map(|i| format!("o{i}")).collect();
    for order in &orders {
        engine.block("bulk", 1, order, Some(Duration::from_secs(60))).unwrap();
    }
    assert_eq!(engine.advance(Duration::from_secs(61)).unwrap(), HOLDS);
    engine.flush_events().unwrap();

    let mut heard: Vec<String> = feed
        .try_iter()
        .filter_map(|event| match event {
            Event::HoldEnded { order, state: OrderState::Expired, lines } => {
                assert_eq!(lines.as_ref(), [(Arc::from("bulk"), 1)]);
                Some(order.to_string())
            }
            _ => None,
        })
        .collect();
    heard.sort_unstable();
    let mut expected = orders;
    expected.sort_unstable();
    assert_eq!(heard, expected);
    assert_eq!(engine.available("bulk").unwrap(), HOLDS as u64);
}

/// A mass expiry under way when the engine's first subscription comes
/// announces every hold it ends once that subscription has returned: those
/// still held when the subscriber looks, and perhaps a few more.
#[test]
fn a_pass_under_way_at_the_first_subscription_announces_what_it_ends_after() {
    const HOLDS: u64 = 100_000;
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let engine = Arc::new(engine());
        engine.add_product("bulk", "Bulk", HOLDS).unwrap();
        for i in 0..HOLDS {
            engine.block("bulk", 1, &format!("o{i}"), None).unwrap();
        }
        let pass = {
            let engine = Arc::clone(&engine);
            thread::spawn(move || engine.advance(Duration::from_secs(301)).unwrap())
        };
        while engine.stock("bulk").unwrap().reserved == HOLDS && !pass.is_finished() {
            thread::yield_now();
        }
        let feed = engine.subscribe().unwrap();
        let still_held = engine.stock("bulk").unwrap().reserved;
        assert_eq!(pass.join().unwrap(), HOLDS as usize);
        engine.flush_events().unwrap();
        let announced = feed.try_iter().filter(|event| matches!(event, Event::HoldEnded { .. }));
        let announced = announced.count() as u64;
        assert!(
            (still_held..=HOLDS).contains(&announced),
            "{still_held} holds were still held after the subscription, {announced} announced"
        );
        if still_held > 0 {
            return;
        }
    }
    panic!("in {ATTEMPTS} attempts the pass ended before the subscription returned");
}

#[test]
fn confirm_at_the_deadline_wins_and_expiry_one_nanosecond_later_is_announced() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 3).unwrap();
    let feed = engine.subscribe().unwrap();
    engine.block("kettle", 1, "o1", Some(Duration::from_secs(1))).unwrap();
    engine.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(engine.confirm("o1"), Ok(()));
    engine.block("kettle", 1, "o2", Some(Duration::from_secs(1))).unwrap();
    let engine_time = engine.now();
    assert_eq!(engine_time, Duration::from_secs(1));
    engine.flush_events().unwrap();
    let _ = feed.try_iter().count();
    // One nanosecond past o2's deadline: the advance releases it.
    engine.advance(Duration::from_secs(1) + Duration::from_nanos(1)).unwrap();
    engine.flush_events().unwrap();
    let events: Vec<Event> = feed.try_iter().collect();
    assert_eq!(events, vec![ended("o2", OrderState::Expired, &[("kettle", 1)])]);
}

#[test]
fn a_panicking_callback_neither_crashes_the_engine_nor_starves_others() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 5).unwrap();
    engine.on_event(|_| panic!("subscriber bug")).unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    engine
        .on_event(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();

    for order in ["a", "b", "c"] {
        engine.block("kettle", 1, order, None).unwrap();
        engine.confirm(order).unwrap();
    }
    engine.flush_events().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert_eq!(engine.stock("kettle").unwrap().on_hand, 2);
}

#[test]
fn a_stuck_subscriber_does_not_stall_blocks_or_confirms() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 1_000).unwrap();
    let gate = Arc::new(Barrier::new(2));
    let held_gate = Arc::clone(&gate);
    let (first, first_seen) = mpsc::channel();
    let mut waited = false;
    engine
        .on_event(move |_| {
            if !std::mem::replace(&mut waited, true) {
                first.send(()).unwrap();
                held_gate.wait();
            }
        })
        .unwrap();

    engine.block("kettle", 1, "first", None).unwrap();
    engine.confirm("first").unwrap();
    first_seen.recv().unwrap();
    // The subscriber now waits on the gate; the engine must keep going.
    for i in 0..500 {
        let order = format!("o{i}");
        engine.block("kettle", 1, &order, None).unwrap();
        engine.confirm(&order).unwrap();
    }
    assert_eq!(engine.stock("kettle").unwrap().on_hand, 499);
    gate.wait();
}

#[test]
fn callbacks_may_call_back_into_the_engine() {
    let engine = Arc::new(engine());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let inner = Arc::downgrade(&engine);
    let (sender, receiver) = mpsc::channel();
    engine
        .on_event(move |event| {
            if let (Event::HoldEnded { .. }, Some(engine)) = (event, inner.upgrade()) {
                engine.flush_events().unwrap();
                sender.send(engine.available("kettle").unwrap()).unwrap();
            }
        })
        .unwrap();
    engine.block("kettle", 2, "o1", None).unwrap();
    engine.cancel("o1").unwrap();
    assert_eq!(receiver.recv().unwrap(), 5);
}

#[test]
fn unsubscribed_callbacks_hear_nothing_more() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let (id, seen) = counting_subscriber(&engine);
    engine.block("kettle", 1, "a", None).unwrap();
    engine.confirm("a").unwrap();
    engine.flush_events().unwrap();
    engine.unsubscribe(id).unwrap();
    engine.block("kettle", 1, "b", None).unwrap();
    engine.confirm("b").unwrap();
    engine.flush_events().unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

/// A subscription whose callback counts the events it hears.
fn counting_subscriber(engine: &Engine) -> (SubscriptionId, Arc<AtomicU64>) {
    let heard = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&heard);
    let id = engine
        .on_event(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    (id, heard)
}

/// Holds one kettle for each order, then lets them all expire in one pass,
/// whose events are published as one batch.
fn expire_together(engine: &Engine, orders: &[&str]) {
    for order in orders {
        engine.block("kettle", 1, order, None).unwrap();
    }
    assert_eq!(engine.advance(Duration::from_secs(301)).unwrap(), orders.len());
}

/// An unsubscription takes effect when it returns, not once the notifier
/// reaches it: events queued before it, even those of the batch being
/// delivered, no longer reach the subscription. Here a callback ends a
/// second subscription at the first of five expiries that come in one batch.
#[test]
fn an_unsubscription_stops_events_already_queued() {
    let engine = Arc::new(engine());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let other = Arc::new(std::sync::OnceLock::new());
    let (ender, ended) = (Arc::clone(&engine), Arc::clone(&other));
    engine
        .on_event(move |_| {
            if let Some(&id) = ended.get() {
                ender.unsubscribe(id).unwrap();
            }
        })
        .unwrap();
    let (id, heard) = counting_subscriber(&engine);
    other.set(id).unwrap();
    expire_together(&engine, &["o1", "o2", "o3", "o4", "o5"]);
    engine.flush_events().unwrap();
    assert_eq!(heard.load(Ordering::SeqCst), 0);
    engine.close();
}

/// A subscription whose callback, at its first event, says so and waits to
/// be let go; it counts its calls, and the calls that returned.
struct HeldCallback {
    id: SubscriptionId,
    inside: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
    calls: Arc<AtomicU64>,
    finished: Arc<AtomicU64>,
}

fn held_callback(engine: &Engine) -> HeldCallback {
    let (entered, inside) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let calls = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicU64::new(0));
    let (counted, done) = (Arc::clone(&calls), Arc::clone(&finished));
    let id = engine
        .on_event(move |_| {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                entered.send(()).unwrap();
                released.lock().unwrap().recv().unwrap();
            }
            done.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    HeldCallback { id, inside, release, calls, finished }
}

/// An unsubscription from another thread never waits, even for a call of
/// the callback in progress; a flush after it does, and once the flush
/// returns the callback is not running and is never called again.
#[test]
fn an_unsubscription_then_a_flush_waits_for_the_callback_in_progress() {
    let engine = Arc::new(engine());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let held = held_callback(&engine);
    for order in ["o1", "o2"] {
        engine.block("kettle", 1, order, None).unwrap();
        engine.cancel(order).unwrap();
    }
    held.inside.recv().unwrap();
    let (unsubscribed, returned) = mpsc::channel();
    let unsubscriber = {
        let (engine, finished, id) = (Arc::clone(&engine), Arc::clone(&held.finished), held.id);
        thread::spawn(move || {
            engine.unsubscribe(id).unwrap();
            unsubscribed.send(()).unwrap();
            engine.flush_events().unwrap();
            finished.load(Ordering::SeqCst)
        })
    };
    // The callback is still held inside: the unsubscription must not wait
    // for it. The bound only keeps a wrong build from hanging the suite.
    let waited = returned.recv_timeout(Duration::from_secs(30));
    held.release.send(()).unwrap();
    assert_eq!(waited, Ok(()), "the unsubscription waited for the callback");
    assert_eq!(unsubscriber.join().unwrap(), 1, "the flush returned before the callback did");
    assert_eq!(held.calls.load(Ordering::SeqCst), 1, "called again after the unsubscription");
    engine.close();
}

/// On an engine whose close is still delivering (here held up by a
/// callback), unsubscribe then flush still make a callback's data safe to
/// drop: both report the engine closed, and the flush returns only once the
/// callback has.
#[test]
fn a_flush_on_a_closing_engine_waits_for_the_callback_in_progress() {
    let engine = Arc::new(engine());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let held = held_callback(&engine);
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.cancel("o1").unwrap();
    held.inside.recv().unwrap();
    let closer = {
        let engine = Arc::clone(&engine);
        thread::spawn(move || engine.close())
    };
    while !engine.is_closed() {
        thread::yield_now();
    }
    assert_eq!(engine.unsubscribe(held.id), Err(stockkeeper::Error::Closed));
    let (flushed, returned) = mpsc::channel();
    let flusher = {
        let (engine, finished) = (Arc::clone(&engine), Arc::clone(&held.finished));
        thread::spawn(move || {
            let answer = engine.flush_events();
            flushed.send(()).unwrap();
            (answer, finished.load(Ordering::SeqCst))
        })
    };
    // While the callback is held, the flush must not return; a wrong build
    // returns at once, well within the bound.
    let early = returned.recv_timeout(Duration::from_millis(200));
    held.release.send(()).unwrap();
    assert!(early.is_err(), "the flush returned while the callback ran");
    assert_eq!(flusher.join().unwrap(), (Err(stockkeeper::Error::Closed), 1));
    closer.join().unwrap();
}

/// A callback may end another subscription while a close on another thread
/// delivers what was queued: the unsubscription reports the engine closed,
/// and still ends the subscription at once.
#[test]
fn an_unsubscription_during_a_close_still_ends_the_subscription() {
    let engine = Arc::new(engine());
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let other = Arc::new(std::sync::OnceLock::new());
    let (started, starting) = mpsc::channel();
    let (ender, ended) = (Arc::clone(&engine), Arc::clone(&other));
    let answer = Arc::new(std::sync::Mutex::new(None));
    let answered = Arc::clone(&answer);
    engine
        .on_event(move |_| {
            if let Some(&id) = ended.get() {
                started.send(()).unwrap();
                while !ender.is_closed() {
                    thread::yield_now();
                }
                answered.lock().unwrap().get_or_insert(ender.unsubscribe(id));
            }
        })
        .unwrap();
    let (id, heard) = counting_subscriber(&engine);
    other.set(id).unwrap();
    expire_together(&engine, &["o1", "o2", "o3"]);
    starting.recv().unwrap();
    engine.close();
    assert_eq!(*answer.lock().unwrap(), Some(Err(stockkeeper::Error::Closed)));
    assert_eq!(heard.load(Ordering::SeqCst), 0);
}

#[test]
fn close_delivers_what_was_queued_then_refuses_subscribers() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let feed = engine.subscribe().unwrap();
    engine.block("kettle", 1, "a", None).unwrap();
    engine.confirm("a").unwrap();
    engine.close();
    assert_eq!(feed.try_iter().count(), 1);
    assert_eq!(engine.subscribe().err(), Some(stockkeeper::Error::Closed));
}

#[test]
fn metrics_count_every_outcome_and_refusal() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 10).unwrap();
    engine.block("kettle", 2, "a", None).unwrap();
    engine.block("kettle", 3, "b", None).unwrap();
    engine.block("kettle", 1, "c", None).unwrap();
    engine.block("kettle", 1, "d", None).unwrap();
    engine.confirm("a").unwrap();
    engine.cancel("b").unwrap();
    engine.advance(Duration::from_secs(301)).unwrap();
    engine.block("kettle", 1, "e", None).unwrap();
    assert!(engine.block("kettle", 100, "f", None).is_err());
    assert!(engine.block("kettle", 1, "e", None).is_err());
    assert!(engine.confirm("nobody").is_err());
    assert!(engine.confirm("a").is_err());
    assert!(engine.block("kettle", 0, "g", None).is_err());

    let metrics = engine.metrics().unwrap();
    assert_eq!(
        metrics,
        Metrics {
            held: 5,
            confirmed: 1,
            cancelled: 1,
            expired: 2,
            refused_stock: 1,
            refused_duplicate: 1,
            refused_unknown: 1,
            refused_ended: 1,
            refused_invalid: 1,
            live_holds: 1,
            held_units: 1,
        }
    );
    let outcomes = engine.product_outcomes("kettle").unwrap();
    assert_eq!((outcomes.confirmed, outcomes.cancelled, outcomes.expired), (1, 1, 2));
    assert_eq!(outcomes.confirmed_share(), Some(0.25));
    assert_eq!(outcomes.expired_share(), Some(0.5));

    let text = engine.metrics_text(&["kettle"]).unwrap();
    assert!(text.contains("stockkeeper_holds_total{outcome=\"expired\"} 2\n"), "{text}");
    assert!(text.contains("stockkeeper_refusals_total{reason=\"stock\"} 1\n"), "{text}");
    assert!(text.contains("stockkeeper_held_units 1\n"), "{text}");
    assert!(text.contains(
        "stockkeeper_product_holds_ended_total{product=\"kettle\",outcome=\"confirmed\"} 1\n"
    ));
    assert!(engine.metrics_text(&["nothing"]).is_err());

    // A product named twice is listed once: a repeated series fails a scrape.
    let once = engine.metrics_text(&["kettle"]).unwrap();
    assert_eq!(engine.metrics_text(&["kettle", "kettle"]).unwrap(), once);
}

#[test]
fn snapshots_add_up_while_many_threads_hold_and_end() {
    let engine = Arc::new(engine());
    for p in 0..4 {
        engine.add_product(&format!("p{p}"), "Hot", 20).unwrap();
    }
    let workers: Vec<_> = (0..6)
        .map(|t| {
            let engine = Arc::clone(&engine);
            thread::spawn(move || {
                for i in 0..2_000 {
                    let order = format!("t{t}-{i}");
                    let product = format!("p{}", i % 4);
                    if engine.block(&product, 1 + i % 3, &order, None).is_ok() {
                        let _ = match i % 3 {
                            0 => engine.confirm(&order),
                            1 => engine.cancel(&order),
                            _ => Ok(()),
                        };
                    }
                    if i % 97 == 0 {
                        let _ = engine.advance(Duration::from_secs(400));
                    }
                }
            })
        })
        .collect();
    let reader = {
        let engine = Arc::clone(&engine);
        thread::spawn(move || {
            for _ in 0..2_000 {
                let m = engine.metrics().unwrap();
                let ended = m.confirmed + m.cancelled + m.expired;
                assert!(ended <= m.held, "{m:?}");
                assert_eq!(m.live_holds, m.held - ended);
                // Four products of 20 units each can hold no more than 80.
                assert!(m.held_units <= 80, "{m:?}");
                assert_eq!(m.live_holds == 0, m.held_units == 0, "{m:?}");
            }
        })
    };
    for worker in workers {
        worker.join().unwrap();
    }
    reader.join().unwrap();
    engine.advance(Duration::from_secs(400)).unwrap();
    let m = engine.metrics().unwrap();
    assert_eq!((m.live_holds, m.held_units), (0, 0));
    assert_eq!(m.held, m.confirmed + m.cancelled + m.expired);
}

/// What a wrapper saw: each run as the events delivered inside it, in
/// order, by the two subscribers ("a" and "b") taking turns.
type Runs = Arc<std::sync::Mutex<Vec<Vec<String>>>>;

/// An engine whose notifier delivers inside a wrapper that records each
/// run, to two subscribers; the first event is held until `gate` opens.
fn wrapped_engine(gate: &Arc<Barrier>) -> (Engine, Runs) {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 10_000).unwrap();
    let runs: Runs = Arc::default();
    let wrapper_runs = Arc::clone(&runs);
    engine
        .wrap_deliveries(move |deliver| {
            wrapper_runs.lock().unwrap().push(Vec::new());
            deliver();
        })
        .unwrap();
    for name in ["a", "b"] {
        let (runs, gate) = (Arc::clone(&runs), Arc::clone(gate));
        let mut first = name == "a";
        engine
            .on_event(move |event| {
                if std::mem::take(&mut first) {
                    gate.wait();
                    gate.wait();
                }
                if let Event::HoldEnded { order, .. } = event {
                    let mut runs = runs.lock().unwrap();
                    runs.last_mut().unwrap().push(format!("{name}:{order}"));
                }
            })
            .unwrap();
    }
    (engine, runs)
}

/// A [`wrapped_engine`] whose notifier holds the event of an order "first"
/// while `queue` runs, so that what it publishes queues behind; returned
/// once every event was delivered.
fn queued_behind_the_first(queue: impl FnOnce(&Engine)) -> (Engine, Runs) {
    let gate = Arc::new(Barrier::new(2));
    let (engine, runs) = wrapped_engine(&gate);
    engine.block("kettle", 1, "first", None).unwrap();
    engine.cancel("first").unwrap();
    gate.wait();
    queue(&engine);
    gate.wait();
    engine.flush_events().unwrap();
    (engine, runs)
}

fn pairs(engine: &Engine, orders: &[String]) {
    for order in orders {
        engine.block("kettle", 1, order, None).unwrap();
        engine.confirm(order).unwrap();
    }
}

#[test]
fn events_queued_together_are_delivered_in_one_wrapped_run_in_order() {
    let orders: Vec<String> = (0..1_500).map(|i| format!("o{i}")).collect();
    let (_engine, runs) = queued_behind_the_first(|engine| pairs(engine, &orders));

    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs[0], ["a:first", "b:first"]);
    // Every event queued went in runs of at most 1,024 events, each event
    // to both subscribers before the next.
    assert_eq!(runs.len(), 3, "1,500 queued events make two runs");
    assert_eq!(runs[1].len(), 2 * 1_024);
    let delivered: Vec<String> = runs[1..].concat();
    let expected: Vec<String> =
        orders.iter().flat_map(|order| [format!("a:{order}"), format!("b:{order}")]).collect();
    assert_eq!(delivered, expected);
}

#[test]
fn a_wrapper_that_never_delivers_or_panics_loses_no_event() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 100).unwrap();
    // Subscribed first, so that the wrapper reaches a running notifier.
    let (_, seen) = counting_subscriber(&engine);
    let wraps = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&wraps);
    engine
        .wrap_deliveries(move |_deliver| {
            if counted.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
                panic!("wrapper bug");
            }
        })
        .unwrap();
    for order in ["a", "b", "c", "d"] {
        engine.block("kettle", 1, order, None).unwrap();
        engine.confirm(order).unwrap();
        engine.flush_events().unwrap();
    }
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    assert_eq!(wraps.load(Ordering::SeqCst), 4);
    engine.close();
    assert_eq!(engine.wrap_deliveries(|deliver| deliver()), Err(stockkeeper::Error::Closed));
}

#[test]
fn runs_keep_within_their_limit_when_a_release_pass_queues_batches() {
    // Behind the held event: 1,000 events one a call, then the release
    // pass's, published in batches of its own.
    let (_engine, runs) = queued_behind_the_first(|engine| {
        pairs(engine, &(0..1_000).map(|i| format!("o{i}")).collect::<Vec<_>>());
        for i in 0..1_000 {
            engine.block("kettle", 1, &format!("x{i}"), None).unwrap();
        }
        engine.advance(Duration::from_secs(301)).unwrap();
    });

    let sizes: Vec<usize> = runs.lock().unwrap().iter().map(|run| run.len() / 2).collect();
    assert!(sizes.iter().all(|&events| events <= 1_024), "runs of {sizes:?} events");
    assert_eq!(sizes.iter().sum::<usize>(), 2_001);
}

/// Watches the order id of every hold-ended event the engine delivers.
fn watched_endings(engine: &Engine) -> Arc<Mutex<Vec<Weak<str>>>> {
    let watches = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&watches);
    engine
        .on_event(move |event| {
            if let Event::HoldEnded { order, .. } = event {
                seen.lock().unwrap().push(Arc::downgrade(order));
            }
        })
        .unwrap();
    watches
}

/// The notifier thread leaves a call's delivered events to the threads that
/// publish: the next call that publishes drops the oldest list left, on its
/// own thread, before it returns (whether or not the notifier has delivered
/// that call's own events by then).
#[test]
fn a_delivered_event_is_dropped_by_the_next_call_that_publishes() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 10).unwrap();
    let watches = watched_endings(&engine);
    let alive = |at: usize| watches.lock().unwrap()[at].upgrade().is_some();

    engine.block("kettle", 1, "a", None).unwrap();
    engine.confirm("a").unwrap();
    engine.flush_events().unwrap();
    assert!(alive(0), "delivered, and left for a publisher");
    engine.block("kettle", 1, "b", None).unwrap();
    assert!(alive(0), "a block that publishes nothing drops nothing");
    engine.confirm("b").unwrap();
    assert!(!alive(0), "dropped by the confirm that published next");
    engine.flush_events().unwrap();
    assert!(alive(1));
}

/// A closed engine keeps none of the events it delivered: its notifier
/// thread drops what it kept for the publishers as it ends.
#[test]
fn a_closed_engine_keeps_no_delivered_event() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 10).unwrap();
    let watches = watched_endings(&engine);
    engine.block("kettle", 1, "a", None).unwrap();
    engine.confirm("a").unwrap();
    engine.flush_events().unwrap();
    assert!(watches.lock().unwrap()[0].upgrade().is_some(), "kept for a publisher");
    engine.close();
    assert!(watches.lock().unwrap()[0].upgrade().is_none());
}

/// The hold of an order of many lines makes an event too large to leave to
/// one call: the notifier thread drops it once it is delivered.
#[test]
fn a_large_event_is_dropped_where_it_was_delivered() {
    let engine = engine();
    let products: Vec<String> = (0..65).map(|i| format!("p{i}")).collect();
    for product in &products {
        engine.add_product(product, "Product", 1).unwrap();
    }
    let watches = watched_endings(&engine);
    let lines: Vec<Line> = products.iter().map(|product| Line::new(product, 1)).collect();
    engine.block_order("large", &lines, None).unwrap();
    engine.confirm("large").unwrap();
    engine.flush_events().unwrap();
    assert!(watches.lock().unwrap()[0].upgrade().is_none());
}

/// A notifier that nothing reaches during its nap drops what it kept, when
/// that is more than a few calls' events: an engine idle after a burst keeps
/// none of them.
#[test]
fn an_idle_notifier_drops_what_it_kept() {
    let gate = Arc::new(Barrier::new(2));
    let (engine, _runs) = wrapped_engine(&gate);
    let watches = watched_endings(&engine);
    engine.block("kettle", 1, "first", None).unwrap();
    engine.cancel("first").unwrap();
    gate.wait();
    // Queued behind the first event: a run of a hundred calls' events.
    let orders: Vec<String> = (0..100).map(|i| format!("o{i}")).collect();
    pairs(&engine, &orders);
    gate.wait();
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    let dropped = || {
        let watches = watches.lock().unwrap();
        watches.len() == 101 && watches.iter().all(|watch| watch.upgrade().is_none())
    };
    while !dropped() {
        assert!(std::time::Instant::now() < give_up, "the kept events were never dropped");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A release pass's batch of events is too long to leave to one call: the
/// notifier thread drops it itself once it is delivered.
#[test]
fn a_release_pass_batch_is_dropped_where_it_was_delivered() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 100).unwrap();
    let watches = watched_endings(&engine);
    for i in 0..40 {
        engine.block("kettle", 1, &format!("o{i}"), None).unwrap();
    }
    engine.advance(Duration::from_secs(301)).unwrap();
    engine.flush_events().unwrap();
    let watches = watches.lock().unwrap();
    assert_eq!(watches.len(), 40);
    assert!(watches.iter().all(|watch| watch.upgrade().is_none()));
}
