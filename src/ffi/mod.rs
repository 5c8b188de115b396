//! The C ABI: `extern "C"` functions over an opaque engine handle.
//!
//! Conventions, the same for every function (the README states them for C
//! users):
//! - every symbol is `sk_<object>_<verb>`; `sk_engine_new` pairs with
//!   `sk_engine_free`, and `sk_engine_free(NULL)` does nothing;
//! - every fallible function returns an [`SkStatus`]; `SK_STATUS_OK` is zero;
//! - strings come in as pointer + length, are borrowed for the call only and
//!   need no NUL terminator; they must be UTF-8; NULL with length 0 is the
//!   empty string;
//! - outputs go through pointers the caller owns and are written only on
//!   success (but for a buffer's needed size, the line a multi-line block
//!   blames and the statuses a batch closed midway writes); a required
//!   output that is NULL is refused before anything changes; a call's
//!   outputs and buffers must not overlap one another or its inputs, as if
//!   each pointer were `restrict`;
//! - counts are `int64_t` from 0 to `INT64_MAX`; durations are nanoseconds in
//!   `uint64_t`;
//! - one handle may be used from any number of threads at once; after
//!   `sk_engine_close` every call on it returns `SK_STATUS_CLOSED`, and only
//!   `sk_engine_free` must not race other calls on the same handle;
//! - no Rust panic crosses the boundary: a panic is caught and reported as
//!   `SK_STATUS_INTERNAL`.

mod args;
mod batch;
mod observe;
mod status;

use std::ffi::c_char;
use std::time::{Duration, UNIX_EPOCH};

use self::args::{
    block_ids, call, engine_and_text, engine_of, handle_of, line_args, optional, order_text,
    product_args, read_by_id, refused_input, required, text_for,
};
pub use self::batch::{
    sk_order_block_many, sk_order_confirm_many, sk_product_add_many, SkBlockRequest,
    SkProductRequest,
};
pub use self::observe::{SkEvent, SkEventCallback, SkEventKind, SkEventLine, SkText};
pub use self::status::SkStatus;
use crate::clock::ClockKind;
use crate::engine::{Engine, Options};
use crate::error::Error;
use crate::order::{Deadline, OrderState, OrderStatus, Stock};
use crate::validate::{quantity_for_engine, summed_past_max};

/// An engine. Opaque: reached only through pointers the library hands out.
pub struct SkEngine {
    engine: Engine,
}

/// How to set up an engine. Fill it with `sk_options_default` first, then
/// change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkOptions {
    /// Hold time when a block gives none, in nanoseconds; must be above zero
    /// and at most `INT64_MAX` (`SK_STATUS_OVERFLOW` past it).
    pub hold_time_ns: u64,
    /// How long ended orders are remembered, in nanoseconds.
    pub retention_ns: u64,
    /// The most ended orders remembered at once.
    pub max_remembered: u64,
    /// Run on a clock that only `sk_engine_advance` moves (for tests).
    pub manual_clock: bool,
    /// Release expired holds on a background thread. Without it, call
    /// `sk_engine_release_expired`; with the manual clock no thread runs.
    pub background_release: bool,
}

/// A product's three numbers.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SkStock {
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// When a hold runs out.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SkDeadline {
    /// On the engine's monotonic clock: nanoseconds since the engine started.
    pub since_start_ns: u64,
    /// The same instant as nanoseconds since the Unix epoch on the wall
    /// clock, as it stood when the engine started. For display only. An
    /// instant past what 64 signed bits of nanoseconds hold (April 2262)
    /// reads `INT64_MAX`, as a hold extended by close to `UINT64_MAX` may.
    pub wall_unix_ns: i64,
}

/// One line of an order to block.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkLine {
    pub product: *const u8,
    pub product_len: usize,
    pub quantity: i64,
}

/// Where an order stands.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkOrderState {
    Held = 1,
    Confirmed = 2,
    Cancelled = 3,
    Expired = 4,
}

/// An order's state, how many lines it has and its deadline. Read the lines
/// with `sk_order_line`, or everything at once with `sk_order_read`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkOrderInfo {
    pub state: SkOrderState,
    pub line_count: usize,
    pub deadline: SkDeadline,
}

