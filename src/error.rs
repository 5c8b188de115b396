//! The one error type of the core, and the stable codes every front door
//! shares.

use std::fmt;

/// Why an operation was refused. A refused operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An id was the empty string.
    EmptyId,
    /// An id was longer than [`MAX_ID_BYTES`](crate::MAX_ID_BYTES) bytes.
    IdTooLong { len: usize },
    /// An id contained a NUL byte.
    IdContainsNul,
    /// A string handed in through a front door was not valid UTF-8.
    InvalidUtf8,
    /// A product name was longer than [`MAX_NAME_BYTES`](crate::MAX_NAME_BYTES)
    /// bytes or contained a NUL byte.
    InvalidName,
    /// A quantity was zero or negative, or an order had no lines.
    InvalidQuantity,
    /// A count or a time would pass its bound
    /// ([`MAX_COUNT`](crate::MAX_COUNT) for counts).
    Overflow,
    /// A hold time or an extension was zero.
    InvalidDuration,
    /// No product has this id.
    UnknownProduct { product: String },
    /// No live or remembered order has this id.
    UnknownOrder,
    /// A product with this id exists already.
    ProductExists,
    /// The order id is held, or ended within the retention period.
    DuplicateOrder,
    /// The product cannot cover the quantity asked for.
    InsufficientStock { product: String, requested: u64, available: u64 },
    /// The order was confirmed already.
    AlreadyConfirmed,
    /// The order was cancelled already.
    AlreadyCancelled,
    /// The order's deadline passed: its stock went back to the shelf.
    Expired,
    /// The operation needs the manual clock and the engine runs on the system clock.
    ClockNotManual,
    /// The engine was closed.
    Closed,
}

/// A stable, language-neutral name for each kind of [`Error`].
///
/// The numbers are fixed and grouped by cause (1xx: bad input, 2xx: unknown
/// id, 3xx: conflict with the current state, 4xx: engine state); a number is
/// never reused for another meaning. The C ABI returns them as status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorCode {
    EmptyId = 101,
    IdTooLong = 102,
    IdContainsNul = 103,
    InvalidUtf8 = 104,
    InvalidName = 105,
    InvalidQuantity = 106,
    Overflow = 107,
    InvalidDuration = 108,
    UnknownProduct = 201,
    UnknownOrder = 202,
    ProductExists = 301,
    DuplicateOrder = 302,
    InsufficientStock = 303,
    AlreadyConfirmed = 304,
    AlreadyCancelled = 305,
    Expired = 306,
    ClockNotManual = 401,
    Closed = 402,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::EmptyId,
        ErrorCode::IdTooLong,
        ErrorCode::IdContainsNul,
        ErrorCode::InvalidUtf8,
        ErrorCode::InvalidName,
        ErrorCode::InvalidQuantity,
        ErrorCode::Overflow,
        ErrorCode::InvalidDuration,
        ErrorCode::UnknownProduct,
        ErrorCode::UnknownOrder,
        ErrorCode::ProductExists,
        ErrorCode::DuplicateOrder,
        ErrorCode::InsufficientStock,
        ErrorCode::AlreadyConfirmed,
        ErrorCode::AlreadyCancelled,
        ErrorCode::Expired,
        ErrorCode::ClockNotManual,
        ErrorCode::Closed,
    ];

    /// The code with this number (its C status), if any.
    pub(crate) fn from_number(number: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| *code as u32 == number)
    }

    /// The snake_case name used by every front door and by the behaviour cases.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::EmptyId => "empty_id",
            ErrorCode::IdTooLong => "id_too_long",
            ErrorCode::IdContainsNul => "id_contains_nul",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidQuantity => "invalid_quantity",
            ErrorCode::Overflow => "overflow",
            ErrorCode::InvalidDuration => "invalid_duration",
            ErrorCode::UnknownProduct => "unknown_product",
            ErrorCode::UnknownOrder => "unknown_order",
            ErrorCode::ProductExists => "product_exists",
            ErrorCode::DuplicateOrder => "duplicate_order",
            ErrorCode::InsufficientStock => "insufficient_stock",
            ErrorCode::AlreadyConfirmed => "already_confirmed",
            ErrorCode::AlreadyCancelled => "already_cancelled",
            ErrorCode::Expired => "expired",
            ErrorCode::ClockNotManual => "clock_not_manual",
            ErrorCode::Closed => "closed",
        }
    }

    /// A one-line description, the same for every error of this kind.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::EmptyId => "id is empty",
            ErrorCode::IdTooLong => "id is longer than 256 bytes",
            ErrorCode::IdContainsNul => "id contains a NUL byte",
            ErrorCode::InvalidUtf8 => "string is not valid UTF-8",
            ErrorCode::InvalidName => "name is longer than 1024 bytes or contains a NUL byte",
            ErrorCode::InvalidQuantity => "quantity must be positive, and a count not negative",
            ErrorCode::Overflow => "count or time would pass its bound",
            ErrorCode::InvalidDuration => "duration is negative, or zero where it must be positive",
            ErrorCode::UnknownProduct => "no product has this id",
            ErrorCode::UnknownOrder => "no order has this id",
            ErrorCode::ProductExists => "a product with this id exists already",
            ErrorCode::DuplicateOrder => "order id is in use or was used recently",
            ErrorCode::InsufficientStock => "not enough stock available",
            ErrorCode::AlreadyConfirmed => "order was confirmed already",
            ErrorCode::AlreadyCancelled => "order was cancelled already",
            ErrorCode::Expired => "order's hold expired",
            ErrorCode::ClockNotManual => "engine does not run on the manual clock",
            ErrorCode::Closed => "engine is closed",
        }
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::EmptyId => ErrorCode::EmptyId,
            Error::IdTooLong { .. } => ErrorCode::IdTooLong,
            Error::IdContainsNul => ErrorCode::IdContainsNul,
            Error::InvalidUtf8 => ErrorCode::InvalidUtf8,
            Error::InvalidName => ErrorCode::InvalidName,
            Error::InvalidQuantity => ErrorCode::InvalidQuantity,
            Error::Overflow => ErrorCode::Overflow,
            Error::InvalidDuration => ErrorCode::InvalidDuration,
            Error::UnknownProduct { .. } => ErrorCode::UnknownProduct,
            Error::UnknownOrder => ErrorCode::UnknownOrder,
            Error::ProductExists => ErrorCode::ProductExists,
            Error::DuplicateOrder => ErrorCode::DuplicateOrder,
            Error::InsufficientStock { .. } => ErrorCode::InsufficientStock,
            Error::AlreadyConfirmed => ErrorCode::AlreadyConfirmed,
            Error::AlreadyCancelled => ErrorCode::AlreadyCancelled,
            Error::Expired => ErrorCode::Expired,
            Error::ClockNotManual => ErrorCode::ClockNotManual,
            Error::Closed => ErrorCode::Closed,
        }
    }

    /// The product an error is about, where it names one.
    pub fn product(&self) -> Option<&str> {
        match self {
            Error::UnknownProduct { product } | Error::InsufficientStock { product, .. } => {
                Some(product)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::IdTooLong { len } => write!(f, "id is {len} bytes, more than 256"),
            Error::UnknownProduct { product } => write!(f, "no product has id {product:?}"),
            Error::InsufficientStock { product, requested, available } => {
                write!(f, "product {product:?} has {available} available, {requested} requested")
            }
            other => f.write_str(other.code().message()),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of every fallible operation of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
