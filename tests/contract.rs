//! The behaviour contract, rule by rule, through the Rust API. Time is the
//! manual clock: nothing here sleeps, and every deadline is exact.

use std::time::{Duration, SystemTime};

use stockkeeper::{
    ClockKind, Engine, Error, ErrorCode, Line, Options, OrderState, Stock, DEFAULT_HOLD_TIME,
    DEFAULT_MAX_REMEMBERED, DEFAULT_RETENTION, MAX_COUNT, MAX_HOLD_TIME, MAX_ID_BYTES,
};

const NS: Duration = Duration::from_nanos(1);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn engine() -> Engine {
    Engine::new(Options::manual()).expect("a manual engine starts")
}

fn engine_with(configure: impl FnOnce(&mut Options)) -> Engine {
    let mut options = Options::manual();
    configure(&mut options);
    Engine::new(options).expect("the engine starts")
}

/// An engine with one product `kettle` of `on_hand` units.
fn kettles(on_hand: u64) -> Engine {
    let engine = engine();
    engine.add_product("kettle", "Kettle", on_hand).unwrap();
    engine
}

fn stock(engine: &Engine, product: &str) -> (u64, u64, u64) {
    let Stock { on_hand, reserved, available } = engine.stock(product).unwrap();
    (on_hand, reserved, available)
}

fn stock_of(on_hand: u64, reserved: u64) -> Stock {
    Stock { on_hand, reserved, available: on_hand - reserved }
}

fn state(engine: &Engine, order: &str) -> Result<OrderState, Error> {
    engine.status(order).map(|status| status.state)
}

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> ErrorCode {
    result.expect_err("the call should fail").code()
}

fn insufficient(product: &str, requested: u64, available: u64) -> Error {
    Error::InsufficientStock { product: product.to_owned(), requested, available }
}

fn unknown_product(product: &str) -> Error {
    Error::UnknownProduct { product: product.to_owned() }
}

// ---- Options ----------------------------------------------------------------

#[test]
fn default_options_are_the_documented_ones() {
    let options = Options::default();
    assert_eq!(options.hold_time, secs(300));
    assert_eq!(options.hold_time, DEFAULT_HOLD_TIME);
    assert_eq!(options.retention, DEFAULT_RETENTION);
    assert_eq!(options.max_remembered, DEFAULT_MAX_REMEMBERED);
    assert_eq!(options.clock, ClockKind::System);
    assert!(options.background_release);

    let manual = Options::manual();
    assert_eq!(manual.clock, ClockKind::Manual);
    assert!(!manual.background_release);
    assert_eq!(manual.hold_time, DEFAULT_HOLD_TIME);
}

#[test]
fn an_engine_refuses_a_zero_or_unrepresentable_hold_time() {
    let zero = Engine::new(Options { hold_time: Duration::ZERO, ..Options::manual() });
    assert_eq!(zero.unwrap_err(), Error::InvalidDuration);
    let huge = Engine::new(Options { hold_time: Duration::MAX, ..Options::manual() });
    assert_eq!(huge.unwrap_err(), Error::Overflow);
    let huge = Engine::new(Options { retention: Duration::MAX, ..Options::manual() });
    assert_eq!(huge.unwrap_err(), Error::Overflow);
}

#[test]
fn an_engine_refuses_a_hold_time_past_the_longest_every_door_carries() {
    let longest = Engine::new(Options { hold_time: MAX_HOLD_TIME, ..Options::manual() }).unwrap();
    longest.add_product("kettle", "Kettle", 1).unwrap();
    longest.advance(Duration::from_secs(3600)).unwrap();
    longest.block("kettle", 1, "o1", None).unwrap();
    let past = MAX_HOLD_TIME + Duration::from_nanos(1);
    let refused = Engine::new(Options { hold_time: past, ..Options::manual() });
    assert_eq!(refused.unwrap_err(), Error::Overflow);
    let refused =
        Engine::new(Options { hold_time: Duration::from_nanos(u64::MAX), ..Options::default() });
    assert_eq!(refused.unwrap_err(), Error::Overflow);
}

// ---- Stock model ------------------------------------------------------------

#[test]
fn available_is_on_hand_minus_reserved() {
    let engine = kettles(10);
    assert_eq!(stock(&engine, "kettle"), (10, 0, 10));

    engine.block("kettle", 3, "o1", None).unwrap();
    engine.block("kettle", 4, "o2", None).unwrap();
    assert_eq!(stock(&engine, "kettle"), (10, 7, 3));
    assert_eq!(engine.available("kettle"), Ok(3));

    engine.confirm("o1").unwrap();
    assert_eq!(stock(&engine, "kettle"), (7, 4, 3));
    engine.cancel("o2").unwrap();
    assert_eq!(stock(&engine, "kettle"), (7, 0, 7));
}

#[test]
fn stock_is_conserved_across_every_kind_of_change() {
    let engine = kettles(20);
    let mut confirmed = 0;
    engine.update_inventory("kettle", 5).unwrap();
    engine.update_inventory("kettle", -3).unwrap();
    for (i, quantity) in [2, 3, 4, 5].into_iter().enumerate() {
        engine.block("kettle", quantity, &format!("o{i}"), None).unwrap();
    }
    engine.confirm("o0").unwrap();
    confirmed += 2;
    engine.cancel("o1").unwrap();
    engine.confirm("o3").unwrap();
    confirmed += 5;
    engine.advance(secs(301)).unwrap();

    let (on_hand, reserved, available) = stock(&engine, "kettle");
    assert_eq!(on_hand, 20 + 5 - 3 - confirmed);
    assert_eq!((reserved, available), (0, on_hand));
}

// ---- add product ------------------------------------------------------------

