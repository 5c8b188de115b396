//! Python arguments in, core values out.
//!
//! Python ints have no bound and Python strs may hold lone surrogates, so
//! every argument is checked here before the engine sees it. A value of the
//! wrong type raises a plain `TypeError` at once, and the engine never hears
//! of it, just as the Rust API cannot be called with one. A value of the
//! right type that the contract refuses becomes a core [`Error`] and is held
//! back for the method, which raises it through the engine
//! ([`stockkeeper::Engine::refuse`]), so that the engine's metrics count the
//! refusal as they would count the same refusal made by the core itself.
//! Every argument is converted before the method runs, so a wrong type in
//! any argument is raised before a refused value in another; among refused
//! values, one is raised, and counted once: the first argument's, but for
//! blocks, judged as the core judges them (the order id whole first, then
//! each line's product id and quantity) so that every door reports the same
//! fault. Converting a quantity never refuses it: out of range, it becomes 0
//! or the largest u64, which the core's check of the line refuses, made
//! before the engine's call where a refusal made here must come after it (a
//! hold time), or by the engine. A closed engine raises `EngineClosed`
//! instead of any refused value, as its own methods answer whatever their
//! input.

use std::ops::Deref;
use std::time::Duration;

use std::os::raw::c_int;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUnicodeEncodeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBool, PyInt, PyList, PyMapping, PySequence, PyString, PyType};
use pyo3::{ffi, intern};
use stockkeeper::{
    check_id, check_line, count_from_signed, quantity_for_engine, Error, MAX_ID_BYTES,
};

use crate::errors::to_py;

/// Why a Python value was not turned into a core one.
pub enum Refused {
    /// A value of the right type that the contract refuses: the engine
    /// counts it, and it is raised as the matching `StockkeeperError`.
    Value(Error),
    /// A value of the wrong type, or an error Python raised while reading it
    /// (an iterator that fails, say): raised as it is, and not counted.
    Python(PyErr),
}

impl From<PyErr> for Refused {
    fn from(err: PyErr) -> Refused {
        Refused::Python(err)
    }
}

impl From<Error> for Refused {
    fn from(error: Error) -> Refused {
        Refused::Value(error)
    }
}

/// A Python value that becomes a core value, or is refused.
pub trait Convert: Sized {
    /// Whether an int passes for one, as an id given as a number: then a
    /// bytes-like object would pass for a sequence of them, one a byte.
    const FROM_INT: bool = false;

    fn convert(obj: &Bound<'_, PyAny>) -> Result<Self, Refused>;
}

/// A method argument as pyo3 hands it over: its type is checked (a wrong
/// one raises `TypeError`, naming the argument, before the method runs) and
/// its value is either converted or refused, the refusal waiting for the
/// method to raise it through the engine.
pub struct Checked<T>(pub Result<T, Error>);

impl<T: Convert> FromPyObject<'_, '_> for Checked<T> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Checked<T>> {
        checked(&obj).map(Checked)
    }
}

impl<T> Checked<T> {
    /// The value, or its refusal raised uncounted: for the constructor,
    /// which has no engine to count into yet, and for the clock controls,
    /// whose refusals the engine does not count.
    pub fn or_raise(self) -> PyResult<T> {
        self.0.map_err(to_py)
    }
}

/// A product id, an order id or a name: a `str` whose UTF-8 bytes are kept
/// alive by the Python object, so it can be used with the GIL released.
pub struct Text(PyBackedStr);

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Convert for Text {
    fn convert(obj: &Bound<'_, PyAny>) -> Result<Text, Refused> {
        let text = obj
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("expected a str, got {}", type_name(obj))))?;
        PyBackedStr::try_from(text.to_owned()).map(Text).map_err(|err| {
            // A lone surrogate (say, from bytes decoded with
            // errors="surrogateescape") has no UTF-8 form.
            if err.is_instance_of::<PyUnicodeEncodeError>(obj.py()) {
                Refused::Value(Error::InvalidUtf8)
            } else {
                Refused::Python(err)
            }
        })
    }
}

/// An id given to `InventoryService`: a str, or an int standing for its
/// decimal str (so `1` and `"1"` name the same product or order), as the
/// earlier service's callers used both. A bool is not taken for an int, and
/// an int subclass names the id of its value, whatever its `__str__` says.
pub struct Id(Text);

impl Deref for Id {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Convert for Id {
    const FROM_INT: bool = true;

