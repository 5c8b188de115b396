//! Turns arbitrary bytes into a sequence of C ABI calls on one engine and
//! checks, after every call, what must hold whatever the input:
//!
//! - every call returns a status the header defines, and never
//!   `SK_STATUS_INTERNAL` (which would mean a panic was caught at the
//!   boundary);
//! - every product this run could have added reads `0 <= reserved <=
//!   on_hand` and `available == on_hand - reserved`;
//! - the counters agree: live holds are the holds started less those ended;
//! - once the engine is closed, every call on it returns `SK_STATUS_CLOSED`,
//!   unless the boundary refused its arguments before reaching the engine.
//!
//! Shared by the cargo-fuzz target (tests/fuzz) and by the normal test that
//! replays the inputs kept under tests/fuzz/regressions, so a crash found by
//! fuzzing stays fixed.

use std::ptr;

use stockkeeper::ffi::*;
use stockkeeper::{ErrorCode, Metrics};

extern "C" {
    // Exported by the library but not reachable by a Rust path. The handle
    // is opaque, so it is declared as an untyped pointer.
    fn sk_engine_metrics(engine: *const std::ffi::c_void, out: *mut Metrics) -> SkStatus;
    fn sk_engine_refuse(engine: *const std::ffi::c_void, status: u32) -> SkStatus;
}

/// Ids most calls pick from, so that calls meet on the same products and
/// orders; the rest are arbitrary bytes from the input.
const PRODUCTS: [&[u8]; 3] = [b"p0", b"p1", b"p2"];
const ORDERS: [&[u8]; 3] = [b"o0", b"o1", b"o2"];

/// Reads the fuzz input front to back; past the end every read is zero.
struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&first, rest)) => {
                self.bytes = rest;
                first
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = rest;
        taken
    }

    fn u64(&mut self) -> u64 {
        let mut raw = [0u8; 8];
        let taken = self.take(8);
        raw[..taken.len()].copy_from_slice(taken);
        u64::from_le_bytes(raw)
    }

    /// A count: mostly small, sometimes one of the edges, sometimes any.
    fn count(&mut self) -> i64 {
        match self.byte() % 8 {
            0 => 0,
            1 => -1,
            2 => i64::MAX,
            3 => i64::MIN,
            4 => self.u64() as i64,
            _ => i64::from(self.byte() % 5),
        }
    }

    /// A duration in nanoseconds: mostly small, sometimes huge.
    fn nanos(&mut self) -> u64 {
        match self.byte() % 6 {
            0 => 0,
            1 => u64::MAX,
            2 => self.u64(),
            _ => u64::from(self.byte() % 20),
        }
    }

    /// An id or name: from `pool` mostly, else raw bytes (which may be
    /// empty, too long, not UTF-8 or hold a NUL), or a NULL pointer.
    fn text(&mut self, pool: &[&'a [u8]]) -> (*const u8, usize) {
        let choice = self.byte();
        match choice % 16 {
            0 => (ptr::null(), 0),
            1 => (ptr::null(), 1 + usize::from(self.byte())),
            2 => {
                let len = usize::from(self.byte() % 8);
                let raw = self.take(len);
                (raw.as_ptr(), raw.len())
            }
            3 => {
                // Up to 300 bytes: past the 256-byte id bound.
                let len = usize::from(self.byte()) + usize::from(self.byte() % 2) * 45;
                let raw = self.take(len);
                (raw.as_ptr(), raw.len())
            }
            _ => {
                let id = pool[usize::from(choice / 16) % pool.len()];
                (id.as_ptr(), id.len())
            }
        }
    }
}

/// Every status the header defines.
fn known(status: SkStatus) -> bool {
    let code = status as u32;
    matches!(code, 0..=3) || ErrorCode::ALL.iter().any(|c| *c as u32 == code)
}

struct Run {
    engine: *mut SkEngine,
    closed: bool,
}

impl Run {
    fn check_status(&self, call: &str, status: SkStatus) {
        assert!(known(status), "{call} returned an unknown status {}", status as u32);
        assert_ne!(status, SkStatus::Internal, "{call} panicked inside the library");
        // A closed engine refuses everything as closed, whatever else is
        // wrong with the call.
        if self.closed {
            assert_eq!(status, SkStatus::Closed, "{call} on a closed engine");
        }
    }