#[test]
fn add_product_creates_a_product_with_its_count_and_name() {
    let engine = engine();
    engine.add_product("kettle", "Kettle", 5).unwrap();
    engine.add_product("shelf", "", 0).unwrap();
    assert_eq!(stock(&engine, "kettle"), (5, 0, 5));
    assert_eq!(stock(&engine, "shelf"), (0, 0, 0));
    assert_eq!(engine.product_name("kettle").as_deref(), Ok("Kettle"));
    assert_eq!(engine.product_name("shelf").as_deref(), Ok(""));
    assert_eq!(engine.product_name("teapot"), Err(unknown_product("teapot")));
}

#[test]
fn add_product_refuses_an_existing_id_and_keeps_the_first() {
    let engine = kettles(5);
    assert_eq!(engine.add_product("kettle", "Other", 9), Err(Error::ProductExists));
    assert_eq!(stock(&engine, "kettle"), (5, 0, 5));
    assert_eq!(engine.product_name("kettle").as_deref(), Ok("Kettle"));
}

#[test]
fn add_product_refuses_bad_ids_names_and_counts() {
    let engine = engine();
    let long = "a".repeat(MAX_ID_BYTES + 1);
    assert_eq!(engine.add_product("", "x", 1), Err(Error::EmptyId));
    assert_eq!(engine.add_product(&long, "x", 1), Err(Error::IdTooLong { len: 257 }));
    assert_eq!(engine.add_product("a\0b", "x", 1), Err(Error::IdContainsNul));
    assert_eq!(engine.add_product("p", "a\0b", 1), Err(Error::InvalidName));
    assert_eq!(engine.add_product("p", &"n".repeat(1025), 1), Err(Error::InvalidName));
    assert_eq!(engine.add_product("p", "x", MAX_COUNT + 1), Err(Error::Overflow));
    assert_eq!(engine.add_product("p", "x", u64::MAX), Err(Error::Overflow));
    assert_eq!(engine.stock("p"), Err(unknown_product("p")));

    engine.add_product("p", &"n".repeat(1024), MAX_COUNT).unwrap();
    assert_eq!(stock(&engine, "p"), (MAX_COUNT, 0, MAX_COUNT));
}

// ---- get inventory and stock ------------------------------------------------

#[test]
fn unknown_products_are_reported_with_their_id() {
    let engine = engine();
    assert_eq!(engine.available("teapot"), Err(unknown_product("teapot")));
    assert_eq!(engine.stock("teapot"), Err(unknown_product("teapot")));
    assert_eq!(engine.update_inventory("teapot", 1), Err(unknown_product("teapot")));
    assert_eq!(engine.block("teapot", 1, "o1", None), Err(unknown_product("teapot")));
    assert_eq!(engine.available(""), Err(Error::EmptyId));
    assert_eq!(engine.stock(""), Err(Error::EmptyId));
}

// ---- update inventory -------------------------------------------------------

#[test]
fn update_restocks_and_corrects_and_returns_the_new_stock() {
    let engine = kettles(5);
    assert_eq!(engine.update_inventory("kettle", 3), Ok(stock_of(8, 0)));
    engine.block("kettle", 2, "o1", None).unwrap();
    assert_eq!(engine.update_inventory("kettle", -6), Ok(stock_of(2, 2)));
    assert_eq!(stock(&engine, "kettle"), (2, 2, 0));
}

#[test]
fn a_correction_cannot_take_available_below_zero() {
    let engine = kettles(5);
    engine.block("kettle", 2, "o1", None).unwrap();
    assert_eq!(engine.update_inventory("kettle", -4), Err(insufficient("kettle", 4, 3)));
    assert_eq!(stock(&engine, "kettle"), (5, 2, 3));
    engine.update_inventory("kettle", -3).unwrap();
    assert_eq!(engine.update_inventory("kettle", -1), Err(insufficient("kettle", 1, 0)));
    assert_eq!(stock(&engine, "kettle"), (2, 2, 0));
}

#[test]
fn update_refuses_zero_and_overflow() {
    let engine = kettles(1);
    assert_eq!(engine.update_inventory("kettle", 0), Err(Error::InvalidQuantity));
    assert_eq!(engine.update_inventory("kettle", i64::MAX), Err(Error::Overflow));
    assert_eq!(engine.update_inventory("kettle", i64::MIN), Err(Error::Overflow));
    assert_eq!(stock(&engine, "kettle"), (1, 0, 1));

    engine.update_inventory("kettle", i64::MAX - 1).unwrap();
    assert_eq!(stock(&engine, "kettle"), (MAX_COUNT, 0, MAX_COUNT));
    assert_eq!(engine.update_inventory("kettle", 1), Err(Error::Overflow));
    assert_eq!(stock(&engine, "kettle"), (MAX_COUNT, 0, MAX_COUNT));
    engine.update_inventory("kettle", -i64::MAX).unwrap();
    assert_eq!(stock(&engine, "kettle"), (0, 0, 0));
}

// ---- block ------------------------------------------------------------------

#[test]
fn block_holds_until_now_plus_the_hold_time() {
    let engine = kettles(5);
    engine.advance(secs(7)).unwrap();
    let deadline = engine.block("kettle", 2, "o1", None).unwrap();
    assert_eq!(deadline.since_start, secs(307));
    let deadline = engine.block("kettle", 1, "o2", Some(secs(20))).unwrap();
    assert_eq!(deadline.since_start, secs(27));

    let status = engine.status("o1").unwrap();
    assert_eq!(status.state, OrderState::Held);
    assert_eq!(status.lines, vec![("kettle".to_owned(), 2)]);
    assert_eq!(status.deadline.since_start, secs(307));
    assert_eq!(stock(&engine, "kettle"), (5, 3, 2));
}