impl From<&OrderStatus> for SkOrderInfo {
    fn from(status: &OrderStatus) -> SkOrderInfo {
        SkOrderInfo {
            state: status.state.into(),
            line_count: status.lines.len(),
            deadline: status.deadline.into(),
        }
    }
}

/// One line of an order read by `sk_order_read`: its product id is
/// `product_len` bytes at `product_offset` in the ids buffer of that call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SkLineView {
    pub product_offset: usize,
    pub product_len: usize,
    pub quantity: i64,
}

impl From<Stock> for SkStock {
    fn from(stock: Stock) -> SkStock {
        // Counts never pass MAX_COUNT, which is i64::MAX.
        SkStock {
            on_hand: stock.on_hand as i64,
            reserved: stock.reserved as i64,
            available: stock.available as i64,
        }
    }
}

impl From<Deadline> for SkDeadline {
    fn from(deadline: Deadline) -> SkDeadline {
        let wall = deadline.wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        SkDeadline {
            since_start_ns: deadline.since_start.as_nanos() as u64,
            wall_unix_ns: i64::try_from(wall.as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

impl From<OrderState> for SkOrderState {
    fn from(state: OrderState) -> SkOrderState {
        match state {
            OrderState::Held => SkOrderState::Held,
            OrderState::Confirmed => SkOrderState::Confirmed,
            OrderState::Cancelled => SkOrderState::Cancelled,
            OrderState::Expired => SkOrderState::Expired,
        }
    }
}

fn default_options() -> SkOptions {
    let options = Options::default();
    SkOptions {
        hold_time_ns: options.hold_time.as_nanos() as u64,
        retention_ns: options.retention.as_nanos() as u64,
        max_remembered: options.max_remembered as u64,
        manual_clock: false,
        background_release: options.background_release,
    }
}

/// A hold time of zero means the engine's default.
fn hold_time(hold_time_ns: u64) -> Option<Duration> {
    (hold_time_ns > 0).then(|| Duration::from_nanos(hold_time_ns))
}

/// Writes the default options into `*out`.
///
/// # Safety
/// `out` must be NULL or point to writable memory for an `sk_options`.
#[no_mangle]
pub unsafe extern "C" fn sk_options_default(out: *mut SkOptions) -> SkStatus {
    call(|| {
        let out = required(out)?;
        *out = default_options();
        Ok(())
    })
}

/// Starts an engine and writes its handle into `*out`. `options` may be NULL
/// for the defaults. Fails with `SK_STATUS_INVALID_DURATION` for a zero hold
/// time, and with `SK_STATUS_CLOSED` when the operating system refuses the
/// background releaser's thread; no engine is made then.
///
/// # Safety
/// `options` must be NULL or point to an `sk_options`; `out` must be NULL or
/// point to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_new(
    options: *const SkOptions,
    out: *mut *mut SkEngine,
) -> SkStatus {
    call(|| {
        let out = required(out)?;
        // SAFETY: options is NULL or readable, as the caller vouches; it is
        // only read, so it may live in read-only memory.
        let given = match unsafe { options.as_ref() } {
            Some(options) => *options,
            None => default_options(),
        };
        let options = Options {
            hold_time: Duration::from_nanos(given.hold_time_ns),
            retention: Duration::from_nanos(given.retention_ns),
            max_remembered: usize::try_from(given.max_remembered).unwrap_or(usize::MAX),
            clock: if given.manual_clock { ClockKind::Manual } else { ClockKind::System },
            background_release: given.background_release,
        };
        let engine = Engine::new(options)?;
        *out = Box::into_raw(Box::new(SkEngine { engine }));
        Ok(())
    })
}

/// Closes an engine: stops and joins its releaser thread, waits for the
/// calls in progress on other threads to finish, delivers their events and
/// the others already queued, and stops its notifier thread; every later
/// call on the handle returns `SK_STATUS_CLOSED`. Last, it frees every
/// product and order: the handle then keeps a few kilobytes until
/// `sk_engine_free`. It returns once all that is done, also when another
/// thread is closing the same engine: from then on no call changes the
/// engine. Freeing the handle still needs every other
/// thread out of every call on it: a call only just begun may read the
/// handle before a close can count it, and a close never waits for
/// `sk_engine_flush_events` or `sk_engine_unsubscribe`. Called from inside an
/// event
/// callback it cannot wait for the thread it runs on: it waits for the calls
/// in progress, stops the engine and returns, and queued events are still
/// delivered until a close from another thread, or `sk_engine_free`, waits
/// for them. Closing twice is fine. The handle stays valid until
/// `sk_engine_free`.
///
/// # Safety
/// `engine` must be NULL or a handle from `sk_engine_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_close(engine: *mut SkEngine) -> SkStatus {
    call(|| {
        handle_of(engine)?.close();
        Ok(())
    })
}

/// Closes (if needed) and frees an engine. NULL is ignored. The close comes
/// first, as `sk_engine_close`: it waits for the engine's callbacks, which
/// may still call the engine meanwhile (and are told `SK_STATUS_CLOSED`).
///
/// # Safety
/// `engine` must be NULL or a handle from `sk_engine_new` not yet freed. No
/// other thread may call it (but the engine's own callbacks, until the close
/// has waited for them), nor may any once this returns. It must not be
/// called from one of the engine's callbacks.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_free(engine: *mut SkEngine) {
    if engine.is_null() {
        return;
    }
    // Closing and dropping join threads; a panic there must not unwind into C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // The close goes through a shared reference: callbacks still running
        // may reach the engine until it has waited for them.
        // SAFETY: a live handle, as the caller vouches.
        unsafe { &*engine }.engine.close();
        // SAFETY: the caller hands back a pointer from Box::into_raw in
        // sk_engine_new, once; the close left no other user.
        drop(unsafe { Box::from_raw(engine) });
    }));
}