    fn convert(obj: &Bound<'_, PyAny>) -> Result<Id, Refused> {
        if obj.is_instance_of::<PyString>() {
            return Text::convert(obj).map(Id);
        }
        if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
            return decimal_id(obj).map(Id);
        }
        let message = format!("an id must be a str or an int, not {}", type_name(obj));
        Err(PyTypeError::new_err(message).into())
    }
}

/// Ints of more bits than this have more decimal digits than an id may have
/// bytes: 10/3 is above log2(10), the bits a digit takes.
const LONGEST_ID_BITS: usize = MAX_ID_BYTES * 10 / 3;

/// An int's decimal form, as an id. One too long for an id is refused as
/// such without being written out: Python refuses to write out an int past
/// its digit limit (4300 by default), and takes time quadratic in its size
/// to write out one allowed past it.
fn decimal_id(obj: &Bound<'_, PyAny>) -> Result<Text, Refused> {
    let py = obj.py();
    let int = py.get_type::<PyInt>();
    let bits: usize = int.call_method1(intern!(py, "bit_length"), (obj,))?.extract()?;
    if bits > LONGEST_ID_BITS {
        return Err(Error::IdTooLong { len: decimal_len(obj, &int, bits)? }.into());
    }
    Text::convert(&int.call_method1(intern!(py, "__repr__"), (obj,))?)
}

/// Ints up to this many bits are measured exactly: one within rounding of a
/// power of ten is compared with it. Making a power of ten this large takes
/// tens of microseconds, with the GIL held; one of a million bits took tens
/// of milliseconds, on every call naming such an id.
const EXACT_LEN_BITS: usize = 1 << 16;

/// The length of the decimal form of an int of `bits` bits, sign included,
/// in time linear in its size: the digits come from the logarithm of its
/// top 64 bits. Of an int whose logarithm falls within rounding of a whole
/// number, the length is settled by comparing it with that power of ten if
/// it has at most [`EXACT_LEN_BITS`] bits; past that, making the power would
/// cost more than the call, and the length given may be one off for an int
/// within a few parts in a billion of a power of ten.
fn decimal_len(obj: &Bound<'_, PyAny>, int: &Bound<'_, PyType>, bits: usize) -> PyResult<usize> {
    let py = obj.py();
    let negative: bool = int.call_method1(intern!(py, "__lt__"), (obj, 0))?.extract()?;
    let magnitude = int.call_method1(intern!(py, "__abs__"), (obj,))?;
    let shift = bits.saturating_sub(64);
    let top: u64 = int.call_method1(intern!(py, "__rshift__"), (&magnitude, shift))?.extract()?;
    // The bits below the top 64 move the logarithm by under 1e-19; the
    // float's own rounding, by under 1e-6 for any int that fits in memory.
    let log = (top as f64).log10() + shift as f64 * std::f64::consts::LOG10_2;
    let nearest = log.round();
    let digits = if (log - nearest).abs() < 1e-6 && bits <= EXACT_LEN_BITS {
        let power = int.call_method1(intern!(py, "__pow__"), (10, nearest as usize))?;
        nearest as usize + usize::from(magnitude.ge(power)?)
    } else {
        log.floor() as usize + 1
    };
    Ok(digits + usize::from(negative))
}

/// A quantity to hold, never refused here: one below 1 becomes 0 and one
/// past 2**63 - 1 the largest u64, which the core's check of the line
/// refuses (invalid_quantity, overflow) after the ids. So a call with
/// several bad arguments is refused for the one the core and every other
/// door name.
#[derive(Clone, Copy)]
pub struct Quantity(pub u64);

impl Convert for Quantity {
    fn convert(obj: &Bound<'_, PyAny>) -> Result<Quantity, Refused> {
        Ok(Quantity(match wide_int(obj)? {
            Wide::Fits(value) => quantity_for_engine(value),
            Wide::Above => u64::MAX,
            Wide::Below => 0,
        }))
    }
}

/// A product's starting stock: 0 to 2**63 - 1.
#[derive(Clone, Copy)]
pub struct Count(pub u64);

impl Convert for Count {
    fn convert(obj: &Bound<'_, PyAny>) -> Result<Count, Refused> {
        count(obj).map(Count)
    }
}

/// A change of on_hand. Zero and the sign are the engine's to judge; a
/// magnitude past 2**63 - 1 can never be applied, whichever the sign.
#[derive(Clone, Copy)]
pub struct Delta(pub i64);

impl Convert for Delta {
    fn convert(obj: &Bound<'_, PyAny>) -> Result<Delta, Refused> {
        match wide_int(obj)? {
            Wide::Fits(value) => Ok(Delta(value)),
            Wide::Above | Wide::Below => Err(Error::Overflow.into()),
        }
    }
}