#[test]
fn block_refuses_and_changes_nothing() {
    let engine = kettles(5);
    engine.block("kettle", 2, "o1", None).unwrap();

    assert_eq!(engine.block("kettle", 4, "o2", None), Err(insufficient("kettle", 4, 3)));
    assert_eq!(engine.block("kettle", 0, "o2", None), Err(Error::InvalidQuantity));
    assert_eq!(engine.block("kettle", MAX_COUNT + 1, "o2", None), Err(Error::Overflow));
    assert_eq!(engine.block("teapot", 1, "o2", None), Err(unknown_product("teapot")));
    assert_eq!(engine.block("kettle", 1, "o1", None), Err(Error::DuplicateOrder));
    assert_eq!(engine.block("kettle", 1, "o2", Some(Duration::ZERO)), Err(Error::InvalidDuration));
    assert_eq!(engine.block("kettle", 1, "o2", Some(Duration::MAX)), Err(Error::Overflow));

    assert_eq!(stock(&engine, "kettle"), (5, 2, 3));
    assert_eq!(state(&engine, "o2"), Err(Error::UnknownOrder));
    engine.block("kettle", 3, "o2", None).unwrap();
    assert_eq!(stock(&engine, "kettle"), (5, 5, 0));
}

#[test]
fn a_deadline_past_the_clock_range_is_an_overflow() {
    let engine = kettles(5);
    let last = Duration::from_nanos(u64::MAX);
    let deadline = engine.block("kettle", 1, "o1", Some(last)).unwrap();
    assert_eq!(deadline.since_start, last);

    engine.advance(NS).unwrap();
    assert_eq!(engine.block("kettle", 1, "o2", Some(last)), Err(Error::Overflow));
    assert_eq!(engine.extend("o1", NS), Err(Error::Overflow));
    assert_eq!(engine.status("o1").unwrap().deadline.since_start, last);
    assert_eq!(stock(&engine, "kettle"), (5, 1, 4));
}

// ---- confirm ----------------------------------------------------------------

#[test]
fn confirm_takes_the_units_out_of_on_hand() {
    let engine = kettles(10);
    engine.block("kettle", 3, "o1", None).unwrap();
    engine.confirm("o1").unwrap();
    assert_eq!(stock(&engine, "kettle"), (7, 0, 7));
    assert_eq!(state(&engine, "o1"), Ok(OrderState::Confirmed));
}

#[test]
fn confirm_refuses_unknown_and_ended_orders() {
    let engine = kettles(10);
    assert_eq!(engine.confirm("nobody"), Err(Error::UnknownOrder));

    engine.block("kettle", 1, "confirmed", None).unwrap();
    engine.block("kettle", 1, "cancelled", None).unwrap();
    engine.block("kettle", 1, "expired", Some(secs(1))).unwrap();
    engine.confirm("confirmed").unwrap();
    engine.cancel("cancelled").unwrap();
    engine.advance(secs(2)).unwrap();
    let before = stock(&engine, "kettle");

    assert_eq!(engine.confirm("confirmed"), Err(Error::AlreadyConfirmed));
    assert_eq!(engine.confirm("cancelled"), Err(Error::AlreadyCancelled));
    assert_eq!(engine.confirm("expired"), Err(Error::Expired));
    assert_eq!(stock(&engine, "kettle"), before);
    assert_eq!(before, (9, 0, 9));
}

// ---- cancel -----------------------------------------------------------------

#[test]
fn cancel_gives_the_units_back_and_keeps_on_hand() {
    let engine = kettles(10);
    engine.block("kettle", 4, "o1", None).unwrap();
    engine.block("kettle", 1, "o2", None).unwrap();
    engine.cancel("o1").unwrap();
    assert_eq!(stock(&engine, "kettle"), (10, 1, 9));
    assert_eq!(state(&engine, "o1"), Ok(OrderState::Cancelled));
    assert_eq!(state(&engine, "o2"), Ok(OrderState::Held));
}

#[test]
fn cancel_refuses_unknown_and_ended_orders() {
    let engine = kettles(10);
    assert_eq!(engine.cancel("nobody"), Err(Error::UnknownOrder));

    engine.block("kettle", 1, "confirmed", None).unwrap();
    engine.block("kettle", 1, "cancelled", None).unwrap();
    engine.block("kettle", 1, "expired", Some(secs(1))).unwrap();
    engine.confirm("confirmed").unwrap();
    engine.cancel("cancelled").unwrap();
    engine.advance(secs(2)).unwrap();

    assert_eq!(engine.cancel("confirmed"), Err(Error::AlreadyConfirmed));
    assert_eq!(engine.cancel("cancelled"), Err(Error::AlreadyCancelled));
    assert_eq!(engine.cancel("expired"), Err(Error::Expired));
    assert_eq!(stock(&engine, "kettle"), (9, 0, 9));
}

// ---- status -----------------------------------------------------------------

#[test]
fn status_reports_state_lines_and_deadline() {
    let engine = kettles(10);
    engine.add_product("cup", "Cup", 10).unwrap();
    let lines = [Line::new("kettle", 1), Line::new("cup", 2), Line::new("kettle", 3)];
    let deadline = engine.block_order("o1", &lines, None).unwrap();

    let status = engine.status("o1").unwrap();
    assert_eq!(status.state, OrderState::Held);
    // One line per product, summed, sorted by product id.
    assert_eq!(status.lines, vec![("cup".to_owned(), 2), ("kettle".to_owned(), 4)]);
    assert_eq!(status.deadline, deadline);

    engine.confirm("o1").unwrap();
    let status = engine.status("o1").unwrap();
    assert_eq!(status.state, OrderState::Confirmed);
    assert_eq!(status.lines, vec![("cup".to_owned(), 2), ("kettle".to_owned(), 4)]);
    assert_eq!(status.deadline, deadline);

    assert_eq!(engine.status("nobody"), Err(Error::UnknownOrder));
    assert!(OrderState::Confirmed.is_ended() && !OrderState::Held.is_ended());
    let names = [OrderState::Held, OrderState::Confirmed, OrderState::Cancelled].map(|s| s.name());
    assert_eq!(names, ["held", "confirmed", "cancelled"]);
    assert_eq!(OrderState::Expired.name(), "expired");
}

