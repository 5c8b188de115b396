//! Order ids of every accepted length and shape are kept apart: short ids
//! live inside the order's own allocation and long ones outside it, so the
//! ids around that boundary (24 bytes), and ids that differ only past it or
//! in a character that straddles it, are the ones most worth telling apart.

use std::collections::BTreeMap;
use std::time::Duration;

use stockkeeper::{Engine, Error, Event, Options, OrderState, MAX_ID_BYTES};

fn ids() -> Vec<String> {
    let mut ids = Vec::new();
    for len in 1..=MAX_ID_BYTES {
        let body = "a".repeat(len - 1);
        ids.extend([format!("{body}a"), format!("{body}b"), format!("b{body}")]);
    }
    for wide in ["é", "€", "😀"] {
        for len in [21, 22, 23, 24, 25, 26, 48, MAX_ID_BYTES] {
            let pad = "x".repeat(len - wide.len());
            ids.extend([format!("{pad}{wide}"), format!("{wide}{pad}")]);
        }
    }
    let prefix = "0123456789abcdefghijklmn";
    for tail in ["", "o", "p", "é", "\u{7f}", "\u{80}"] {
        ids.push(format!("{prefix}{tail}"));
    }
    ids.sort();
    ids.dedup();
    ids
}

const ENDS: [OrderState; 3] = [OrderState::Confirmed, OrderState::Cancelled, OrderState::Expired];

#[test]
fn ids_of_every_length_and_shape_are_kept_apart() {
    let engine = Engine::new(Options::manual()).unwrap();
    engine.add_product("p", "", 1 << 40).unwrap();
    let events = engine.subscribe().unwrap();
    let ids = ids();
    // Each order holds a quantity of its own, by which its lines name it.
    for (i, id) in ids.iter().enumerate() {
        engine.block("p", i as u64 + 1, id, None).unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(engine.block("p", 1, id, None), Err(Error::DuplicateOrder), "{id:?}");
        let status = engine.status(id).unwrap();
        assert_eq!(
            (status.state, status.lines),
            (OrderState::Held, vec![("p".into(), i as u64 + 1)])
        );
    }
    for (i, id) in ids.iter().enumerate() {
        match ENDS[i % 3] {
            OrderState::Confirmed => engine.confirm(id).unwrap(),
            OrderState::Cancelled => engine.cancel(id).unwrap(),
            _ => {}
        }
    }
    engine.advance(Duration::from_secs(301)).unwrap();
    engine.flush_events().unwrap();

    let mut ended = BTreeMap::new();
    for event in events.try_iter() {
        if let Event::HoldEnded { order, state, lines } = event {
            assert!(ended.insert(order.to_string(), (state, lines[0].1)).is_none(), "{order:?}");
        }
    }
    let expected: BTreeMap<String, (OrderState, u64)> =
        ids.iter().enumerate().map(|(i, id)| (id.clone(), (ENDS[i % 3], i as u64 + 1))).collect();
    assert_eq!(ended, expected, "every event names its own order");

    for (i, id) in ids.iter().enumerate() {
        assert_eq!(engine.status(id).map(|s| s.state), Ok(ENDS[i % 3]), "{id:?}");
        assert_eq!(engine.block("p", 1, id, None), Err(Error::DuplicateOrder), "{id:?}");
    }
    // Past the retention each id is forgotten, and free exactly once.
    engine.advance(Duration::from_secs(3601)).unwrap();
    for id in &ids {
        assert_eq!(engine.status(id).map(|s| s.state), Err(Error::UnknownOrder), "{id:?}");
        engine.block("p", 1, id, None).unwrap();
        assert_eq!(engine.block("p", 1, id, None), Err(Error::DuplicateOrder), "{id:?}");
    }
}
