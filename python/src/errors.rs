//! The one place where the core's errors become Python exceptions.
//!
//! Each exception subclasses both `StockkeeperError` and the builtin a Python
//! caller would reach for (`ValueError` for bad input, `KeyError` for an
//! unknown id, `RuntimeError` for an engine that cannot serve the call), so
//! `except ValueError:` keeps working. A class with two bases cannot be
//! declared with `create_exception!`, so the classes are built from a table
//! when the module loads.

use pyo3::exceptions::{
    PyBaseException, PyException, PyKeyError, PyOverflowError, PyRuntimeError, PyValueError,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use stockkeeper::{Error, ErrorCode};

/// The builtin exceptions our classes also derive from.
#[derive(Clone, Copy)]
enum Builtin {
    Exception,
    ValueError,
    OverflowError,
    KeyError,
    RuntimeError,
}

impl Builtin {
    fn class(self, py: Python<'_>) -> Bound<'_, PyType> {
        match self {
            Builtin::Exception => py.get_type::<PyException>(),
            Builtin::ValueError => py.get_type::<PyValueError>(),
            Builtin::OverflowError => py.get_type::<PyOverflowError>(),
            Builtin::KeyError => py.get_type::<PyKeyError>(),
            Builtin::RuntimeError => py.get_type::<PyRuntimeError>(),
        }
    }
}

/// Our exception classes, in the order they are built: a parent comes before
/// its children. The discriminant is the index into [`SPECS`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Base,
    InvalidInput,
    Overflow,
    NotFound,
    UnknownProduct,
    UnknownOrder,
    Conflict,
    ProductExists,
    DuplicateOrder,
    InsufficientStock,
    AlreadyConfirmed,
    AlreadyCancelled,
    Expired,
    ClockNotManual,
    EngineClosed,
}

struct Spec {
    class: Class,
    name: &'static str,
    parent: Option<Class>,
    builtin: Option<Builtin>,
    /// The code every instance carries, for a class that stands for one code.
    code: Option<ErrorCode>,
    doc: &'static str,
}

const SPECS: [Spec; 15] = [
    Spec {
        class: Class::Base,
        name: "StockkeeperError",
        parent: None,
        builtin: Some(Builtin::Exception),
        code: None,
        doc: "Base of every error the engine raises. `code` holds the stable \
              snake_case name of the error, the same in every language.",
    },
    Spec {
        class: Class::InvalidInput,
        name: "InvalidInput",
        parent: Some(Class::Base),
        builtin: Some(Builtin::ValueError),
        code: None,
        doc: "An argument was refused before anything changed: an empty, \
              oversized, NUL-containing or non-UTF-8 id, a bad name, a quantity \
              below 1, a negative count or a zero or negative duration.",
    },
    Spec {
        class: Class::Overflow,
        name: "Overflow",
        parent: Some(Class::InvalidInput),
        builtin: Some(Builtin::OverflowError),
        code: Some(ErrorCode::Overflow),
        doc: "A count would pass 2**63 - 1, or a time would pass its bound.",
    },
    Spec {
        class: Class::NotFound,
        name: "NotFound",
        parent: Some(Class::Base),
        builtin: Some(Builtin::KeyError),
        code: None,
        doc: "No product or order has this id.",
    },
    Spec {
        class: Class::UnknownProduct,
        name: "UnknownProduct",
        parent: Some(Class::NotFound),
        builtin: None,
        code: Some(ErrorCode::UnknownProduct),
        doc: "No product has this id; `product` names it.",
    },
    Spec {
        class: Class::UnknownOrder,
        name: "UnknownOrder",
        parent: Some(Class::NotFound),
        builtin: None,
        code: Some(ErrorCode::UnknownOrder),
        doc: "No live or remembered order has this id.",
    },
    Spec {
        class: Class::Conflict,
        name: "Conflict",
        parent: Some(Class::Base),
        builtin: None,
        code: None,
        doc: "The call does not fit the current state of a product or order.",
    },
    Spec {
        class: Class::ProductExists,
        name: "ProductExists",
        parent: Some(Class::Conflict),
        builtin: None,
        code: Some(ErrorCode::ProductExists),
        doc: "A product with this id exists already.",
    },
    Spec {
        class: Class::DuplicateOrder,
        name: "DuplicateOrder",
        parent: Some(Class::Conflict),
        builtin: None,
        code: Some(ErrorCode::DuplicateOrder),
        doc: "The order id is held, or ended within the retention period.",
    },
    Spec {
        class: Class::InsufficientStock,
        name: "InsufficientStock",
        parent: Some(Class::Conflict),
        builtin: None,
        code: Some(ErrorCode::InsufficientStock),
        doc: "A product cannot cover the quantity asked for; `product`, \
              `requested` and `available` tell which and by how much.",
    },
    Spec {
        class: Class::AlreadyConfirmed,
        name: "AlreadyConfirmed",
        parent: Some(Class::Conflict),
        builtin: None,
        code: Some(ErrorCode::AlreadyConfirmed),
        doc: "The order was confirmed already.",
    },
    Spec {
        class: Class::AlreadyCancelled,
        name: "AlreadyCancelled",
        parent: Some(Class::Conflict),
        builtin: None,
        code: Some(ErrorCode::AlreadyCancelled),
        doc: "The order was cancelled already.",
    },
    Spec {
        class: Class::Expired,
        name: "Expired",
        parent: Some(Class::Conflict),
        builtin: None,
        code: Some(ErrorCode::Expired),
        doc: "The order's deadline passed; its stock went back to the shelf.",
    },
    Spec {
        class: Class::ClockNotManual,
        name: "ClockNotManual",
        parent: Some(Class::Base),
        builtin: Some(Builtin::RuntimeError),
        code: Some(ErrorCode::ClockNotManual),
        doc: "The call needs the manual clock; the engine runs on the system clock.",
    },
    Spec {
        class: Class::EngineClosed,
        name: "EngineClosed",
        parent: Some(Class::Base),
        builtin: Some(Builtin::RuntimeError),
        code: Some(ErrorCode::Closed),
        doc: "The engine was closed.",
    },
];

// The table is indexed by `Class`, and a class is built after its parent.
const _: () = {
    let mut index = 0;
    while index < SPECS.len() {
        assert!(SPECS[index].class as usize == index);
        if let Some(parent) = SPECS[index].parent {
            assert!((parent as usize) < index);
        }
        index += 1;
    }
};

/// The class that stands for each code.
fn class_of(code: ErrorCode) -> Class {
    match code {
        ErrorCode::EmptyId
        | ErrorCode::IdTooLong
        | ErrorCode::IdContainsNul
        | ErrorCode::InvalidUtf8
        | ErrorCode::InvalidName
        | ErrorCode::InvalidQuantity
        | ErrorCode::InvalidDuration => Class::InvalidInput,
        ErrorCode::Overflow => Class::Overflow,
        ErrorCode::UnknownProduct => Class::UnknownProduct,
        ErrorCode::UnknownOrder => Class::UnknownOrder,
        ErrorCode::ProductExists => Class::ProductExists,
        ErrorCode::DuplicateOrder => Class::DuplicateOrder,
        ErrorCode::InsufficientStock => Class::InsufficientStock,
        ErrorCode::AlreadyConfirmed => Class::AlreadyConfirmed,
        ErrorCode::AlreadyCancelled => Class::AlreadyCancelled,
        ErrorCode::Expired => Class::Expired,
        ErrorCode::ClockNotManual => Class::ClockNotManual,
        ErrorCode::Closed => Class::EngineClosed,
    }
}

static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&[Py<PyType>]> {
    CLASSES.get_or_try_init(py, || build(py)).map(Vec::as_slice)
}

fn build(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let type_of_classes = py.get_type::<PyType>();
    // KeyError quotes its message as a repr; ours are sentences.
    let plain_str = py.get_type::<PyBaseException>().getattr("__str__")?;
    let mut built: Vec<Py<PyType>> = Vec::with_capacity(SPECS.len());
    for spec in &SPECS {
        let mut bases = Vec::new();
        if let Some(parent) = spec.parent {
            bases.push(built[parent as usize].bind(py).clone());
        }
        if let Some(builtin) = spec.builtin {
            bases.push(builtin.class(py));
        }
        let namespace = PyDict::new(py);
        namespace.set_item("__module__", "stockkeeper")?;
        namespace.set_item("__doc__", spec.doc)?;
        if let Some(code) = spec.code {
            namespace.set_item("code", code.name())?;
        }
        if matches!(spec.builtin, Some(Builtin::KeyError)) {
            namespace.set_item("__str__", &plain_str)?;
        }
        let class = type_of_classes.call1((spec.name, PyTuple::new(py, bases)?, namespace))?;
        built.push(class.cast_into::<PyType>()?.unbind());
    }
    Ok(built)
}

/// Adds every exception class to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    for (spec, class) in SPECS.iter().zip(classes(py)?) {
        module.add(spec.name, class.bind(py))?;
    }
    Ok(())
}