// ---- deadlines --------------------------------------------------------------

#[test]
fn confirm_at_the_deadline_succeeds_and_one_nanosecond_later_fails() {
    let engine = kettles(5);
    engine.block("kettle", 2, "o1", None).unwrap();
    engine.block("kettle", 3, "o2", None).unwrap();
    assert_eq!(engine.advance(secs(300)), Ok(0));
    assert_eq!(engine.confirm("o1"), Ok(()));

    assert_eq!(engine.advance(NS), Ok(1));
    assert_eq!(engine.confirm("o2"), Err(Error::Expired));
    assert_eq!(stock(&engine, "kettle"), (3, 0, 3));
    let status = engine.status("o2").unwrap();
    assert_eq!((status.state, status.deadline.since_start), (OrderState::Expired, secs(300)));
}

#[test]
fn a_passed_deadline_refuses_confirm_even_before_any_release_pass() {
    // The system clock with no releaser: nothing releases the hold on its
    // own, so the confirm itself must notice the deadline has passed.
    let options = Options { background_release: false, ..Options::default() };
    let engine = Engine::new(options).unwrap();
    engine.add_product("kettle", "Kettle", 5).unwrap();
    let deadline = engine.block("kettle", 2, "o1", Some(NS)).unwrap();
    while engine.now() <= deadline.since_start {
        std::hint::spin_loop();
    }
    assert_eq!(stock(&engine, "kettle"), (5, 2, 3));

    assert_eq!(engine.confirm("o1"), Err(Error::Expired));
    assert_eq!(stock(&engine, "kettle"), (5, 0, 5));
    assert_eq!(state(&engine, "o1"), Ok(OrderState::Expired));
    assert_eq!(engine.release_expired(), Ok(0));
}

#[test]
fn status_cancel_and_extend_also_expire_a_passed_hold() {
    let options = Options { background_release: false, ..Options::default() };
    let engine = Engine::new(options).unwrap();
    engine.add_product("kettle", "Kettle", 6).unwrap();
    let mut last = Duration::ZERO;
    for order in ["o1", "o2", "o3"] {
        last = engine.block("kettle", 2, order, Some(NS)).unwrap().since_start;
    }
    while engine.now() <= last {
        std::hint::spin_loop();
    }

    assert_eq!(state(&engine, "o1"), Ok(OrderState::Expired));
    assert_eq!(engine.cancel("o2"), Err(Error::Expired));
    assert_eq!(engine.extend("o3", secs(60)), Err(Error::Expired));
    assert_eq!(stock(&engine, "kettle"), (6, 0, 6));
    assert_eq!(engine.release_expired(), Ok(0));
}

#[test]
fn deadlines_are_also_reported_on_the_wall_clock() {
    let before = SystemTime::now();
    let engine = kettles(5);
    let after = SystemTime::now();

    engine.advance(secs(10)).unwrap();
    let deadline = engine.block("kettle", 1, "o1", None).unwrap();
    assert_eq!(deadline.since_start, secs(310));
    // The wall time is the engine's start on the wall clock plus the
    // deadline: between the readings taken around the start.
    assert!(deadline.wall >= before + secs(310));
    assert!(deadline.wall <= after + secs(310));

    let extended = engine.extend("o1", secs(5)).unwrap();
    assert_eq!(extended.wall.duration_since(deadline.wall).ok(), Some(secs(5)));
    assert_eq!(engine.status("o1").unwrap().deadline, extended);
}

// ---- release ----------------------------------------------------------------

#[test]
fn advancing_the_clock_releases_what_fell_due() {
    let engine = kettles(10);
    engine.block("kettle", 1, "o1", Some(secs(10))).unwrap();
    engine.block("kettle", 2, "o2", Some(secs(20))).unwrap();
    engine.block("kettle", 3, "o3", Some(secs(20))).unwrap();

    assert_eq!(engine.advance(secs(10)), Ok(0));
    assert_eq!(engine.now(), secs(10));
    assert_eq!(engine.advance(NS), Ok(1));
    assert_eq!(stock(&engine, "kettle"), (10, 5, 5));
    assert_eq!(engine.release_expired(), Ok(0));
    assert_eq!(engine.advance(secs(10)), Ok(2));
    assert_eq!(stock(&engine, "kettle"), (10, 0, 10));
    assert_eq!(engine.now(), secs(20) + NS);
}

#[test]
fn the_manual_clock_refuses_to_pass_its_range() {
    let engine = kettles(1);
    assert_eq!(engine.advance(Duration::MAX), Err(Error::Overflow));
    assert_eq!(engine.now(), Duration::ZERO);
    engine.advance(Duration::from_nanos(u64::MAX)).unwrap();
    assert_eq!(engine.advance(NS), Err(Error::Overflow));
    assert_eq!(engine.now(), Duration::from_nanos(u64::MAX));
}

#[test]
fn the_system_clock_cannot_be_advanced() {
    let options = Options { background_release: false, ..Options::default() };
    let engine = Engine::new(options).unwrap();
    assert_eq!(engine.advance(secs(1)), Err(Error::ClockNotManual));
}

// ---- order ids --------------------------------------------------------------

#[test]
fn order_ids_are_never_reused_while_remembered() {
    let engine = kettles(10);
    engine.add_product("cup", "Cup", 10).unwrap();
    for order in ["held", "confirmed", "cancelled", "expired"] {
        engine.block("kettle", 1, order, Some(secs(5))).unwrap();
    }
    engine.confirm("confirmed").unwrap();
    engine.cancel("cancelled").unwrap();
    engine.extend("held", secs(60)).unwrap();
    engine.advance(secs(6)).unwrap();
    assert_eq!(state(&engine, "expired"), Ok(OrderState::Expired));

    for order in ["held", "confirmed", "cancelled", "expired"] {
        assert_eq!(engine.block("cup", 1, order, None), Err(Error::DuplicateOrder), "{order}");
        let lines = [Line::new("cup", 1), Line::new("kettle", 1)];
        assert_eq!(engine.block_order(order, &lines, None), Err(Error::DuplicateOrder));
    }
    assert_eq!(stock(&engine, "cup"), (10, 0, 10));
    assert_eq!(stock(&engine, "kettle"), (9, 1, 8));
    assert_eq!(state(&engine, "held"), Ok(OrderState::Held));
}