    /// The invariants every reader may rely on at any moment.
    fn check_invariants(&self) {
        for id in PRODUCTS {
            let mut stock = SkStock::default();
            // SAFETY: a live handle, a readable id and a writable out.
            let status =
                unsafe { sk_product_stock(self.engine, id.as_ptr(), id.len(), &mut stock) };
            self.check_status("sk_product_stock", status);
            if status == SkStatus::Ok {
                assert!(0 <= stock.reserved && stock.reserved <= stock.on_hand, "{stock:?}");
                assert_eq!(stock.available, stock.on_hand - stock.reserved, "{stock:?}");
            }
        }
        let mut metrics = std::mem::MaybeUninit::<Metrics>::zeroed();
        // SAFETY: a live handle and room for the counters.
        let status = unsafe { sk_engine_metrics(self.engine.cast(), metrics.as_mut_ptr()) };
        self.check_status("sk_engine_metrics", status);
        if status == SkStatus::Ok {
            // SAFETY: written on success.
            let m = unsafe { metrics.assume_init() };
            let ended = m.confirmed + m.cancelled + m.expired;
            assert_eq!(m.live_holds, m.held - ended, "{m:?}");
        }
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let engine = self.engine;
        // SAFETY, for every call below: the handle is live (closed or not,
        // it is freed only after the run), every pointer with a length is
        // NULL or points into the input or a constant for that many bytes,
        // and every out pointer is NULL or a local of the right type.
        let (call, status) = unsafe {
            match input.byte() % 16 {
                0 => {
                    let (id, id_len) = input.text(&PRODUCTS);
                    let (name, name_len) = input.text(&[b"name"]);
                    let on_hand = input.count();
                    ("sk_product_add", sk_product_add(engine, id, id_len, name, name_len, on_hand))
                }
                1 => {
                    let (id, len) = input.text(&PRODUCTS);
                    let mut available = 0;
                    ("sk_product_available", sk_product_available(engine, id, len, &mut available))
                }
                2 => {
                    let (id, len) = input.text(&PRODUCTS);
                    let delta = input.count();
                    let mut stock = SkStock::default();
                    ("sk_product_update", sk_product_update(engine, id, len, delta, &mut stock))
                }
                3 | 4 => {
                    let (order, order_len) = input.text(&ORDERS);
                    let (product, product_len) = input.text(&PRODUCTS);
                    let (quantity, hold) = (input.count(), input.nanos());
                    let mut deadline = SkDeadline::default();
                    let status = sk_order_block(
                        engine,
                        order,
                        order_len,
                        product,
                        product_len,
                        quantity,
                        hold,
                        &mut deadline,
                    );
                    ("sk_order_block", status)
                }
                5 => self.block_lines(input),
                6 => {
                    let (order, len) = input.text(&ORDERS);
                    ("sk_order_confirm", sk_order_confirm(engine, order, len))
                }
                7 => {
                    let (order, len) = input.text(&ORDERS);
                    ("sk_order_cancel", sk_order_cancel(engine, order, len))
                }
                8 => {
                    let (order, len) = input.text(&ORDERS);
                    let by = input.nanos();
                    let mut deadline = SkDeadline::default();
                    let out: *mut SkDeadline = match input.byte() % 2 {
                        0 => ptr::null_mut(),
                        _ => &mut deadline,
                    };
                    ("sk_order_extend", sk_order_extend(engine, order, len, by, out))
                }
                9 => self.status_and_lines(input),
                10 | 11 => {
                    let mut released = 0;
                    let by = input.nanos();
                    ("sk_engine_advance", sk_engine_advance(engine, by, &mut released))
                }
                12 => {
                    let mut released = 0;
                    ("sk_engine_release_expired", sk_engine_release_expired(engine, &mut released))
                }
                13 => {
                    let mut now = 0;
                    ("sk_engine_now", sk_engine_now(engine, &mut now))
                }
                14 => {
                    let (id, len) = input.text(&PRODUCTS);
                    let mut stock = SkStock::default();
                    ("sk_product_stock", sk_product_stock(engine, id, len, &mut stock))
                }
                _ => {
                    // Rarely: closing ends the engine for the rest of the run.
                    let pick = input.byte();
                    if pick < 16 {
                        // Closing twice is fine, so this one call answers Ok
                        // on a closed engine.
                        assert_eq!(sk_engine_close(engine), SkStatus::Ok);
                        self.closed = true;
                        return;
                    }
                    if pick < 48 {
                        // A wrapper's refusal: any number, most of them near
                        // the defined ones. A refusal the metrics count comes
                        // back as it is, any other number as out of range,
                        // and everything as closed on a closed engine.
                        let status = match pick < 40 {
                            true => input.u64() as u32 % 512,
                            false => input.u64() as u32,
                        };
                        let counted = ErrorCode::ALL.iter().any(|code| *code as u32 == status)
                            && !matches!(status, 301 | 401 | 402);
                        let expected = match (self.closed, counted) {
                            (true, _) => SkStatus::Closed as u32,
                            (false, true) => status,
                            (false, false) => SkStatus::OutOfRange as u32,
                        };
                        let refused = sk_engine_refuse(engine.cast(), status);
                        assert_eq!(refused as u32, expected, "sk_engine_refuse({status})");
                        ("sk_engine_refuse", refused)
                    } else if pick < 64 {
                        self.block_many(input)
                    } else if pick < 80 {
                        self.confirm_many(input)
                    } else {
                        let (id, len) = input.text(&ORDERS);
                        ("sk_order_cancel", sk_order_cancel(engine, id, len))
                    }
                }
            }
        };
        self.check_status(call, status);
    }

