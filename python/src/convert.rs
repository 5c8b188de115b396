//! Python arguments in, core values out.
//!
//! Python ints have no bound and Python strs may hold lone surrogates, so
//! every argument is checked here before the engine sees it. A value the
//! contract refuses becomes a core [`Error`] and leaves through
//! [`crate::errors::to_py`] like any other; only a value of the wrong type
//! raises a plain `TypeError`.

use std::ops::Deref;
use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUnicodeEncodeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyInt, PyMapping, PySequence, PyString};
use stockkeeper::{count_from_signed, quantity_from_signed, Error};

use crate::errors::to_py;

/// A product id, an order id or a name: a `str` whose UTF-8 bytes are kept
/// alive by the Python object, so it can be used with the GIL released.
pub struct Text(PyBackedStr);

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromPyObject<'_, '_> for Text {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Text> {
        let py = obj.py();
        let text = obj.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!("expected a str, got {}", type_name(&obj)))
        })?;
        PyBackedStr::try_from(text.to_owned()).map(Text).map_err(|err| {
            // A lone surrogate (say, from bytes decoded with
            // errors="surrogateescape") has no UTF-8 form.
            if err.is_instance_of::<PyUnicodeEncodeError>(py) {
                to_py(Error::InvalidUtf8)
            } else {
                err
            }
        })
    }
}

/// A quantity to hold: 1 to 2**63 - 1.
#[derive(Clone, Copy)]
pub struct Quantity(pub u64);

impl FromPyObject<'_, '_> for Quantity {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Quantity> {
        let quantity = match wide_int(&obj)? {
            Wide::Fits(value) => quantity_from_signed(value),
            Wide::Above => Err(Error::Overflow),
            Wide::Below => Err(Error::InvalidQuantity),
        };
        quantity.map(Quantity).map_err(to_py)
    }
}

/// A product's starting stock: 0 to 2**63 - 1.
#[derive(Clone, Copy)]
pub struct Count(pub u64);

impl FromPyObject<'_, '_> for Count {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Count> {
        count(&obj).map(Count)
    }
}

/// A change of on_hand. Zero and the sign are the engine's to judge; a
/// magnitude past 2**63 - 1 can never be applied, whichever the sign.
#[derive(Clone, Copy)]
pub struct Delta(pub i64);

impl FromPyObject<'_, '_> for Delta {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Delta> {
        match wide_int(&obj)? {
            Wide::Fits(value) => Ok(Delta(value)),
            Wide::Above | Wide::Below => Err(to_py(Error::Overflow)),
        }
    }
}

/// A bound on how many ended orders are remembered.
#[derive(Clone, Copy)]
pub struct Limit(pub usize);

impl FromPyObject<'_, '_> for Limit {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Limit> {
        let limit = count(&obj)?;
        usize::try_from(limit).map(Limit).map_err(|_| to_py(Error::Overflow))
    }
}

/// A time span given in seconds, as an int or a float. Negative and NaN are
/// refused as invalid durations; zero passes, for the engine to judge (it is
/// a valid step of the manual clock, not a valid hold time).
#[derive(Clone, Copy)]
pub struct Seconds(pub Duration);

impl FromPyObject<'_, '_> for Seconds {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Seconds> {
        let span = if obj.is_instance_of::<PyInt>() {
            match wide_int(&obj)? {
                Wide::Fits(secs) => {
                    u64::try_from(secs).map(Duration::from_secs).map_err(|_| Error::InvalidDuration)
                }
                Wide::Above => Err(Error::Overflow),
                Wide::Below => Err(Error::InvalidDuration),
            }
        } else {
            let secs: f64 = obj.extract()?;
            if secs.is_nan() || secs < 0.0 {
                Err(Error::InvalidDuration)
            } else {
                // Rounds to the nearest nanosecond; infinity does not fit.
                Duration::try_from_secs_f64(secs).map_err(|_| Error::Overflow)
            }
        };
        span.map(Seconds).map_err(to_py)
    }
}

/// The lines of an order: a mapping of product id to quantity, or an
/// iterable of `(product_id, quantity)` pairs.
pub fn order_lines(lines: &Bound<'_, PyAny>) -> PyResult<Vec<(Text, Quantity)>> {
    if let Ok(mapping) = lines.cast::<PyMapping>() {
        return mapping
            .items()?
            .iter()
            .map(|item| {
                let [product, quantity] = fields::<2>(&item, "(product_id, quantity)")?;
                Ok((product.extract()?, quantity.extract()?))
            })
            .collect();
    }
    if lines.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("lines must be (product_id, quantity) pairs, not a str"));
    }
    lines
        .try_iter()?
        .map(|line| {
            let [product, quantity] = fields::<2>(&line?, "(product_id, quantity)")?;
            Ok((product.extract()?, quantity.extract()?))
        })
        .collect()
}

/// Splits a tuple, list or other sequence of exactly `N` items.
pub fn fields<'py, const N: usize>(
    item: &Bound<'py, PyAny>,
    shape: &str,
) -> PyResult<[Bound<'py, PyAny>; N]> {
    let wrong =
        || PyTypeError::new_err(format!("expected a {shape} sequence, got {}", type_name(item)));
    let sequence = match item.cast::<PySequence>() {
        Ok(sequence) if !item.is_instance_of::<PyString>() => sequence,
        _ => return Err(wrong()),
    };
    if sequence.len()? != N {
        return Err(wrong());
    }
    let items: Vec<Bound<'py, PyAny>> =
        (0..N).map(|index| sequence.get_item(index)).collect::<PyResult<_>>()?;
    <[Bound<'py, PyAny>; N]>::try_from(items).map_err(|_| wrong())
}

/// A Python int, placed against the range of `i64`.
enum Wide {
    Fits(i64),
    Above,
    Below,
}

fn wide_int(obj: &Bound<'_, PyAny>) -> PyResult<Wide> {
    match obj.extract::<i64>() {
        Ok(value) => Ok(Wide::Fits(value)),
        Err(err) if err.is_instance_of::<PyOverflowError>(obj.py()) => {
            Ok(if obj.lt(0)? { Wide::Below } else { Wide::Above })
        }
        Err(err) => Err(err),
    }
}

fn count(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    let count = match wide_int(obj)? {
        Wide::Fits(value) => count_from_signed(value),
        Wide::Above => Err(Error::Overflow),
        Wide::Below => Err(Error::InvalidQuantity),
    };
    count.map_err(to_py)
}

/// The name of an object's type, for a TypeError's message.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|name| name.to_string()).unwrap_or_else(|_| "?".to_owned())
}