#[test]
fn a_refused_block_does_not_take_the_order_id() {
    let engine = kettles(1);
    assert_eq!(engine.block("kettle", 2, "o1", None), Err(insufficient("kettle", 2, 1)));
    assert_eq!(engine.block("teapot", 1, "o1", None), Err(unknown_product("teapot")));
    engine.block("kettle", 1, "o1", None).unwrap();
}

// ---- retention and the memory bound -----------------------------------------

#[test]
fn ended_orders_are_forgotten_after_the_retention_period() {
    let engine = engine_with(|o| o.retention = secs(600));
    engine.add_product("kettle", "Kettle", 10).unwrap();
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.advance(secs(100)).unwrap();
    engine.confirm("o1").unwrap();

    // Retention counts from the end of the hold, not from its start.
    engine.advance(secs(600) - NS).unwrap();
    assert_eq!(engine.confirm("o1"), Err(Error::AlreadyConfirmed));
    assert_eq!(engine.block("kettle", 1, "o1", None), Err(Error::DuplicateOrder));
    engine.advance(NS).unwrap();
    assert_eq!(engine.confirm("o1"), Err(Error::UnknownOrder));
    assert_eq!(engine.status("o1"), Err(Error::UnknownOrder));

    engine.block("kettle", 2, "o1", None).unwrap();
    assert_eq!(stock(&engine, "kettle"), (9, 2, 7));
}

#[test]
fn retention_of_an_expired_order_counts_from_its_release() {
    let engine = engine_with(|o| o.retention = secs(600));
    engine.add_product("kettle", "Kettle", 10).unwrap();
    engine.block("kettle", 1, "o1", Some(secs(10))).unwrap();
    engine.advance(secs(20)).unwrap();
    assert_eq!(state(&engine, "o1"), Ok(OrderState::Expired));

    engine.advance(secs(600) - NS).unwrap();
    assert_eq!(engine.confirm("o1"), Err(Error::Expired));
    engine.advance(NS).unwrap();
    assert_eq!(engine.confirm("o1"), Err(Error::UnknownOrder));
}

#[test]
fn with_zero_retention_the_next_release_pass_forgets() {
    let engine = engine_with(|o| o.retention = Duration::ZERO);
    engine.add_product("kettle", "Kettle", 10).unwrap();
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.cancel("o1").unwrap();
    assert_eq!(engine.cancel("o1"), Err(Error::AlreadyCancelled));
    engine.release_expired().unwrap();
    assert_eq!(engine.cancel("o1"), Err(Error::UnknownOrder));
}

#[test]
fn the_memory_bound_forgets_the_order_that_ended_first() {
    let engine = engine_with(|o| o.max_remembered = 3);
    engine.add_product("kettle", "Kettle", 100).unwrap();
    let orders: Vec<String> = (0..10).map(|i| format!("order-{i}")).collect();
    for order in &orders {
        engine.block("kettle", 1, order, None).unwrap();
    }
    // Live holds are never forgotten, whatever the bound.
    for order in &orders {
        assert_eq!(state(&engine, order), Ok(OrderState::Held), "{order}");
    }

    for (ended, order) in orders.iter().enumerate() {
        engine.confirm(order).unwrap();
        for (i, earlier) in orders[..=ended].iter().enumerate() {
            let expected = match ended - i < 3 {
                true => Ok(OrderState::Confirmed),
                false => Err(Error::UnknownOrder),
            };
            assert_eq!(state(&engine, earlier), expected, "{earlier} after {order} ended");
        }
    }
    engine.block("kettle", 1, "order-0", None).unwrap();
    assert_eq!(stock(&engine, "kettle"), (90, 1, 89));
}

#[test]
fn a_memory_bound_of_one_remembers_only_the_last_ended_order() {
    let engine = engine_with(|o| o.max_remembered = 1);
    engine.add_product("kettle", "Kettle", 10).unwrap();
    engine.block("kettle", 1, "a", None).unwrap();
    engine.block("kettle", 1, "b", None).unwrap();
    engine.block("kettle", 1, "c", Some(secs(1))).unwrap();
    engine.confirm("a").unwrap();
    engine.cancel("b").unwrap();
    assert_eq!(engine.confirm("a"), Err(Error::UnknownOrder));
    assert_eq!(engine.cancel("b"), Err(Error::AlreadyCancelled));
    engine.advance(secs(2)).unwrap();
    assert_eq!(engine.cancel("b"), Err(Error::UnknownOrder));
    assert_eq!(engine.confirm("c"), Err(Error::Expired));
}

// ---- ids ---------------------------------------------------------------------

