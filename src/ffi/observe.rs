//! Metrics and notifications through the C ABI.

use std::ffi::c_void;

use super::args::{
    call, can_be_array, engine_of, handle_of, optional, read_by_id, required, text_for,
};
use super::{SkEngine, SkOrderState, SkStatus};
use crate::error::ErrorCode;
use crate::metrics::{counts_refusal, Metrics, ProductOutcomes};
use crate::notify::SubscriptionId;
use crate::order::Event;

/// A borrowed string: pointer + length, UTF-8, no NUL needed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkText {
    pub data: *const u8,
    pub len: usize,
}

/// What an event is about.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkEventKind {
    /// A hold ended; `state` says how.
    HoldEnded = 1,
    /// A product's available stock reached zero.
    SoldOut = 2,
}

/// One line of an ended hold.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkEventLine {
    pub product: *const u8,
    pub product_len: usize,
    pub quantity: i64,
}

/// An event as a callback sees it. Every pointer in it is valid only until
/// the callback returns; copy what you keep.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkEvent {
    pub kind: SkEventKind,
    /// For `SK_EVENT_KIND_HOLD_ENDED`, an `sk_order_state` value; 0 otherwise.
    pub state: u32,
    /// The order, for `SK_EVENT_KIND_HOLD_ENDED`; NULL and 0 otherwise.
    pub order: *const u8,
    pub order_len: usize,
    /// The product, for `SK_EVENT_KIND_SOLD_OUT`; NULL and 0 otherwise.
    pub product: *const u8,
    pub product_len: usize,
    /// The ended hold's lines; NULL and 0 for other kinds.
    pub lines: *const SkEventLine,
    pub line_count: usize,
}

/// A function the engine calls with each event, on its notifier thread (one
/// thread per engine, never the caller's), never while it holds a lock.
/// It may call back into the engine, except `sk_engine_free`. It must not
/// unwind (no C++ exception or longjmp out of it). A callback that closes or
/// flushes another engine waits for that engine's notifier thread: if that
/// engine's callbacks may close or flush this one, the two wait for each
/// other for ever.
pub type SkEventCallback =
    Option<unsafe extern "C" fn(event: *const SkEvent, user_data: *mut c_void)>;

/// Writes a snapshot of the engine's counters into `*out`.
///
/// # Safety
/// `engine` must be NULL or a live handle; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_metrics(engine: *const SkEngine, out: *mut Metrics) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        *required(out)? = engine.metrics()?;
        Ok(())
    })
}

/// Counts a call that a front door over this library refused itself, before
/// calling in, as the library counts the calls it refuses, and returns the
/// status to report: `status`, or `SK_STATUS_CLOSED` on a closed engine,
/// which counts nothing (every call on it answers that first). It is for
/// wrappers whose own types can say what the C ABI cannot (a negative or an
/// explicit zero duration, say), so that the metrics count every refusal
/// whichever door it came through. `status` must be a refusal the metrics
/// count (an error from 101 to 306 but `SK_STATUS_PRODUCT_EXISTS`); any other
/// number is refused with `SK_STATUS_OUT_OF_RANGE` and counts nothing. A
/// NULL engine answers `SK_STATUS_NULL_ARGUMENT`, and a NULL or closed
/// engine is answered before `status` is looked at.
///
/// # Safety
/// `engine` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_refuse(engine: *const SkEngine, status: u32) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let code = ErrorCode::from_number(status).filter(|&code| counts_refusal(code));
        let refused = code.ok_or(SkStatus::OutOfRange)?;
        engine.note_refusal(refused);
        Err(refused.into())
    })
}

/// Writes how the holds on a product ended into `*out`.
///
/// # Safety
/// `engine` must be NULL or a live handle; `id` NULL or readable for `id_len`
/// bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_product_outcomes(
    engine: *const SkEngine,
    id: *const u8,
    id_len: usize,
    out: *mut ProductOutcomes,
) -> SkStatus {
    read_by_id(engine, id, id_len, out, |engine, id| engine.product_outcomes(id))
}

/// Writes the counters as Prometheus text, with the outcomes of the
/// `product_count` products in `products` (may be NULL when 0; a product
/// named more than once is listed once), into `buf`
/// (no NUL added) and its length into `*len`. When `cap` is too small it
/// returns `SK_STATUS_BUFFER_TOO_SMALL` and writes only the length needed
/// into `*len`, so the caller can retry; `buf` may be NULL when `cap` is 0,
/// to ask for the length.
///
/// # Safety
/// `engine` must be NULL or a live handle; `products` NULL or readable for
/// `product_count` texts; `buf` writable for `cap` bytes (NULL if 0); `len` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_metrics_text(
    engine: *const SkEngine,
    products: *const SkText,
    product_count: usize,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let len = required(len)?;
        if buf.is_null() && cap > 0 {
            return Err(SkStatus::NullArgument);
        }
        let products: &[SkText] = match product_count {
            0 => &[],
            _ if products.is_null() => return Err(SkStatus::NullArgument),
            count if !can_be_array::<SkText>(count) => return Err(SkStatus::Overflow),
            // SAFETY: the caller vouches for product_count readable texts.
            count => unsafe { std::slice::from_raw_parts(products, count) },
        };
        let ids = products
            .iter()
            // SAFETY: each text is readable for its length, as the caller vouches.
            .map(|product| unsafe { text_for(&engine, product.data, product.len) })
            .collect::<Result<Vec<_>, _>>()?;
        let rendered = engine.metrics_text(&ids)?;
        *len = rendered.len();
        if rendered.len() > cap {
            return Err(SkStatus::BufferTooSmall);
        }
        // SAFETY: buf is writable for cap bytes and the text is no longer.
        unsafe { std::ptr::copy_nonoverlapping(rendered.as_ptr(), buf, rendered.len()) };
        Ok(())
    })
}