    fn block_lines(&mut self, input: &mut Input<'_>) -> (&'static str, SkStatus) {
        let (order, order_len) = input.text(&ORDERS);
        let count = usize::from(input.byte() % 5);
        let lines: Vec<SkLine> = (0..count)
            .map(|_| {
                let (product, product_len) = input.text(&PRODUCTS);
                SkLine { product, product_len, quantity: input.count() }
            })
            .collect();
        // A NULL array with a count, now and then, must be refused cleanly.
        let (array, count) = match input.byte() % 8 {
            0 => (ptr::null(), count),
            _ => (if lines.is_empty() { ptr::null() } else { lines.as_ptr() }, count),
        };
        let hold = input.nanos();
        let mut failed_line = usize::MAX;
        let mut deadline = SkDeadline::default();
        // SAFETY: as in `step`; `array` is NULL or holds `count` lines.
        let status = unsafe {
            sk_order_block_lines(
                self.engine,
                order,
                order_len,
                array,
                count,
                hold,
                &mut deadline,
                &mut failed_line,
            )
        };
        assert!(failed_line == usize::MAX || failed_line < count.max(1), "{failed_line}");
        ("sk_order_block_lines", status)
    }

    fn block_many(&mut self, input: &mut Input<'_>) -> (&'static str, SkStatus) {
        // Up to 23 requests: past the distance the batch is read ahead.
        let requests: Vec<SkBlockRequest> = (0..input.byte() % 24)
            .map(|_| {
                let (order, order_len) = input.text(&ORDERS);
                let (product, product_len) = input.text(&PRODUCTS);
                SkBlockRequest { order, order_len, product, product_len, quantity: input.count() }
            })
            .collect();
        let hold = input.nanos();
        let mut statuses = vec![SkStatus::Internal; requests.len()];
        let mut deadlines = vec![SkDeadline::default(); requests.len()];
        let deadlines = match input.byte() % 2 {
            0 => ptr::null_mut(),
            _ => deadlines.as_mut_ptr(),
        };
        // SAFETY: as in `step`; the arrays hold `requests.len()` elements.
        let status = unsafe {
            sk_order_block_many(
                self.engine,
                requests.as_ptr(),
                requests.len(),
                hold,
                statuses.as_mut_ptr(),
                deadlines,
            )
        };
        self.check_batch("sk_order_block_many", status, &statuses);
        ("sk_order_block_many", status)
    }

    fn confirm_many(&mut self, input: &mut Input<'_>) -> (&'static str, SkStatus) {
        let orders: Vec<SkText> = (0..input.byte() % 24)
            .map(|_| {
                let (data, len) = input.text(&ORDERS);
                SkText { data, len }
            })
            .collect();
        let mut statuses = vec![SkStatus::Internal; orders.len()];
        // SAFETY: as in `step`; the arrays hold `orders.len()` elements.
        let status = unsafe {
            sk_order_confirm_many(self.engine, orders.as_ptr(), orders.len(), statuses.as_mut_ptr())
        };
        self.check_batch("sk_order_confirm_many", status, &statuses);
        ("sk_order_confirm_many", status)
    }

    /// A batch ran every request (each status written, as a single call
    /// answers) or, on a closed engine, none.
    fn check_batch(&self, call: &str, status: SkStatus, statuses: &[SkStatus]) {
        match status {
            SkStatus::Ok => statuses.iter().for_each(|&each| self.check_status(call, each)),
            // One thread runs the calls: a batch never meets a close midway.
            SkStatus::Closed => {
                assert!(self.closed, "{call} answered closed on an open engine");
                assert!(statuses.iter().all(|&each| each == SkStatus::Internal));
            }
            other => panic!("{call} returned {other:?}"),
        }
    }