#[test]
fn ids_are_non_empty_utf8_of_at_most_256_bytes_without_nul() {
    let engine = engine();
    let longest = "a".repeat(256);
    let accented = "é".repeat(128);
    engine.add_product(&longest, "Longest", 1).unwrap();
    engine.add_product(&accented, "Accented", 1).unwrap();
    engine.add_product("日本", "Japan", 1).unwrap();
    engine.block(&accented, 1, &longest, None).unwrap();
    assert_eq!(state(&engine, &longest), Ok(OrderState::Held));

    let too_long = "é".repeat(129);
    for id in ["", "a\0", &"o".repeat(257), &too_long] {
        let expected = match id {
            "" => ErrorCode::EmptyId,
            _ if id.len() > 256 => ErrorCode::IdTooLong,
            _ => ErrorCode::IdContainsNul,
        };
        assert_eq!(code(engine.add_product(id, "x", 1)), expected);
        assert_eq!(code(engine.available(id)), expected);
        assert_eq!(code(engine.stock(id)), expected);
        assert_eq!(code(engine.update_inventory(id, 1)), expected);
        assert_eq!(code(engine.block(id, 1, "fine", None)), expected);
        assert_eq!(code(engine.block("日本", 1, id, None)), expected);
        assert_eq!(code(engine.confirm(id)), expected);
        assert_eq!(code(engine.cancel(id)), expected);
        assert_eq!(code(engine.extend(id, secs(1))), expected);
        assert_eq!(code(engine.status(id)), expected);
    }
    assert_eq!(engine.block("日本", 1, &too_long, None), Err(Error::IdTooLong { len: 258 }));
    assert_eq!(stock(&engine, "日本"), (1, 0, 1));
}

// ---- bad input ----------------------------------------------------------------

/// An order's faults in the order `block_order` checks them: a line's own
/// quantity past the bound comes with that line, before later lines and the
/// hold time; a sum past the bound over several lines comes after the hold
/// time.
#[test]
fn block_order_reports_the_first_fault_in_its_documented_order() {
    let engine = kettles(5);
    let zero = Some(Duration::ZERO);
    let block = |lines: &[Line<'_>], hold: Option<Duration>| engine.block_order("o1", lines, hold);
    let past = MAX_COUNT + 1;
    assert_eq!(block(&[Line::new("", 1)], zero), Err(Error::EmptyId));
    assert_eq!(block(&[], zero), Err(Error::InvalidQuantity));
    assert_eq!(block(&[Line::new("kettle", past), Line::new("", 1)], zero), Err(Error::Overflow));
    assert_eq!(block(&[Line::new("kettle", 1), Line::new("", past)], zero), Err(Error::EmptyId));
    assert_eq!(
        block(&[Line::new("a", 0), Line::new("b", past)], zero),
        Err(Error::InvalidQuantity)
    );
    let summed_past = [Line::new("kettle", MAX_COUNT), Line::new("kettle", 1)];
    assert_eq!(block(&summed_past, zero), Err(Error::InvalidDuration));
    assert_eq!(block(&summed_past, Some(Duration::MAX)), Err(Error::Overflow));
    assert_eq!(block(&summed_past, None), Err(Error::Overflow));
    assert_eq!(block(&[Line::new("ghost", 1)], None), Err(unknown_product("ghost")));
    assert_eq!(stock(&engine, "kettle"), (5, 0, 5));
}

#[test]
fn bad_input_changes_nothing() {
    let engine = kettles(5);
    engine.add_product("cup", "Cup", 3).unwrap();
    engine.block_order("o1", &[Line::new("kettle", 2), Line::new("cup", 1)], None).unwrap();
    let snapshot = |engine: &Engine| {
        let status = engine.status("o1").unwrap();
        (stock(engine, "kettle"), stock(engine, "cup"), status, engine.now())
    };
    let before = snapshot(&engine);

    let refused = [
        engine.add_product("kettle", "Again", 1).unwrap_err(),
        engine.add_product("", "x", 1).unwrap_err(),
        engine.update_inventory("kettle", 0).unwrap_err(),
        engine.update_inventory("kettle", -4).unwrap_err(),
        engine.update_inventory("kettle", i64::MAX).unwrap_err(),
        engine.block("kettle", 0, "o2", None).unwrap_err(),
        engine.block("kettle", 4, "o2", None).unwrap_err(),
        engine.block("kettle", 1, "o1", None).unwrap_err(),
        engine.block_order("o2", &[], None).unwrap_err(),
        engine.block_order("o2", &[Line::new("kettle", 1), Line::new("cup", 3)], None).unwrap_err(),
        engine.block_order("o2", &[Line::new("cup", 1), Line::new("x", 1)], None).unwrap_err(),
        engine.block("kettle", 1, "o2", Some(Duration::ZERO)).unwrap_err(),
        engine.confirm("o2").unwrap_err(),
        engine.cancel("o2").unwrap_err(),
        engine.extend("o1", Duration::ZERO).unwrap_err(),
        engine.extend("o1", Duration::MAX).unwrap_err(),
        engine.extend("o2", secs(1)).unwrap_err(),
        engine.advance(Duration::MAX).unwrap_err(),
    ];
    assert_eq!(refused.len(), 18);
    assert_eq!(snapshot(&engine), before);
    assert_eq!(engine.status("o2"), Err(Error::UnknownOrder));
}

#[test]
fn every_error_has_a_stable_distinct_name_and_number() {
    let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.name()).collect();
    let mut numbers: Vec<u32> = ErrorCode::ALL.iter().map(|code| *code as u32).collect();
    names.sort_unstable();
    names.dedup();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(names.len(), ErrorCode::ALL.len());
    assert_eq!(numbers.len(), ErrorCode::ALL.len());
    assert_eq!(ErrorCode::Expired.name(), "expired");
    assert_eq!(ErrorCode::InsufficientStock as u32, 303);
    assert_eq!(insufficient("cup", 2, 1).code(), ErrorCode::InsufficientStock);
    assert_eq!(insufficient("cup", 2, 1).product(), Some("cup"));
    assert_eq!(Error::Expired.product(), None);
    assert!(insufficient("cup", 2, 1).to_string().contains("cup"));
}

// ---- multi-line orders ----------------------------------------------------------