/// Starts the background releaser if it is not running (nothing on the
/// manual clock). Fails with `SK_STATUS_CLOSED` on a closed engine, and also
/// when the operating system refuses the thread: the engine stays open then.
///
/// # Safety
/// `engine` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_start_releaser(engine: *mut SkEngine) -> SkStatus {
    call(|| Ok(engine_of(engine)?.start_releaser()?))
}

/// Releases every hold whose deadline has passed; writes how many into
/// `*released` when it is not NULL.
///
/// # Safety
/// `engine` must be NULL or a live handle; `released` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_release_expired(
    engine: *mut SkEngine,
    released: *mut u64,
) -> SkStatus {
    call(|| {
        let count = engine_of(engine)?.release_expired()?;
        if let Some(out) = optional(released) {
            *out = count as u64;
        }
        Ok(())
    })
}

/// Moves the manual clock forward by `by_ns` and releases what fell due;
/// writes how many holds it released into `*released` when not NULL. Fails
/// with `SK_STATUS_CLOCK_NOT_MANUAL` on the system clock.
///
/// # Safety
/// `engine` must be NULL or a live handle; `released` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_advance(
    engine: *mut SkEngine,
    by_ns: u64,
    released: *mut u64,
) -> SkStatus {
    call(|| {
        let count = engine_of(engine)?.advance(Duration::from_nanos(by_ns))?;
        if let Some(out) = optional(released) {
            *out = count as u64;
        }
        Ok(())
    })
}

/// Writes the engine's time, nanoseconds since it started, into `*out`.
///
/// # Safety
/// `engine` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_now(engine: *const SkEngine, out: *mut u64) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        *required(out)? = engine.now().as_nanos() as u64;
        Ok(())
    })
}

/// Adds a product with `on_hand` units.
///
/// # Safety
/// `engine` must be NULL or a live handle; `id` and `name` NULL or readable
/// for their lengths.
#[no_mangle]
pub unsafe extern "C" fn sk_product_add(
    engine: *mut SkEngine,
    id: *const u8,
    id_len: usize,
    name: *const u8,
    name_len: usize,
    on_hand: i64,
) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let (id, name, on_hand) = product_args(id, id_len, name, name_len, on_hand)
            .map_err(|status| refused_input(&engine, status))?;
        Ok(engine.add_product(id, name, on_hand)?)
    })
}