/// A bound on how many ended orders are remembered.
#[derive(Clone, Copy)]
pub struct Limit(pub usize);

impl Convert for Limit {
    fn convert(obj: &Bound<'_, PyAny>) -> Result<Limit, Refused> {
        let limit = count(obj)?;
        Ok(Limit(usize::try_from(limit).map_err(|_| Error::Overflow)?))
    }
}

/// A time span given in seconds, as an int (or an object with `__index__`)
/// or a float. Negative and NaN are refused as invalid durations; zero
/// passes, for the engine to judge (it is a valid step of the manual clock,
/// not a valid hold time). A float is
/// rounded to the nearest nanosecond, but a positive one never to zero: a
/// span shorter than half a nanosecond counts as one nanosecond, so that a
/// positive span is never refused as if it were zero.
#[derive(Clone, Copy)]
pub struct Seconds(pub Duration);

impl Convert for Seconds {
    fn convert(obj: &Bound<'_, PyAny>) -> Result<Seconds, Refused> {
        // An int, or an object with `__index__`, by its exact value, as the
        // counts are read (an int's never fails). An `__index__` that
        // refuses its object with TypeError, as a 0-d numpy array of floats
        // does, leaves it to be read as a float; any other exception it
        // raises passes through.
        let whole = if has_index(obj) {
            match wide_int(obj) {
                Ok(whole) => Some(whole),
                Err(err) if err.is_instance_of::<PyTypeError>(obj.py()) => None,
                Err(err) => return Err(err.into()),
            }
        } else {
            None
        };
        let span = match whole {
            Some(Wide::Fits(secs)) => {
                u64::try_from(secs).map(Duration::from_secs).map_err(|_| Error::InvalidDuration)?
            }
            Some(Wide::Above) => return Err(Error::Overflow.into()),
            Some(Wide::Below) => return Err(Error::InvalidDuration.into()),
            None => float_span(obj)?,
        };
        Ok(Seconds(span))
    }
}

/// Whether the object's type has `__index__`.
fn has_index(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: obj is a live object and the GIL is held; the call reads its
    // type's slots only.
    unsafe { ffi::PyIndex_Check(obj.as_ptr()) != 0 }
}

/// A time span read through the object's `__float__`. One too large for any
/// float is refused by its sign, as an int of that size is.
fn float_span(obj: &Bound<'_, PyAny>) -> Result<Duration, Refused> {
    let secs: f64 = match obj.extract() {
        Ok(secs) => secs,
        Err(err) if err.is_instance_of::<PyOverflowError>(obj.py()) => {
            return Err(match obj.lt(0) {
                Ok(true) => Error::InvalidDuration.into(),
                Ok(false) => Error::Overflow.into(),
                Err(_) => err.into(),
            });
        }
        Err(err) => return Err(err.into()),
    };
    if secs.is_nan() || secs < 0.0 {
        return Err(Error::InvalidDuration.into());
    }
    // Infinity does not fit.
    let span = Duration::try_from_secs_f64(secs).map_err(|_| Error::Overflow)?;
    Ok(if span.is_zero() && secs > 0.0 { Duration::from_nanos(1) } else { span })
}

/// The lines of an order, read whole: a mapping of product id to quantity,
/// or an iterable of `(product_id, quantity)` pairs. A value of the wrong
/// type raises at once; a refused one is held back in its line, for
/// [`judged_lines`].
pub fn order_lines(lines: &Bound<'_, PyAny>) -> PyResult<Vec<OrderLine>> {
    let line = |item: &Bound<'_, PyAny>| -> PyResult<OrderLine> {
        let [product, quantity] = fields::<2>(item, "(product_id, quantity)")?;
        Ok((checked::<Text>(&product)?, checked::<Quantity>(&quantity)?))
    };
    if let Ok(mapping) = lines.cast::<PyMapping>() {
        return mapping.items()?.iter().map(|item| line(&item)).collect();
    }
    if lines.is_instance_of::<PyString>() {
        let message = "lines must be (product_id, quantity) pairs, not a str";
        return Err(PyTypeError::new_err(message));
    }
    lines.try_iter()?.map(|item| line(&item?)).collect()
}

/// The fault the core would report for a one-line block before `ours`, a
/// value refused here that the core never sees (a product id that is not
/// UTF-8, a hold time): the order id's, then the line's when its product id
/// could be read, else `ours`. Only such a refusal needs judging here; the
/// core judges a block whose values all reach it.
pub fn fault_before(order: &str, line: Option<(&str, Quantity)>, ours: Error) -> Error {
    let core = check_id(order).and_then(|()| match line {
        Some((product, quantity)) => check_line(product, quantity.0),
        None => Ok(()),
    });
    core.err().unwrap_or(ours)
}

