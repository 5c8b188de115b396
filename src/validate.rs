//! The bounds on ids, names and counts, checked in one place for every front
//! door.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::order::Line;

/// The longest id accepted, in bytes of UTF-8.
pub const MAX_ID_BYTES: usize = 256;

/// The longest product name accepted, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 1024;

/// The largest count any product or order may reach: 2^63 - 1, so that every
/// count fits a signed 64-bit integer in C, Go and Python alike.
pub const MAX_COUNT: u64 = 9_223_372_036_854_775_807;

/// Checks a product or order id: non-empty, at most [`MAX_ID_BYTES`], no NUL.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::EmptyId);
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::IdTooLong { len: id.len() });
    }
    if id.as_bytes().contains(&0) {
        return Err(Error::IdContainsNul);
    }
    Ok(())
}

/// Checks a product name: at most [`MAX_NAME_BYTES`], no NUL. It may be empty.
pub fn check_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_BYTES || name.as_bytes().contains(&0) {
        return Err(Error::InvalidName);
    }
    Ok(())
}

/// Checks a count that may be zero (a product's starting stock).
pub fn check_count(count: u64) -> Result<()> {
    if count > MAX_COUNT {
        return Err(Error::Overflow);
    }
    Ok(())
}

/// Checks a quantity to hold: at least 1, at most [`MAX_COUNT`].
pub fn check_quantity(quantity: u64) -> Result<()> {
    if quantity == 0 {
        return Err(Error::InvalidQuantity);
    }
    check_count(quantity)
}

/// Checks one line of a block as the core judges it: its product id, then
/// its quantity.
pub fn check_line(product: &str, quantity: u64) -> Result<()> {
    check_id(product)?;
    check_quantity(quantity)
}

/// Turns a signed quantity from a front door whose integers are signed into
/// the core's unsigned one: zero or negative is [`Error::InvalidQuantity`].
pub fn quantity_from_signed(quantity: i64) -> Result<u64> {
    if quantity < 1 {
        return Err(Error::InvalidQuantity);
    }
    Ok(quantity as u64)
}

/// Turns a signed quantity from a front door into one for the engine to
/// judge: below 1 it becomes 0, which a block refuses with
/// [`Error::InvalidQuantity`] once it has checked the ids, so that a call
/// with several bad arguments is refused for the same one through every
/// door.
pub fn quantity_for_engine(quantity: i64) -> u64 {
    u64::try_from(quantity).unwrap_or(0)
}

/// Turns a signed starting count into the core's: negative is
/// [`Error::InvalidQuantity`].
pub fn count_from_signed(count: i64) -> Result<u64> {
    u64::try_from(count).map_err(|_| Error::InvalidQuantity)
}

/// Adds two counts, failing with [`Error::Overflow`] past [`MAX_COUNT`].
pub fn add_counts(a: u64, b: u64) -> Result<u64> {
    match a.checked_add(b) {
        Some(sum) if sum <= MAX_COUNT => Ok(sum),
        _ => Err(Error::Overflow),
    }
}

/// The lowest product id whose lines' quantities sum past [`MAX_COUNT`], if
/// any: the product an order of these lines is refused for with
/// [`Error::Overflow`]. Quantities already checked, each within the bound.
pub(crate) fn summed_past_max<'a>(lines: &[Line<'a>]) -> Option<&'a str> {
    let total = lines.iter().try_fold(0, |sum, line| add_counts(sum, line.quantity).ok());
    if total.is_some() {
        return None;
    }
    let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
    for line in lines {
        let sum = sums.entry(line.product).or_default();
        *sum = sum.saturating_add(line.quantity);
    }
    sums.into_iter().find(|&(_, sum)| sum > MAX_COUNT).map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_bound_is_the_largest_signed_64_bit_integer() {
        assert_eq!(MAX_COUNT, i64::MAX as u64);
    }

    #[test]
    fn ids_at_and_past_the_bounds() {
        assert_eq!(check_id(""), Err(Error::EmptyId));
        assert_eq!(check_id(&"a".repeat(256)), Ok(()));
        assert_eq!(check_id(&"a".repeat(257)), Err(Error::IdTooLong { len: 257 }));
        assert_eq!(check_id("a\0b"), Err(Error::IdContainsNul));
        assert_eq!(check_id(&"é".repeat(128)), Ok(()));
        assert_eq!(check_id(&"é".repeat(129)), Err(Error::IdTooLong { len: 258 }));
    }

    #[test]
    fn counts_at_and_past_the_bound() {
        assert_eq!(check_count(MAX_COUNT), Ok(()));
        assert_eq!(check_count(MAX_COUNT + 1), Err(Error::Overflow));
        assert_eq!(check_quantity(0), Err(Error::InvalidQuantity));
        assert_eq!(add_counts(MAX_COUNT, 0), Ok(MAX_COUNT));
        assert_eq!(add_counts(MAX_COUNT, 1), Err(Error::Overflow));
        assert_eq!(add_counts(u64::MAX, 1), Err(Error::Overflow));
        assert_eq!(quantity_from_signed(-1), Err(Error::InvalidQuantity));
        assert_eq!(quantity_from_signed(0), Err(Error::InvalidQuantity));
        assert_eq!(quantity_from_signed(i64::MAX), Ok(MAX_COUNT));
        assert_eq!(count_from_signed(0), Ok(0));
        assert_eq!(count_from_signed(i64::MIN), Err(Error::InvalidQuantity));
    }

    #[test]
    fn the_lowest_product_summed_past_the_bound() {
        let line = Line::new;
        assert_eq!(summed_past_max(&[line("a", MAX_COUNT), line("b", MAX_COUNT)]), None);
        assert_eq!(summed_past_max(&[line("a", MAX_COUNT), line("a", 0)]), None);
        let both = [line("c", MAX_COUNT), line("b", 1), line("c", 1), line("b", MAX_COUNT)];
        assert_eq!(summed_past_max(&both), Some("b"));
        assert_eq!(summed_past_max(&both[..3]), Some("c"));
    }
}
