//! Turning raw C arguments into Rust values, and results into status codes,
//! in one place.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{SkEngine, SkLine, SkStatus};
use crate::engine::{Engine, Entered};
use crate::error::ErrorCode;
use crate::order::Line;
use crate::validate::{check_id, check_line, count_from_signed, quantity_for_engine};

/// Runs the body of an export: maps its error to a status and catches any
/// panic, so that none unwinds into C.
pub(super) fn call(body: impl FnOnce() -> Result<(), SkStatus>) -> SkStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SkStatus::Ok,
        Ok(Err(status)) => status,
        Err(_) => SkStatus::Internal,
    }
}

/// The engine behind a handle, open or closed.
///
/// # Safety
/// `ptr` must be NULL or a live handle from `sk_engine_new`.
pub(super) unsafe fn handle_of<'a>(ptr: *const SkEngine) -> Result<&'a Engine, SkStatus> {
    // SAFETY: non-null handles point to a live SkEngine, as the caller vouches.
    unsafe { ptr.as_ref() }.map(|handle| &handle.engine).ok_or(SkStatus::NullArgument)
}

/// The engine behind a handle, refused as closed before any other argument
/// is looked at, so that a closed engine answers `SK_STATUS_CLOSED` to every
/// call whatever else is wrong with it. Until the guard drops the call is
/// counted as in progress: a close waits for it, the reading of its
/// arguments and the writing of its outputs included.
///
/// # Safety
/// As [`handle_of`].
pub(super) unsafe fn engine_of<'a>(ptr: *const SkEngine) -> Result<Entered<'a>, SkStatus> {
    handle_of(ptr)?.entered().map_err(|_| SkStatus::Closed)
}

/// An output the caller must give.
///
/// # Safety
/// `ptr` must be NULL or valid for writes of a `T`.
pub(super) unsafe fn required<'a, T>(ptr: *mut T) -> Result<&'a mut T, SkStatus> {
    // SAFETY: non-null outputs are writable, as the caller vouches.
    unsafe { ptr.as_mut() }.ok_or(SkStatus::NullArgument)
}

/// An output the caller may leave NULL.
///
/// # Safety
/// `ptr` must be NULL or valid for writes of a `T`.
pub(super) unsafe fn optional<'a, T>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: non-null outputs are writable, as the caller vouches.
    unsafe { ptr.as_mut() }
}

/// Ids and names longer than this are refused unread: no id or name may be
/// this long, and a huge length is more likely a bug than a string.
const LONGEST_READ: usize = 1 << 20;

/// A borrowed UTF-8 string given as pointer + length; NULL with length 0 is
/// the empty string.
///
/// # Safety
/// `ptr` must be NULL or readable for `len` bytes for the call's duration.
pub(super) unsafe fn text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, SkStatus> {
    if ptr.is_null() {
        return if len == 0 { Ok("") } else { Err(SkStatus::NullArgument) };
    }
    if len > LONGEST_READ {
        return Err(SkStatus::IdTooLong);
    }
    // SAFETY: the caller vouches for len readable bytes at ptr, and len is
    // small enough to be a valid slice length.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    // Ids are mostly ASCII, which is UTF-8 as it is, and a word at a time
    // tells it; the full check goes byte by byte over a short id.
    if bytes.is_ascii() {
        // SAFETY: every byte is ASCII, so the bytes are UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|_| SkStatus::InvalidUtf8)
}

/// A block's order id, read as [`text`] reads it and judged whole before
/// any other argument is read, as the core judges it.
///
/// # Safety
/// As [`text`].
pub(super) unsafe fn order_text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, SkStatus> {
    // SAFETY: as the caller vouches.
    let order = unsafe { text(ptr, len) }?;
    check_id(order)?;
    Ok(order)
}

/// A one-line block's order and product ids, read as [`text`] reads them.
/// When the product's cannot be read, a fault of the order id is reported
/// first, as the core judges them; otherwise the core judges the ids.
///
/// # Safety
/// As [`text`], for both.
pub(super) unsafe fn block_ids<'a>(
    order: *const u8,
    order_len: usize,
    product: *const u8,
    product_len: usize,
) -> Result<(&'a str, &'a str), SkStatus> {
    // SAFETY: as the caller vouches.
    let order = unsafe { text(order, order_len) }?;
    // SAFETY: as the caller vouches.
    let product = unsafe { text(product, product_len) }
        .map_err(|status| check_id(order).err().map_or(status, SkStatus::from))?;
    Ok((order, product))
}