/// Whether the engine refused the call itself (bad input, an unknown id, a
/// state that does not fit) rather than being unable to serve any call. The
/// True/False front door answers the first kind False and raises the other.
pub fn is_refusal(error: &Error) -> bool {
    !matches!(class_of(error.code()), Class::EngineClosed | Class::ClockNotManual)
}

/// Whether the error says no product or order has the id, or that no
/// product or order could have it: the refusals a lookup answers None.
pub fn is_missing(error: &Error) -> bool {
    matches!(
        class_of(error.code()),
        Class::UnknownProduct | Class::UnknownOrder | Class::InvalidInput | Class::Overflow
    )
}

/// The True/False answer to a call: True when done, False when the engine
/// refused it, and the error back when the engine could serve no call.
pub fn answer<T>(result: Result<T, Error>) -> Result<bool, Error> {
    match result {
        Ok(_) => Ok(true),
        Err(error) if is_refusal(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Turns a core error into the Python exception that stands for it, with
/// `code` and, where the error names them, `product`, `requested` and
/// `available` set on the instance.
pub fn to_py(error: Error) -> PyErr {
    Python::attach(|py| instance(py, &error).unwrap_or_else(|failed| failed))
}

fn instance(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let code = error.code();
    let class = classes(py)?[class_of(code) as usize].bind(py);
    let exception = class.call1((error.to_string(),))?;
    exception.setattr(intern!(py, "code"), code.name())?;
    if let Some(product) = error.product() {
        exception.setattr(intern!(py, "product"), product)?;
    }
    if let Error::InsufficientStock { requested, available, .. } = error {
        exception.setattr(intern!(py, "requested"), requested)?;
        exception.setattr(intern!(py, "available"), available)?;
    }
    Ok(PyErr::from_value(exception))
}