/// One line of an order as read, before it is judged.
pub type OrderLine = (Result<Text, Error>, Result<Quantity, Error>);

/// An order's lines judged in the core's order, line by line, each line's
/// product id before its quantity: the first refused value is the error.
/// They are judged here because an id that is not UTF-8 cannot reach the
/// core, and must not be reported before a fault the core would find first.
pub fn judged_lines(lines: Vec<OrderLine>) -> Result<Vec<(Text, Quantity)>, Error> {
    let judge = |(product, quantity): OrderLine| {
        let (product, quantity) = (product?, quantity?);
        check_line(&product, quantity.0)?;
        Ok((product, quantity))
    };
    lines.into_iter().map(judge).collect()
}

/// Product ids given as an iterable of strs (a lone str is refused: it
/// would read as one id per letter).
pub fn product_ids(ids: &Bound<'_, PyAny>) -> Result<Vec<Text>, Refused> {
    if ids.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("expected an iterable of product ids, not a str").into());
    }
    ids.try_iter()?.map(|id| Text::convert(&id?)).collect()
}

/// One request of a batch of blocks, its values converted or its first
/// refused value held back, as `block` would have refused it.
pub type BlockRequest<I> = Result<(I, Quantity, I), Error>;

/// The `(product_id, quantity, order_id)` triples of a batch of blocks, read
/// whole before any runs. A triple of the wrong shape or type raises; a
/// refused value only refuses its own request.
pub fn block_requests<I: Convert + Deref<Target = str>>(
    requests: &Bound<'_, PyAny>,
) -> PyResult<Vec<BlockRequest<I>>> {
    let request = |item: &Bound<'_, PyAny>| -> PyResult<BlockRequest<I>> {
        let [product, quantity, order] = fields::<3>(item, "(product_id, quantity, order_id)")?;
        let (product, quantity, order) =
            (checked::<I>(&product)?, checked::<Quantity>(&quantity)?, checked::<I>(&order)?);
        Ok(order.and_then(|order| match product {
            Ok(product) => Ok((product, quantity?, order)),
            Err(error) => Err(fault_before(&order, None, error)),
        }))
    };
    if refused_whole::<I>(requests) {
        let message = format!(
            "requests must be (product_id, quantity, order_id) triples, not a {}",
            type_name(requests)
        );
        return Err(PyTypeError::new_err(message));
    }
    batch_items(requests)?.map(|item| request(&item?)).collect()
}

/// The order ids of a batch, read whole before any runs (a lone str is
/// refused: it would read as one id per letter; and where ints pass for ids,
/// a bytes-like object, which would read as one id per byte or number). An id of the wrong type
/// raises; a refused id only refuses its own request.
pub fn order_ids<I: Convert>(ids: &Bound<'_, PyAny>) -> PyResult<Vec<Result<I, Error>>> {
    if refused_whole::<I>(ids) {
        let message = format!("expected an iterable of order ids, not a {}", type_name(ids));
        return Err(PyTypeError::new_err(message));
    }
    batch_items(ids)?.map(|id| checked::<I>(&id?)).collect()
}

/// The items of a batch, as iterating it gives them. A list's items are
/// read ahead as the engine reads a batch ahead ([`stockkeeper::prefetch`]):
/// a batch built well before the call has left its items out of the cache,
/// and reading them one miss after another took about a tenth of a batch of
/// block+confirm pairs.
fn batch_items<'py>(
    batch: &Bound<'py, PyAny>,
) -> PyResult<impl Iterator<Item = PyResult<Bound<'py, PyAny>>>> {
    let list = batch.cast::<PyList>().ok().cloned();
    let mut at = 0;
    Ok(batch.try_iter()?.inspect(move |_| {
        if let Some(list) = &list {
            fetch_list_ahead(list, at);
        }
        at += 1;
    }))
}