#[test]
fn a_multi_line_order_holds_every_line_or_nothing() {
    let engine = kettles(5);
    engine.add_product("cup", "Cup", 2).unwrap();
    engine.add_product("saucer", "Saucer", 3).unwrap();
    let lines = [Line::new("kettle", 2), Line::new("cup", 1), Line::new("saucer", 3)];
    engine.block_order("o1", &lines, None).unwrap();
    assert_eq!(stock(&engine, "kettle"), (5, 2, 3));
    assert_eq!(stock(&engine, "cup"), (2, 1, 1));
    assert_eq!(stock(&engine, "saucer"), (3, 3, 0));

    let short = [Line::new("kettle", 3), Line::new("cup", 2)];
    assert_eq!(engine.block_order("o2", &short, None), Err(insufficient("cup", 2, 1)));
    let short = [Line::new("saucer", 1), Line::new("kettle", 1)];
    assert_eq!(engine.block_order("o2", &short, None), Err(insufficient("saucer", 1, 0)));
    let unknown = [Line::new("kettle", 1), Line::new("teapot", 1)];
    assert_eq!(engine.block_order("o2", &unknown, None), Err(unknown_product("teapot")));
    let zero = [Line::new("kettle", 1), Line::new("cup", 0)];
    assert_eq!(engine.block_order("o2", &zero, None), Err(Error::InvalidQuantity));
    assert_eq!(engine.block_order("o2", &[], None), Err(Error::InvalidQuantity));

    assert_eq!(stock(&engine, "kettle"), (5, 2, 3));
    assert_eq!(stock(&engine, "cup"), (2, 1, 1));
    assert_eq!(stock(&engine, "saucer"), (3, 3, 0));
    assert_eq!(engine.status("o2"), Err(Error::UnknownOrder));
}

#[test]
fn lines_naming_the_same_product_are_summed_before_the_check() {
    let engine = kettles(5);
    let twice_five = [Line::new("kettle", 5), Line::new("kettle", 5)];
    assert_eq!(engine.block_order("o1", &twice_five, None), Err(insufficient("kettle", 10, 5)));
    assert_eq!(stock(&engine, "kettle"), (5, 0, 5));

    let over = [Line::new("kettle", MAX_COUNT), Line::new("kettle", 1)];
    assert_eq!(engine.block_order("o1", &over, None), Err(Error::Overflow));

    engine.block_order("o1", &[Line::new("kettle", 2), Line::new("kettle", 3)], None).unwrap();
    assert_eq!(stock(&engine, "kettle"), (5, 5, 0));
    assert_eq!(engine.status("o1").unwrap().lines, vec![("kettle".to_owned(), 5)]);
}

#[test]
fn a_multi_line_order_ends_as_a_whole() {
    let engine = kettles(10);
    engine.add_product("cup", "Cup", 10).unwrap();
    let lines = [Line::new("kettle", 2), Line::new("cup", 3)];
    engine.block_order("confirmed", &lines, None).unwrap();
    engine.block_order("cancelled", &lines, None).unwrap();
    engine.block_order("expired", &lines, Some(secs(10))).unwrap();

    engine.confirm("confirmed").unwrap();
    engine.cancel("cancelled").unwrap();
    assert_eq!(engine.advance(secs(11)), Ok(1));
    assert_eq!(stock(&engine, "kettle"), (8, 0, 8));
    assert_eq!(stock(&engine, "cup"), (7, 0, 7));
}

// ---- extend -------------------------------------------------------------------

#[test]
fn a_live_hold_can_be_extended_and_the_later_deadline_is_honoured() {
    let engine = kettles(10);
    engine.block("kettle", 2, "o1", None).unwrap();
    engine.advance(secs(200)).unwrap();
    let extended = engine.extend("o1", secs(60)).unwrap();
    assert_eq!(extended.since_start, secs(360));

    assert_eq!(engine.advance(secs(160)), Ok(0));
    assert_eq!(state(&engine, "o1"), Ok(OrderState::Held));
    assert_eq!(engine.confirm("o1"), Ok(()));
    assert_eq!(stock(&engine, "kettle"), (8, 0, 8));

    engine.block("kettle", 3, "o2", None).unwrap();
    engine.extend("o2", secs(10)).unwrap();
    engine.extend("o2", secs(10)).unwrap();
    assert_eq!(engine.advance(secs(320)), Ok(0));
    assert_eq!(engine.advance(NS), Ok(1));
    assert_eq!(stock(&engine, "kettle"), (8, 0, 8));
}

#[test]
fn an_ended_hold_cannot_be_extended() {
    let engine = kettles(10);
    for order in ["confirmed", "cancelled", "expired"] {
        engine.block("kettle", 1, order, Some(secs(10))).unwrap();
    }
    engine.confirm("confirmed").unwrap();
    engine.cancel("cancelled").unwrap();
    engine.advance(secs(11)).unwrap();

    assert_eq!(engine.extend("confirmed", secs(60)), Err(Error::AlreadyConfirmed));
    assert_eq!(engine.extend("cancelled", secs(60)), Err(Error::AlreadyCancelled));
    assert_eq!(engine.extend("expired", secs(60)), Err(Error::Expired));
    assert_eq!(engine.extend("nobody", secs(60)), Err(Error::UnknownOrder));
    assert_eq!(state(&engine, "expired"), Ok(OrderState::Expired));
    assert_eq!(stock(&engine, "kettle"), (9, 0, 9));
}

#[test]
fn extending_at_the_deadline_succeeds_and_after_it_fails() {
    let engine = kettles(10);
    engine.block("kettle", 1, "o1", Some(secs(10))).unwrap();
    engine.block("kettle", 1, "o2", Some(secs(10))).unwrap();
    engine.advance(secs(10)).unwrap();
    assert_eq!(engine.extend("o1", NS).unwrap().since_start, secs(10) + NS);
    assert_eq!(engine.advance(NS), Ok(1));
    assert_eq!(engine.extend("o2", secs(60)), Err(Error::Expired));
    assert_eq!(engine.extend("o1", NS).unwrap().since_start, secs(10) + NS * 2);
    assert_eq!(engine.extend("o1", Duration::ZERO), Err(Error::InvalidDuration));
    assert_eq!(engine.extend("o1", Duration::MAX), Err(Error::Overflow));
    assert_eq!(stock(&engine, "kettle"), (10, 1, 9));
}

