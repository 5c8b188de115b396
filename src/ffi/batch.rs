//! Batches: many products added, or blocks or confirms, in one call, each
//! request answered as its single call would answer it, and the batch read
//! ahead ([`Engine::read_ahead`]) so that the cache misses of consecutive
//! requests overlap.

use std::slice;

use super::args::{block_ids, call, can_be_array, engine_of, product_args, refused_input, text};
use super::{hold_time, SkDeadline, SkEngine, SkStatus, SkText};
use crate::ahead::Lookup;
use crate::engine::Engine;
use crate::validate::quantity_for_engine;

/// One block of a batch for `sk_order_block_many`: the arguments of one
/// `sk_order_block`, read as it reads them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkBlockRequest {
    pub order: *const u8,
    pub order_len: usize,
    pub product: *const u8,
    pub product_len: usize,
    pub quantity: i64,
}

/// Runs every request in turn, exactly as `sk_order_block` would run it with
/// `hold_time_ns`, and writes what each gave into `statuses[i]`; where it
/// succeeds and `deadlines` is not NULL, its deadline into `deadlines[i]`
/// (other elements are left as they were). A request that fails leaves the
/// others alone.
///
/// Returns `SK_STATUS_OK` once every request has run on an open engine,
/// whatever each gave. `SK_STATUS_CLOSED` when the engine is closed: before
/// the batch, and then nothing is written, or while it runs, and then the
/// requests before the close have taken effect and each one after it has
/// `SK_STATUS_CLOSED`. `SK_STATUS_NULL_ARGUMENT`, running nothing, when
/// `requests` or `statuses` is NULL and `count` is not 0; `SK_STATUS_OVERFLOW`
/// for a `count` no array can have.
///
/// # Safety
/// `engine` must be NULL or a live handle; `requests` NULL or readable for
/// `count` requests, each naming ids readable for their lengths; `statuses`
/// NULL or writable for `count` statuses; `deadlines` NULL or writable for
/// `count` deadlines. The arrays must not overlap one another or the ids.
#[no_mangle]
pub unsafe extern "C" fn sk_order_block_many(
    engine: *mut SkEngine,
    requests: *const SkBlockRequest,
    count: usize,
    hold_time_ns: u64,
    statuses: *mut SkStatus,
    deadlines: *mut SkDeadline,
) -> SkStatus {
    let mut deadlines = optional_batch_out(deadlines, count);
    let read = |request: &SkBlockRequest| {
        // SAFETY: each request's ids are readable, as the caller vouches.
        let (order, product) = unsafe {
            block_ids(request.order, request.order_len, request.product, request.product_len)
        }?;
        Ok((order, product, quantity_for_engine(request.quantity)))
    };
    let run = |engine: &Engine, at: usize, (order, product, quantity)| {
        let deadline = engine.block(product, quantity, order, hold_time(hold_time_ns))?;
        if let Some(deadlines) = deadlines.as_deref_mut() {
            deadlines[at] = deadline.into();
        }
        Ok(())
    };
    let lookup = |(order, product, _)| Lookup::Block { product, order };
    run_batch(engine, requests, count, statuses, read, lookup, run)
}

/// One product of a batch for `sk_product_add_many`: the arguments of one
/// `sk_product_add`, read as it reads them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SkProductRequest {
    pub id: *const u8,
    pub id_len: usize,
    pub name: *const u8,
    pub name_len: usize,
    pub on_hand: i64,
}

/// Adds every product in turn, exactly as `sk_product_add` would, and
/// writes what each gave into `statuses[i]`: a product refused (its id
/// taken, by an earlier product of the same batch too) leaves the others
/// alone. Returns as `sk_order_block_many` returns. For a catalogue load:
/// the batch is read ahead, and threads each adding a batch of their own
/// run side by side.
///
/// # Safety
/// `engine` must be NULL or a live handle; `products` NULL or readable for
/// `count` products, each naming an id and a name readable for their
/// lengths; `statuses` NULL or writable for `count` statuses, overlapping
/// neither the strings nor `products`.
#[no_mangle]
pub unsafe extern "C" fn sk_product_add_many(
    engine: *mut SkEngine,
    products: *const SkProductRequest,
    count: usize,
    statuses: *mut SkStatus,
) -> SkStatus {
    let read = |p: &SkProductRequest| {
        // SAFETY: each product's strings are readable, as the caller vouches.
        unsafe { product_args(p.id, p.id_len, p.name, p.name_len, p.on_hand) }
    };
    let run =
        |engine: &Engine, _: usize, (id, name, on_hand)| Ok(engine.add_product(id, name, on_hand)?);
    run_batch(engine, products, count, statuses, read, |(id, _, _)| Lookup::Product(id), run)
}