/// Fetches the item 8 places after `at` in `list`, and the fields of the one
/// 4 places after it, if a tuple (its item pointers came with it). Nothing
/// on a Python without the GIL, where another thread may change the list
/// between reading its length and its items.
#[cfg(Py_GIL_DISABLED)]
fn fetch_list_ahead(_list: &Bound<'_, PyList>, _at: usize) {}

/// Fetches the item 8 places after `at` in `list`, and the fields of the one
/// 4 places after it, if a tuple (its item pointers came with it).
#[cfg(not(Py_GIL_DISABLED))]
fn fetch_list_ahead(list: &Bound<'_, PyList>, at: usize) {
    // An object's header and the start of what follows it: a short str's
    // characters, a tuple's first fields.
    const OBJECT: usize = 80;
    let len = list.len();
    // The item at `index`, borrowed, if the list has one there.
    let item = |index: usize| {
        // SAFETY: the GIL is held (this Python has one), so no other thread
        // changes the list meanwhile, and the index is below its length: the
        // list hands back a live object, borrowed, which stays live until
        // Python code runs, and none runs before it is used below.
        (index < len).then(|| unsafe { ffi::PyList_GetItem(list.as_ptr(), index as _) })
    };
    if let Some(ahead) = item(at + 8) {
        stockkeeper::prefetch(ahead.cast(), OBJECT);
    }
    if let Some(tuple) = item(at + 4) {
        // SAFETY: a live object (above); only a tuple's type and its fields
        // below its size are read.
        unsafe {
            if ffi::PyTuple_Check(tuple) != 0 {
                for field in 0..ffi::PyTuple_Size(tuple).min(3) {
                    stockkeeper::prefetch(ffi::PyTuple_GetItem(tuple, field).cast(), OBJECT);
                }
            }
        }
    }
}

/// A value converted, or its refusal held back; a wrong type raises.
fn checked<T: Convert>(obj: &Bound<'_, PyAny>) -> PyResult<Result<T, Error>> {
    match T::convert(obj) {
        Ok(value) => Ok(Ok(value)),
        Err(Refused::Value(error)) => Ok(Err(error)),
        Err(Refused::Python(err)) => Err(err),
    }
}

/// Splits a tuple, list or other sequence of exactly `N` items.
pub fn fields<'py, const N: usize>(
    item: &Bound<'py, PyAny>,
    shape: &str,
) -> PyResult<[Bound<'py, PyAny>; N]> {
    let wrong =
        || PyTypeError::new_err(format!("expected a {shape} sequence, got {}", type_name(item)));
    let sequence = match item.cast::<PySequence>() {
        Ok(sequence) if !is_text(item) => sequence,
        _ => return Err(wrong()),
    };
    if sequence.len()? != N {
        return Err(wrong());
    }
    let items: Vec<Bound<'py, PyAny>> =
        (0..N).map(|index| sequence.get_item(index)).collect::<PyResult<_>>()?;
    <[Bound<'py, PyAny>; N]>::try_from(items).map_err(|_| wrong())
}

/// Text, or a bytes-like object (bytes, bytearray, memoryview, array and
/// the like, which share the buffer protocol): a sequence whose items are
/// letters or numbers, never ids or triples, though they may pass for them.
fn is_text(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyString>() || is_bytes_like(obj)
}

/// Whether a batch of `I` values (or of requests naming them) is refused
/// whole: a str always, a bytes-like object where ints pass for `I`.
fn refused_whole<I: Convert>(batch: &Bound<'_, PyAny>) -> bool {
    if I::FROM_INT {
        is_text(batch)
    } else {
        batch.is_instance_of::<PyString>()
    }
}

fn is_bytes_like(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: obj is a live object and the GIL is held (the Bound says so);
    // the call only looks at its type.
    unsafe { ffi::PyObject_CheckBuffer(obj.as_ptr()) == 1 }
}

/// A Python int, placed against the range of `i64`.
enum Wide {
    Fits(i64),
    Above,
    Below,
}

/// An int, or an object with `__index__`, by its value: the sign of one out
/// of range is the value's own, whatever a subclass's `__lt__` says.
fn wide_int(obj: &Bound<'_, PyAny>) -> PyResult<Wide> {
    let mut overflow: c_int = 0;
    // SAFETY: obj is a live object and the GIL is held (the Bound says so);
    // the call reads obj, calling its __index__ if it is not an int, and
    // writes only `overflow`, a live local.
    let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    match overflow {
        1.. => Ok(Wide::Above),
        ..0 => Ok(Wide::Below),
        // -1 is also how the call fails, setting an error.
        0 if value == -1 => PyErr::take(obj.py()).map_or(Ok(Wide::Fits(value)), Err),
        0 => Ok(Wide::Fits(value)),
    }
}

fn count(obj: &Bound<'_, PyAny>) -> Result<u64, Refused> {
    let count = match wide_int(obj)? {
        Wide::Fits(value) => count_from_signed(value),
        Wide::Above => Err(Error::Overflow),
        Wide::Below => Err(Error::InvalidQuantity),
    };
    Ok(count?)
}

/// The name of an object's type, for a TypeError's message.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|name| name.to_string()).unwrap_or_else(|_| "?".to_owned())
}
