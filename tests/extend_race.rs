//! An extension racing the old deadline resolves one way or the other: either
//! the hold lives on to its new deadline, or it expired and the extension is
//! refused. Never both, and the stock always says which.

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use stockkeeper::{Engine, Error, Options, OrderState};

const ROUNDS: usize = 2_000;
const HOLD: Duration = Duration::from_millis(1);

#[derive(Debug, Default)]
struct Outcomes {
    extended: usize,
    expired_by_release: usize,
    expired_by_extend: usize,
}

#[test]
fn extension_against_the_deadline_has_one_winner() {
    let engine = Engine::new(Options::manual()).unwrap();
    engine.add_product("hot", "Hot", 1).unwrap();
    let start = Barrier::new(2);
    let mut outcomes = Outcomes::default();

    for round in 0..ROUNDS {
        let order = format!("round-{round}");
        engine.block("hot", 1, &order, Some(HOLD)).unwrap();
        // The clock now stands exactly on the deadline: the hold is live for
        // one more nanosecond.
        engine.advance(HOLD).unwrap();

        let (extended, released) = thread::scope(|scope| {
            let extender = scope.spawn(|| {
                start.wait();
                engine.extend(&order, Duration::from_secs(1))
            });
            start.wait();
            let released = engine.advance(Duration::from_nanos(1)).unwrap();
            (extender.join().unwrap(), released)
        });

        let state = engine.status(&order).unwrap().state;
        let stock = engine.stock("hot").unwrap();
        match extended {
            Ok(_) => {
                assert_eq!(released, 0, "{order}: extended and also released");
                assert_eq!(state, OrderState::Held, "{order}");
                assert_eq!(stock.reserved, 1, "{order}: an extended hold keeps its unit");
                engine.cancel(&order).unwrap();
                outcomes.extended += 1;
            }
            Err(Error::Expired) => {
                assert_eq!(state, OrderState::Expired, "{order}");
                assert_eq!(stock.reserved, 0, "{order}: an expired hold gave its unit back");
                match released {
                    1 => outcomes.expired_by_release += 1,
                    0 => outcomes.expired_by_extend += 1,
                    n => panic!("{order}: released {n} holds"),
                }
            }
            Err(other) => panic!("{order}: extend failed with {other:?}"),
        }
        assert_eq!(engine.stock("hot").unwrap().available, 1, "{order}");
    }
    eprintln!("extension against the deadline, {ROUNDS} rounds: {outcomes:?}");
}

#[test]
fn the_releaser_honours_an_extended_deadline() {
    let engine = Engine::new(Options::manual()).unwrap();
    engine.add_product("kettle", "Kettle", 1).unwrap();
    engine.block("kettle", 1, "o1", Some(Duration::from_secs(60))).unwrap();
    engine.extend("o1", Duration::from_secs(60)).unwrap();

    // The old deadline passes: its schedule entry comes up and is skipped.
    assert_eq!(engine.advance(Duration::from_secs(61)).unwrap(), 0);
    assert_eq!(engine.stock("kettle").unwrap().reserved, 1);

    // The new deadline is honoured to the nanosecond.
    assert_eq!(engine.advance(Duration::from_secs(59)).unwrap(), 0);
    assert_eq!(engine.advance(Duration::from_nanos(1)).unwrap(), 1);
    assert_eq!(engine.stock("kettle").unwrap().reserved, 0);
}