/// Writes the product's available units into `*out`.
///
/// # Safety
/// `engine` must be NULL or a live handle; `id` NULL or readable for
/// `id_len` bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_product_available(
    engine: *const SkEngine,
    id: *const u8,
    id_len: usize,
    out: *mut i64,
) -> SkStatus {
    read_by_id(engine, id, id_len, out, |engine, id| Ok(engine.available(id)? as i64))
}

/// Writes the product's on_hand, reserved and available into `*out`.
///
/// # Safety
/// As `sk_product_available`.
#[no_mangle]
pub unsafe extern "C" fn sk_product_stock(
    engine: *const SkEngine,
    id: *const u8,
    id_len: usize,
    out: *mut SkStock,
) -> SkStatus {
    read_by_id(engine, id, id_len, out, |engine, id| Ok(engine.stock(id)?.into()))
}

/// Restocks (`delta > 0`) or corrects (`delta < 0`) a product; writes the
/// stock after the change into `*out` when it is not NULL. A correction may
/// not take available below zero (`SK_STATUS_INSUFFICIENT_STOCK`); a restock
/// past `SK_MAX_COUNT`, or a correction of `INT64_MIN` (more than any count
/// can be), is `SK_STATUS_OVERFLOW`.
///
/// # Safety
/// As `sk_product_available`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_product_update(
    engine: *mut SkEngine,
    id: *const u8,
    id_len: usize,
    delta: i64,
    out: *mut SkStock,
) -> SkStatus {
    call(|| {
        let (engine, id) = engine_and_text(engine, id, id_len)?;
        let stock = engine.update_inventory(id, delta)?;
        if let Some(out) = optional(out) {
            *out = stock.into();
        }
        Ok(())
    })
}

/// Holds `quantity` units of one product for an order, for `hold_time_ns`
/// (zero: the engine's default). Writes the deadline into `*out` when not
/// NULL.
///
/// # Safety
/// `engine` must be NULL or a live handle; `order` and `product` NULL or
/// readable for their lengths; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_order_block(
    engine: *mut SkEngine,
    order: *const u8,
    order_len: usize,
    product: *const u8,
    product_len: usize,
    quantity: i64,
    hold_time_ns: u64,
    out: *mut SkDeadline,
) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let input = || block_ids(order, order_len, product, product_len);
        let quantity = quantity_for_engine(quantity);
        let (order, product) = input().map_err(|status| refused_input(&engine, status))?;
        let deadline = engine.block(product, quantity, order, hold_time(hold_time_ns))?;
        if let Some(out) = optional(out) {
            *out = deadline.into();
        }
        Ok(())
    })
}

/// Holds every line of an order, or none (lines naming one product are
/// summed). When a line is at fault and `failed_line` is not NULL, its index
/// is written there. The order is checked in steps, and the first step that
/// fails gives the status, and the line if it is a line's fault: the order
/// id (no line); no lines at all (`SK_STATUS_INVALID_QUANTITY`, no line); a
/// bad product id or quantity (the first bad line); a product whose lines
/// sum past `SK_MAX_COUNT` (`SK_STATUS_OVERFLOW`); a deadline past the
/// clock's range (`SK_STATUS_OVERFLOW`, no line); an unknown product; a
/// duplicate order id (no line); too little stock. For the three about a
/// product, the line is the first naming the lowest id at fault in that
/// step. Otherwise as `sk_order_block`.
///
/// # Safety
/// `lines` must be NULL (with a `line_count` of 0, no lines) or point to
/// `line_count` readable `sk_line`s whose products are readable for their
/// lengths; `failed_line` NULL or writable;
/// the rest as `sk_order_block`.
#[no_mangle]
pub unsafe extern "C" fn sk_order_block_lines(
    engine: *mut SkEngine,
    order: *const u8,
    order_len: usize,
    lines: *const SkLine,
    line_count: usize,
    hold_time_ns: u64,
    out: *mut SkDeadline,
    failed_line: *mut usize,
) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let input = || {
            let order = order_text(order, order_len)?;
            Ok((order, line_args(lines, line_count, failed_line)?))
        };
        let (order, lines) = input().map_err(|status| refused_input(&engine, status))?;
        let deadline =
            engine.block_order(order, &lines, hold_time(hold_time_ns)).inspect_err(|error| {
                let product = match error {
                    Error::Overflow => summed_past_max(&lines),
                    other => other.product(),
                };
                let at_fault = product.and_then(|id| lines.iter().position(|l| l.product == id));
                if let (Some(index), Some(out)) = (at_fault, optional(failed_line)) {
                    *out = index;
                }
            })?;
        if let Some(out) = optional(out) {
            *out = deadline.into();
        }
        Ok(())
    })
}