    fn status_and_lines(&mut self, input: &mut Input<'_>) -> (&'static str, SkStatus) {
        let (order, order_len) = input.text(&ORDERS);
        let mut info = std::mem::MaybeUninit::<SkOrderInfo>::uninit();
        // SAFETY: as in `step`.
        let status = unsafe { sk_order_status(self.engine, order, order_len, info.as_mut_ptr()) };
        if status != SkStatus::Ok {
            return ("sk_order_status", status);
        }
        // SAFETY: written on success.
        let info = unsafe { info.assume_init() };
        let cap = usize::from(input.byte() % 4);
        for index in 0..=info.line_count {
            let mut buf = [0u8; 4];
            let (mut len, mut quantity) = (0usize, 0i64);
            // SAFETY: as in `step`; `buf` is writable for `cap` bytes.
            let status = unsafe {
                sk_order_line(
                    self.engine,
                    order,
                    order_len,
                    index,
                    buf.as_mut_ptr(),
                    cap,
                    &mut len,
                    &mut quantity,
                )
            };
            self.check_status("sk_order_line", status);
            match status {
                SkStatus::Ok => assert!(len <= cap && quantity > 0),
                SkStatus::BufferTooSmall => assert!(len > cap && len <= 256),
                SkStatus::OutOfRange => assert_eq!(index, info.line_count),
                _ => {}
            }
        }
        // The whole order in one call, with room the input picks: none, too
        // little or enough.
        let (line_cap, ids_cap) = (usize::from(input.byte() % 4), usize::from(input.byte()) * 4);
        let mut views = vec![SkLineView::default(); line_cap];
        let mut ids = vec![0u8; ids_cap];
        let (mut count, mut ids_len) = (0usize, 0usize);
        let (views_ptr, ids_ptr) = match (line_cap, ids_cap) {
            (0, 0) => (ptr::null_mut(), ptr::null_mut()),
            _ => (views.as_mut_ptr(), ids.as_mut_ptr()),
        };
        let mut whole = std::mem::MaybeUninit::<SkOrderInfo>::uninit();
        // SAFETY: as in `step`; the buffers are NULL with no room, or hold
        // line_cap lines and ids_cap bytes.
        let read = unsafe {
            sk_order_read(
                self.engine,
                order,
                order_len,
                whole.as_mut_ptr(),
                views_ptr,
                line_cap,
                ids_ptr,
                ids_cap,
                &mut count,
                &mut ids_len,
            )
        };
        self.check_status("sk_order_read", read);
        match read {
            SkStatus::Ok => {
                assert!(count <= line_cap && ids_len <= ids_cap && count > 0);
                let last = &views[count - 1];
                assert_eq!(last.product_offset + last.product_len, ids_len, "ids end to end");
                assert!(views[..count].iter().all(|v| v.quantity > 0));
            }
            SkStatus::BufferTooSmall => assert!(count > line_cap || ids_len > ids_cap),
            _ => {}
        }
        ("sk_order_status", status)
    }
}

/// Runs the calls `bytes` decode to on a new engine on the manual clock,
/// checking the invariants after each, then frees the engine.
pub fn run(bytes: &[u8]) {
    let mut input = Input { bytes };
    let mut options = std::mem::MaybeUninit::<SkOptions>::uninit();
    // SAFETY: a writable out.
    assert_eq!(unsafe { sk_options_default(options.as_mut_ptr()) }, SkStatus::Ok);
    // SAFETY: written on success.
    let mut options = unsafe { options.assume_init() };
    options.manual_clock = true;
    options.background_release = false;
    options.hold_time_ns = 1 + u64::from(input.byte() % 16);
    options.max_remembered = u64::from(input.byte() % 4);
    options.retention_ns = u64::from(input.byte() % 32);
    let mut engine = ptr::null_mut();
    // SAFETY: readable options and a writable out.
    assert_eq!(unsafe { sk_engine_new(&options, &mut engine) }, SkStatus::Ok);

    // Most runs start with stock, so that blocks get past the unknown ids.
    for id in PRODUCTS {
        let on_hand = i64::from(input.byte() % 6);
        // SAFETY: a live handle and readable ids and name.
        let status =
            unsafe { sk_product_add(engine, id.as_ptr(), id.len(), id.as_ptr(), 2, on_hand) };
        assert_eq!(status, SkStatus::Ok);
    }

    let mut run = Run { engine, closed: false };
    for _ in 0..256 {
        if input.bytes.is_empty() {
            break;
        }
        run.step(&mut input);
        run.check_invariants();
    }
    // SAFETY: from sk_engine_new, freed once, no other user.
    unsafe { sk_engine_free(engine) };
}