/// Confirms every order in turn, exactly as `sk_order_confirm` would, and
/// writes what each gave into `statuses[i]`. Returns as
/// `sk_order_block_many` returns.
///
/// # Safety
/// `engine` must be NULL or a live handle; `orders` NULL or readable for
/// `count` ids, each readable for its length; `statuses` NULL or writable
/// for `count` statuses, overlapping neither the ids nor `orders`.
#[no_mangle]
pub unsafe extern "C" fn sk_order_confirm_many(
    engine: *mut SkEngine,
    orders: *const SkText,
    count: usize,
    statuses: *mut SkStatus,
) -> SkStatus {
    // SAFETY: each id is readable, as the caller vouches.
    let read = |order: &SkText| unsafe { text(order.data, order.len) };
    let run = |engine: &Engine, _: usize, order| Ok(engine.confirm(order)?);
    run_batch(engine, orders, count, statuses, read, Lookup::Order, run)
}

/// The body of a batch call. Reads every request with `read` first, as its
/// single call reads its arguments, then runs each in turn with `run` (a
/// request refused when read is counted when its turn comes), the batch
/// read ahead as `lookup` says of each request read, and writes each
/// status: a panic fails only its own request.
///
/// # Safety
/// `engine` must be NULL or a live handle; `requests` NULL or readable for
/// `count` requests, and `read` sound on each; `statuses` NULL or writable
/// for `count` statuses.
unsafe fn run_batch<'a, T: 'a, R: Copy>(
    engine: *mut SkEngine,
    requests: *const T,
    count: usize,
    statuses: *mut SkStatus,
    read: impl Fn(&'a T) -> Result<R, SkStatus>,
    lookup: impl Fn(R) -> Lookup<'a>,
    mut run: impl FnMut(&Engine, usize, R) -> Result<(), SkStatus>,
) -> SkStatus {
    call(|| {
        let engine = engine_of(engine)?;
        let requests: &'a [T] = batch_in(requests, count)?;
        let statuses = batch_out(statuses, count)?;
        let read: Vec<Result<R, SkStatus>> = requests.iter().map(read).collect();
        let lookup = |request: &Result<R, SkStatus>| match request {
            Ok(request) => lookup(*request),
            Err(_) => Lookup::Nothing,
        };
        for (at, request) in engine.read_ahead(&read, lookup).enumerate() {
            statuses[at] = call(|| {
                let request = (*request).map_err(|status| refused(&engine, status))?;
                run(&engine, at, request)
            });
        }
        closed_during(statuses)
    })
}

/// A request's input refused before the engine saw it: counted as its
/// single call counts it, or `SK_STATUS_CLOSED` once the engine is closed,
/// as a single call on a closed engine answers whatever its input.
fn refused(engine: &Engine, status: SkStatus) -> SkStatus {
    if engine.is_closed() {
        return SkStatus::Closed;
    }
    refused_input(engine, status)
}

/// `SK_STATUS_CLOSED` if the engine closed while the batch ran: from the
/// close on, every request answers closed, the last one too.
fn closed_during(statuses: &[SkStatus]) -> Result<(), SkStatus> {
    match statuses.last() {
        Some(SkStatus::Closed) => Err(SkStatus::Closed),
        _ => Ok(()),
    }
}

/// A batch's `count` requests at `ptr`; (NULL, 0) is no requests.
///
/// # Safety
/// `ptr` must be NULL or readable for `count` elements.
unsafe fn batch_in<'a, T>(ptr: *const T, count: usize) -> Result<&'a [T], SkStatus> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(SkStatus::NullArgument);
    }
    if !can_be_array::<T>(count) {
        return Err(SkStatus::Overflow);
    }
    // SAFETY: non-null, readable for `count` elements as the caller vouches,
    // and `count` small enough to be a slice's length.
    Ok(unsafe { slice::from_raw_parts(ptr, count) })
}

/// Where a batch's `count` answers go, which the caller must give.
///
/// # Safety
/// `ptr` must be NULL or writable for `count` elements.
unsafe fn batch_out<'a, T>(ptr: *mut T, count: usize) -> Result<&'a mut [T], SkStatus> {
    optional_batch_out(ptr, count).ok_or(SkStatus::NullArgument)
}

/// Where a batch's `count` answers go, if the caller gave a place.
///
/// # Safety
/// As [`batch_out`].
unsafe fn optional_batch_out<'a, T>(ptr: *mut T, count: usize) -> Option<&'a mut [T]> {
    if count == 0 {
        return Some(&mut []);
    }
    if !can_be_array::<T>(count) {
        return None;
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, writable for `count` elements as the caller vouches,
    // and `count` small enough to be a slice's length. Made from the raw
    // pointer: a reference to the first element would not reach the rest.
    Some(unsafe { slice::from_raw_parts_mut(ptr, count) })
}