/// Confirms a held order. Fails with `SK_STATUS_EXPIRED` once its deadline has
/// passed, even if no release has run yet.
///
/// # Safety
/// `engine` must be NULL or a live handle; `order` NULL or readable for
/// `order_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sk_order_confirm(
    engine: *mut SkEngine,
    order: *const u8,
    order_len: usize,
) -> SkStatus {
    call(|| {
        let (engine, order) = engine_and_text(engine, order, order_len)?;
        Ok(engine.confirm(order)?)
    })
}

/// Cancels a held order: its units go back to available.
///
/// # Safety
/// As `sk_order_confirm`.
#[no_mangle]
pub unsafe extern "C" fn sk_order_cancel(
    engine: *mut SkEngine,
    order: *const u8,
    order_len: usize,
) -> SkStatus {
    call(|| {
        let (engine, order) = engine_and_text(engine, order, order_len)?;
        Ok(engine.cancel(order)?)
    })
}

/// Moves a live hold's deadline `by_ns` later; writes the new deadline into
/// `*out` when not NULL.
///
/// # Safety
/// As `sk_order_confirm`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_order_extend(
    engine: *mut SkEngine,
    order: *const u8,
    order_len: usize,
    by_ns: u64,
    out: *mut SkDeadline,
) -> SkStatus {
    call(|| {
        let (engine, order) = engine_and_text(engine, order, order_len)?;
        let deadline = engine.extend(order, Duration::from_nanos(by_ns))?;
        if let Some(out) = optional(out) {
            *out = deadline.into();
        }
        Ok(())
    })
}

/// Writes an order's state, line count and deadline into `*out`. A held
/// order found past its deadline is expired by the call, as by a confirm.
///
/// # Safety
/// As `sk_order_confirm`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_order_status(
    engine: *const SkEngine,
    order: *const u8,
    order_len: usize,
    out: *mut SkOrderInfo,
) -> SkStatus {
    read_by_id(engine, order, order_len, out, |engine, order| Ok((&engine.status(order)?).into()))
}

/// Copies line `index` of an order (lines are sorted by product id): the
/// product id into `product_buf` (`product_cap` bytes, no NUL added), its
/// length into `*product_len` and the quantity into `*quantity`. Fails with
/// `SK_STATUS_BUFFER_TOO_SMALL` when the id does not fit, writing only the
/// length needed into `*product_len` (never more than `SK_MAX_ID_BYTES`), and
/// `SK_STATUS_OUT_OF_RANGE` when `index` is past the last line. A NULL
/// `product_buf` with a `product_cap` of 0 asks for the length alone, as
/// with `sk_engine_metrics_text`. Expires a held order found past its
/// deadline, as `sk_order_status` does.
///
/// # Safety
/// As `sk_order_confirm`; `product_buf` NULL or writable for `product_cap`
/// bytes; `product_len` and `quantity` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_order_line(
    engine: *const SkEngine,
    order: *const u8,
    order_len: usize,
    index: usize,
    product_buf: *mut u8,
    product_cap: usize,
    product_len: *mut usize,
    quantity: *mut i64,
) -> SkStatus {
    call(|| {
        // A closed engine answers as closed before a missing output.
        let engine = engine_of(engine)?;
        let len_out = required(product_len)?;
        let quantity_out = required(quantity)?;
        if product_buf.is_null() && product_cap != 0 {
            return Err(SkStatus::NullArgument);
        }
        let order = text_for(&engine, order, order_len)?;
        let status = engine.status(order)?;
        let (product, units) = status.lines.get(index).ok_or(SkStatus::OutOfRange)?;
        if product.len() > product_cap {
            *len_out = product.len();
            return Err(SkStatus::BufferTooSmall);
        }
        // SAFETY: the caller vouches for product_cap writable bytes at
        // product_buf, and the id is no longer than that.
        unsafe { std::ptr::copy_nonoverlapping(product.as_ptr(), product_buf, product.len()) };
        *len_out = product.len();
        *quantity_out = *units as i64;
        Ok(())
    })
}