/// The arguments of `sk_product_add`, read in order: the id, the name, the
/// count.
///
/// # Safety
/// As [`text`], for each string.
pub(super) unsafe fn product_args<'a>(
    id: *const u8,
    id_len: usize,
    name: *const u8,
    name_len: usize,
    on_hand: i64,
) -> Result<(&'a str, &'a str, u64), SkStatus> {
    // SAFETY: as the caller vouches.
    let (id, name) = unsafe { (text(id, id_len)?, name_text(name, name_len)?) };
    Ok((id, name, count_from_signed(on_hand)?))
}

/// A product's name, read as [`text`] reads it; one too long to read is a
/// bad name, not an id too long.
///
/// # Safety
/// As [`text`].
pub(super) unsafe fn name_text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, SkStatus> {
    // SAFETY: as the caller vouches.
    unsafe { text(ptr, len) }.map_err(|status| match status {
        SkStatus::IdTooLong => SkStatus::InvalidName,
        other => other,
    })
}

/// Whether `count` elements of `T` can be an array at all: past this, no
/// slice may be made of them, whatever the pointer.
pub(super) fn can_be_array<T>(count: usize) -> bool {
    count <= isize::MAX as usize / std::mem::size_of::<T>().max(1)
}

/// The lines of a multi-line block. On a bad line, writes its index into
/// `failed_line` when that is not NULL.
///
/// # Safety
/// `lines` must be NULL or readable for `count` lines, each naming a product
/// readable for its length; `failed_line` NULL or writable.
pub(super) unsafe fn line_args<'a>(
    lines: *const SkLine,
    count: usize,
    failed_line: *mut usize,
) -> Result<Vec<Line<'a>>, SkStatus> {
    if lines.is_null() {
        // (NULL, 0) is no lines, as for every other array.
        return if count == 0 { Ok(Vec::new()) } else { Err(SkStatus::NullArgument) };
    }
    if !can_be_array::<SkLine>(count) {
        return Err(SkStatus::Overflow);
    }
    // SAFETY: the caller vouches for count readable lines at `lines`.
    let raw = unsafe { std::slice::from_raw_parts(lines, count) };
    raw.iter()
        .enumerate()
        .map(|(index, line)| {
            // SAFETY: each line's product is readable, as the caller vouches.
            let parsed = unsafe { text(line.product, line.product_len) }.and_then(|product| {
                let line = Line::new(product, quantity_for_engine(line.quantity));
                check_line(line.product, line.quantity)?;
                Ok(line)
            });
            parsed.inspect_err(|_| {
                // SAFETY: failed_line is NULL or writable, as the caller vouches.
                if let Some(out) = unsafe { optional(failed_line) } {
                    *out = index;
                }
            })
        })
        .collect()
}

/// The engine behind a handle and a string argument, the string's refusal
/// counted in the engine's metrics like any other bad input.
///
/// # Safety
/// As [`engine_of`] and [`text`].
pub(super) unsafe fn engine_and_text<'a>(
    engine: *const SkEngine,
    ptr: *const u8,
    len: usize,
) -> Result<(Entered<'a>, &'a str), SkStatus> {
    let engine = engine_of(engine)?;
    let text = text_for(&engine, ptr, len)?;
    Ok((engine, text))
}

/// A string argument, its refusal counted in the engine's metrics like any
/// other bad input.
///
/// # Safety
/// As [`text`].
pub(super) unsafe fn text_for<'a>(
    engine: &Engine,
    ptr: *const u8,
    len: usize,
) -> Result<&'a str, SkStatus> {
    text(ptr, len).map_err(|status| refused_input(engine, status))
}