// ---- hold time ----------------------------------------------------------------

#[test]
fn the_engine_hold_time_applies_when_a_block_gives_none() {
    let engine = engine_with(|o| o.hold_time = secs(10));
    engine.add_product("kettle", "Kettle", 5).unwrap();
    assert_eq!(engine.block("kettle", 1, "o1", None).unwrap().since_start, secs(10));
    assert_eq!(engine.block("kettle", 1, "o2", Some(secs(3))).unwrap().since_start, secs(3));
    assert_eq!(engine.advance(secs(3) + NS), Ok(1));
    assert_eq!(engine.advance(secs(7)), Ok(1));
    assert_eq!(stock(&engine, "kettle"), (5, 0, 5));
}

// ---- close and the releaser ---------------------------------------------------

#[test]
fn a_closed_engine_refuses_everything_and_closes_twice() {
    let engine = kettles(5);
    engine.block("kettle", 1, "o1", None).unwrap();
    engine.advance(secs(1)).unwrap();
    engine.close();
    assert!(engine.is_closed());
    engine.close();
    assert!(engine.is_closed());

    let closed = ErrorCode::Closed;
    assert_eq!(code(engine.add_product("cup", "Cup", 1)), closed);
    assert_eq!(code(engine.product_name("kettle")), closed);
    assert_eq!(code(engine.available("kettle")), closed);
    assert_eq!(code(engine.stock("kettle")), closed);
    assert_eq!(code(engine.update_inventory("kettle", 1)), closed);
    assert_eq!(code(engine.block("kettle", 1, "o2", None)), closed);
    assert_eq!(code(engine.block_order("o2", &[Line::new("kettle", 1)], None)), closed);
    assert_eq!(code(engine.confirm("o1")), closed);
    assert_eq!(code(engine.cancel("o1")), closed);
    assert_eq!(code(engine.extend("o1", secs(1))), closed);
    assert_eq!(code(engine.status("o1")), closed);
    assert_eq!(code(engine.release_expired()), closed);
    assert_eq!(code(engine.advance(secs(1))), closed);
    assert_eq!(code(engine.start_releaser()), closed);
    assert!(!engine.has_releaser());
    // The clock still reads; it is not an operation on stock.
    assert_eq!(engine.now(), secs(1));
}

#[test]
fn a_closed_engine_answers_closed_whatever_else_is_wrong() {
    let engine = kettles(5);
    engine.close();
    let closed = ErrorCode::Closed;
    assert_eq!(code(engine.add_product("", "Cup", MAX_COUNT + 1)), closed);
    assert_eq!(code(engine.block("kettle", 0, "", None)), closed);
    assert_eq!(code(engine.update_inventory("nothing", 0)), closed);
    assert_eq!(code(engine.confirm(&"o".repeat(300))), closed);
    // A front door that refuses input itself is told the same.
    assert_eq!(engine.refuse(Error::InvalidQuantity).code(), closed);
    assert_eq!(engine.refuse(Error::InvalidUtf8).code(), closed);
}

#[test]
fn closing_stops_the_background_releaser() {
    let engine = Engine::new(Options::default()).unwrap();
    assert!(engine.has_releaser());
    engine.close();
    assert!(!engine.has_releaser());
    engine.close();
}

#[test]
fn start_releaser_does_nothing_on_the_manual_clock() {
    let engine = engine();
    engine.start_releaser().unwrap();
    assert!(!engine.has_releaser());
}

/// An order ended by a call is forgotten once its retention has run out,
/// and its id can be held again, with the background releaser and a live
/// hold an hour away (the unit test beside `Engine` checks that the call
/// wakes a releaser already asleep until that hour). Waits on the outcome,
/// not on a duration: the limit only stops a releaser that never wakes
/// from hanging the suite.
#[test]
fn the_releaser_forgets_ended_orders_when_their_retention_runs_out() {
    let options = Options {
        hold_time: secs(3600),
        retention: Duration::from_millis(1),
        ..Options::default()
    };
    let engine = Engine::new(options).unwrap();
    engine.add_product("kettle", "Kettle", 5).unwrap();
    engine.block("kettle", 1, "live", None).unwrap();
    engine.block("kettle", 1, "paid", None).unwrap();
    engine.block("kettle", 1, "failed", None).unwrap();
    engine.confirm("paid").unwrap();
    engine.cancel("failed").unwrap();
    // Asked by blocking again, which wakes nothing while it is refused.
    let give_up = std::time::Instant::now() + secs(30);
    for order in ["paid", "failed"] {
        while let Err(error) = engine.block("kettle", 1, order, None) {
            assert_eq!(error, Error::DuplicateOrder);
            assert!(std::time::Instant::now() < give_up, "{order} was never forgotten");
            std::thread::yield_now();
        }
    }
    assert_eq!(state(&engine, "live"), Ok(OrderState::Held));
}

#[test]
fn start_releaser_starts_one_thread_that_releases_on_its_own() {
    let options = Options { background_release: false, ..Options::default() };
    let engine = Engine::new(options).unwrap();
    assert!(!engine.has_releaser());
    engine.start_releaser().unwrap();
    engine.start_releaser().unwrap();
    assert!(engine.has_releaser());

    engine.add_product("kettle", "Kettle", 5).unwrap();
    engine.block("kettle", 5, "o1", Some(Duration::from_millis(1))).unwrap();
    // Wait on the outcome, not on a duration: the limit only stops a broken
    // releaser from hanging the suite.
    let give_up = std::time::Instant::now() + secs(30);
    while engine.available("kettle").unwrap() != 5 {
        assert!(std::time::Instant::now() < give_up, "the releaser never released o1");
        std::thread::yield_now();
    }
    assert_eq!(state(&engine, "o1"), Ok(OrderState::Expired));
}