/// The caller's user-data pointer, handed back to its callback only.
struct UserData(*mut c_void);

// SAFETY: the engine never reads through the pointer; it only passes it back
// to the caller's callback, which the caller declared callable from the
// notifier thread by subscribing.
unsafe impl Send for UserData {}

fn deliver(
    callback: unsafe extern "C" fn(*const SkEvent, *mut c_void),
    data: &UserData,
    event: &Event,
) {
    let (kind, state, order, product, lines) = match event {
        Event::HoldEnded { order, state, lines } => {
            let lines: Vec<SkEventLine> = lines
                .iter()
                .map(|(product, quantity)| SkEventLine {
                    product: product.as_ptr(),
                    product_len: product.len(),
                    quantity: *quantity as i64,
                })
                .collect();
            let state = SkOrderState::from(*state) as u32;
            (SkEventKind::HoldEnded, state, Some(&**order), None, lines)
        }
        Event::SoldOut { product } => (SkEventKind::SoldOut, 0, None, Some(&**product), Vec::new()),
    };
    let raw = SkEvent {
        kind,
        state,
        order: order.map_or(std::ptr::null(), str::as_ptr),
        order_len: order.map_or(0, str::len),
        product: product.map_or(std::ptr::null(), str::as_ptr),
        product_len: product.map_or(0, str::len),
        lines: if lines.is_empty() { std::ptr::null() } else { lines.as_ptr() },
        line_count: lines.len(),
    };
    // SAFETY: the caller gave this callback for exactly this use; every
    // pointer in `raw` outlives the call.
    unsafe { callback(&raw, data.0) };
}

/// Calls `callback(event, user_data)` for every event from now on, on the
/// engine's notifier thread; writes the subscription's id into `*id` when not
/// NULL. A slow callback delays later events, never the engine's callers.
/// A callback that forks returns in the child too, on the notifier thread,
/// the child's only thread: that thread then ends, and a child that started
/// no thread of its own exits with it, as a process whose last thread ends
/// (status 0, `atexit` handlers run, stdio buffers flushed); a child meant
/// for other work should call `exec` or `_exit`. Fails with
/// `SK_STATUS_CLOSED` on a closed engine, and also when the operating system
/// refuses the notifier thread that the first subscription starts: the engine
/// stays open then.
///
/// # Safety
/// `engine` must be NULL or a live handle; `callback` must be safe to call
/// from another thread with `user_data` until `sk_engine_unsubscribe` of its
/// id followed by `sk_engine_flush_events` returns, or until
/// `sk_engine_unsubscribe` of its id returns inside a callback of the same
/// engine (whatever the status), or until `sk_engine_close` returns on a
/// thread other than the notifier's, or `sk_engine_free` returns.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_subscribe(
    engine: *mut SkEngine,
    callback: SkEventCallback,
    user_data: *mut c_void,
    id: *mut u64,
) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let callback = callback.ok_or(SkStatus::NullArgument)?;
        let data = UserData(user_data);
        let subscription = engine.on_event(move |event| deliver(callback, &data, event))?;
        if let Some(out) = optional(id) {
            *out = subscription.0;
        }
        Ok(())
    })
}

/// Ends a subscription; unknown ids are ignored. Once it returns no delivery
/// to the callback begins, not even of an event queued before; one already
/// under way on the notifier thread (the callback may not have been entered
/// yet) goes on, which `sk_engine_flush_events` from another thread waits
/// for. Inside a callback of the same engine no other delivery is under way,
/// so from there, once it returns, the callback is never called again. On a
/// closed engine it ends the subscription all the same and returns
/// `SK_STATUS_CLOSED`. It never waits.
///
/// # Safety
/// `engine` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_unsubscribe(engine: *mut SkEngine, id: u64) -> SkStatus {
    // Not counted as a call in progress, as a flush is not: a callback may
    // unsubscribe while a close on another thread delivers what was queued.
    call(|| Ok(handle_of(engine)?.unsubscribe(SubscriptionId(id))?))
}

/// Waits until every event published before the call reached its callbacks.
/// From inside a callback it returns at once. On a closed engine it waits all
/// the same, for what the close may still be delivering, then returns
/// `SK_STATUS_CLOSED`.
///
/// # Safety
/// `engine` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn sk_engine_flush_events(engine: *mut SkEngine) -> SkStatus {
    // Not counted as a call in progress: a close from a callback waits for
    // those, and a flush may be waiting for that very callback.
    call(|| Ok(handle_of(engine)?.flush_events()?))
}
