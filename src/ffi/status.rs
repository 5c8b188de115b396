//! The status codes of the C ABI: zero for success, a few codes of the
//! boundary itself, and every core error code under its own fixed number.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use crate::error::{Error, ErrorCode};

/// What a call did. Numbers are fixed and grouped by cause; a retired number
/// is never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkStatus {
    Ok = 0,
    /// A required pointer was NULL.
    NullArgument = 1,
    /// The caller's buffer is too small for the answer.
    BufferTooSmall = 2,
    /// An index was past the end.
    OutOfRange = 3,
    /// A bug in the library was caught at the boundary; the call may have
    /// had no effect or its full effect, never half of one.
    Internal = 9,
    // The codes below are the core's error codes, under the same numbers.
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

const BOUNDARY: [(SkStatus, &str, &str); 5] = [
    (SkStatus::Ok, "ok", "success"),
    (SkStatus::NullArgument, "null_argument", "a required pointer was NULL"),
    (SkStatus::BufferTooSmall, "buffer_too_small", "the buffer is too small for the answer"),
    (SkStatus::OutOfRange, "out_of_range", "the index is past the end"),
    (SkStatus::Internal, "internal", "internal error in stockkeeper"),
];

impl From<ErrorCode> for SkStatus {
    fn from(code: ErrorCode) -> SkStatus {
        match code {
            ErrorCode::EmptyId => SkStatus::EmptyId,
            ErrorCode::IdTooLong => SkStatus::IdTooLong,
            ErrorCode::IdContainsNul => SkStatus::IdContainsNul,
            ErrorCode::InvalidUtf8 => SkStatus::InvalidUtf8,
            ErrorCode::InvalidName => SkStatus::InvalidName,
            ErrorCode::InvalidQuantity => SkStatus::InvalidQuantity,
            ErrorCode::Overflow => SkStatus::Overflow,
            ErrorCode::InvalidDuration => SkStatus::InvalidDuration,
            ErrorCode::UnknownProduct => SkStatus::UnknownProduct,
            ErrorCode::UnknownOrder => SkStatus::UnknownOrder,
            ErrorCode::ProductExists => SkStatus::ProductExists,
            ErrorCode::DuplicateOrder => SkStatus::DuplicateOrder,
            ErrorCode::InsufficientStock => SkStatus::InsufficientStock,
            ErrorCode::AlreadyConfirmed => SkStatus::AlreadyConfirmed,
            ErrorCode::AlreadyCancelled => SkStatus::AlreadyCancelled,
            ErrorCode::Expired => SkStatus::Expired,
            ErrorCode::ClockNotManual => SkStatus::ClockNotManual,
            ErrorCode::Closed => SkStatus::Closed,
        }
    }
}

impl From<Error> for SkStatus {
    fn from(error: Error) -> SkStatus {
        error.code().into()
    }
}

/// Name and message of every known code, as C strings made once.
fn table() -> &'static HashMap<u32, (CString, CString)> {
    static TABLE: OnceLock<HashMap<u32, (CString, CString)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let boundary =
            BOUNDARY.iter().map(|&(status, name, message)| (status as u32, name, message));
        let core = ErrorCode::ALL.iter().map(|&code| (code as u32, code.name(), code.message()));
        boundary
            .chain(core)
            .map(|(number, name, message)| {
                // The texts are literals of this crate without NUL bytes.
                let name = CString::new(name).unwrap_or_default();
                let message = CString::new(message).unwrap_or_default();
                (number, (name, message))
            })
            .collect()
    })
}

pub(super) fn name(status: u32) -> &'static CStr {
    table().get(&status).map_or(c"unknown_status", |(name, _)| name.as_c_str())
}

pub(super) fn message(status: u32) -> &'static CStr {
    table().get(&status).map_or(c"unknown status code", |(_, message)| message.as_c_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_keeps_its_number_and_has_a_name() {
        for code in ErrorCode::ALL {
            assert_eq!(SkStatus::from(code) as u32, code as u32, "{code:?}");
            assert_eq!(name(code as u32).to_str(), Ok(code.name()));
        }
        assert_eq!(name(12345), c"unknown_status");
        assert_eq!(message(SkStatus::Ok as u32), c"success");
    }
}