/// Reads an order whole, as it stood at one moment: its state, line count
/// and deadline into `*info`, its lines (sorted by product id) into `lines`,
/// room for `line_cap`, and their product ids one after another into `ids`,
/// `ids_cap` bytes, no NUL added; each line gives its id's offset and length
/// there. Writes how many lines and id bytes the order has into
/// `*line_count` and `*ids_len`. When either does not fit, fails with
/// `SK_STATUS_BUFFER_TOO_SMALL` and writes only those two: call again with
/// that much room. (NULL, 0) for `lines` or `ids` asks for the sizes alone.
/// Expires a held order found past its deadline, as `sk_order_status` does.
///
/// Unlike `sk_order_status` then `sk_order_line`, the lines always belong to
/// the order the state describes, even when its id is forgotten and used
/// again between calls (possible with a short retention or a small bound on
/// remembered orders); a second call after `SK_STATUS_BUFFER_TOO_SMALL` may
/// find another order, and may ask for more room again.
///
/// # Safety
/// As `sk_order_confirm`; `info`, `line_count` and `ids_len` NULL or
/// writable; `lines` NULL or writable for `line_cap` lines; `ids` NULL or
/// writable for `ids_cap` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments, reason = "a C function's buffers and lengths")]
pub unsafe extern "C" fn sk_order_read(
    engine: *const SkEngine,
    order: *const u8,
    order_len: usize,
    info: *mut SkOrderInfo,
    lines: *mut SkLineView,
    line_cap: usize,
    ids: *mut u8,
    ids_cap: usize,
    line_count: *mut usize,
    ids_len: *mut usize,
) -> SkStatus {
    call(|| {
        // A closed engine answers as closed before a missing output.
        let engine = engine_of(engine)?;
        let info = required(info)?;
        let (count_out, ids_len_out) = (required(line_count)?, required(ids_len)?);
        if (lines.is_null() && line_cap != 0) || (ids.is_null() && ids_cap != 0) {
            return Err(SkStatus::NullArgument);
        }
        let order = text_for(&engine, order, order_len)?;
        let status = engine.status(order)?;
        let id_bytes: usize = status.lines.iter().map(|(product, _)| product.len()).sum();
        *count_out = status.lines.len();
        *ids_len_out = id_bytes;
        if status.lines.len() > line_cap || id_bytes > ids_cap {
            return Err(SkStatus::BufferTooSmall);
        }
        let mut offset = 0;
        for (index, (product, quantity)) in status.lines.iter().enumerate() {
            let line = SkLineView {
                product_offset: offset,
                product_len: product.len(),
                // Counts never pass MAX_COUNT, which is i64::MAX.
                quantity: *quantity as i64,
            };
            // SAFETY: the caller vouches for line_cap writable lines and
            // ids_cap writable bytes; index < line_cap, and the ids written
            // end at id_bytes <= ids_cap.
            unsafe {
                lines.add(index).write(line);
                std::ptr::copy_nonoverlapping(product.as_ptr(), ids.add(offset), product.len());
            }
            offset += product.len();
        }
        *info = (&status).into();
        Ok(())
    })
}

/// A NUL-terminated, static English sentence for a status code; an unknown
/// code gets a sentence saying so. Never NULL; never free it.
#[no_mangle]
pub extern "C" fn sk_status_message(status: u32) -> *const c_char {
    status::message(status).as_ptr()
}

/// The stable snake_case name of a status code (`"insufficient_stock"`), the
/// same name every front door uses; `"unknown_status"` for an unknown code.
/// Never NULL; never free it.
#[no_mangle]
pub extern "C" fn sk_status_name(status: u32) -> *const c_char {
    status::name(status).as_ptr()
}

/// The library's version, as a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn sk_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