/// The body of every call that reads one thing about the product or order
/// (`ptr`, `len`) names: `read` finds it, and it goes into `*out`, which the
/// caller must give.
///
/// # Safety
/// As [`engine_and_text`]; `out` NULL or writable.
pub(super) unsafe fn read_by_id<T>(
    engine: *const SkEngine,
    ptr: *const u8,
    len: usize,
    out: *mut T,
    read: impl FnOnce(&Engine, &str) -> crate::Result<T>,
) -> SkStatus {
    call(|| {
        // A closed engine answers as closed before a missing output.
        let engine = engine_of(engine)?;
        let out = required(out)?;
        let id = text_for(&engine, ptr, len)?;
        *out = read(&engine, id)?;
        Ok(())
    })
}

/// Counts a refusal of input that the C boundary turned away before the
/// engine saw it, when it is one of the contract's errors.
pub(super) fn refused_input(engine: &Engine, status: SkStatus) -> SkStatus {
    if let Some(code) = ErrorCode::from_number(status as u32) {
        engine.note_refusal(code);
    }
    status
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::ptr;

    use super::*;
    use crate::engine::tests::assert_close_waits_for;
    use crate::ffi::{sk_engine_close, sk_engine_free, sk_engine_new};

    /// A C call is counted as in progress from the moment it has its engine,
    /// while it still reads its arguments, and a close waits for it, so that
    /// a call that began before the close is done once the close returns.
    #[test]
    fn a_close_waits_for_a_c_call_from_the_moment_it_has_its_engine() {
        let mut handle = ptr::null_mut();
        // SAFETY: NULL options and a writable out.
        assert_eq!(unsafe { sk_engine_new(ptr::null(), &mut handle) }, SkStatus::Ok);
        // A raw pointer is not Send; the closing thread gets it wrapped.
        struct Handle(*mut SkEngine);
        // SAFETY: a handle may be used from any thread.
        unsafe impl Send for Handle {}
        impl Handle {
            fn get(&self) -> *mut SkEngine {
                self.0
            }
        }
        let closing = Handle(handle);
        // SAFETY: a live handle, here and below until it is freed.
        let call = unsafe { engine_of(handle) }.unwrap();
        assert_close_waits_for(
            call,
            // SAFETY: as above.
            move || assert_eq!(unsafe { sk_engine_close(closing.get()) }, SkStatus::Ok),
            // SAFETY: as above.
            || unsafe { handle_of(handle) }.unwrap().is_closed(),
        );
        // SAFETY: as above; nothing else uses it any more.
        unsafe { sk_engine_free(handle) };
    }

    /// ASCII takes the short way, anything else the full check, which still
    /// refuses every kind of bad UTF-8, wherever in the string it starts.
    #[test]
    fn text_reads_what_is_utf8_and_refuses_the_rest() {
        // SAFETY: each slice is readable for its length.
        let read = |bytes: &[u8]| unsafe { text(bytes.as_ptr(), bytes.len()) };
        for good in ["", "a", "sku-0000000001", "ord-é", "日本", "a\0b", "\u{10FFFF}"] {
            assert_eq!(read(good.as_bytes()), Ok(good));
        }
        let bad: [&[u8]; 6] =
            [b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf4\x90"];
        for tail in bad {
            for prefix in ["", "a", "sku-00000000000000000001"] {
                let bytes = [prefix.as_bytes(), tail].concat();
                assert_eq!(read(&bytes), Err(SkStatus::InvalidUtf8), "{bytes:?}");
            }
        }
        // SAFETY: NULL is allowed, and read only with a length of 0.
        assert_eq!(unsafe { text(ptr::null(), 0) }, Ok(""));
        // SAFETY: as above; a NULL with a length is refused unread.
        assert_eq!(unsafe { text(ptr::null(), 1) }, Err(SkStatus::NullArgument));
    }
}
