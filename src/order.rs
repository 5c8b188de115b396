//! The public values the engine hands out: stock figures, order lines, order
//! status and the events a subscriber receives.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The three numbers of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stock {
    /// Units physically in stock, held ones included.
    pub on_hand: u64,
    /// Units held by live orders.
    pub reserved: u64,
    /// `on_hand - reserved`: what a new order can still hold.
    pub available: u64,
}

impl Stock {
    pub(crate) fn new(on_hand: u64, reserved: u64) -> Stock {
        Stock { on_hand, reserved, available: on_hand - reserved }
    }
}

/// One line of an order: a product and how many units of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub product: &'a str,
    pub quantity: u64,
}

impl<'a> Line<'a> {
    pub fn new(product: &'a str, quantity: u64) -> Line<'a> {
        Line { product, quantity }
    }
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Its stock is reserved until the deadline.
    Held,
    /// Paid: its units left on_hand.
    Confirmed,
    /// Payment failed: its units went back to available.
    Cancelled,
    /// Its deadline passed: its units went back to available.
    Expired,
}

impl OrderState {
    /// The lower-case name every front door uses.
    pub fn name(self) -> &'static str {
        match self {
            OrderState::Held => "held",
            OrderState::Confirmed => "confirmed",
            OrderState::Cancelled => "cancelled",
            OrderState::Expired => "expired",
        }
    }

    /// Whether the hold has ended.
    pub fn is_ended(self) -> bool {
        self != OrderState::Held
    }
}

/// When a hold runs out, on the engine's monotonic clock and on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// Time since the engine started; the hold may be confirmed up to and
    /// including this instant.
    pub since_start: Duration,
    /// The same instant on the wall clock, as it stood when the engine
    /// started. For display only: deadlines never follow wall-clock changes.
    pub wall: SystemTime,
}

/// What an order holds and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStatus {
    pub state: OrderState,
    /// The order's lines, one per product (lines naming the same product are
    /// summed), sorted by product id.
    pub lines: Vec<(String, u64)>,
    /// The deadline the hold had (or has, while it is held).
    pub deadline: Deadline,
}

/// Something that happened in the engine, delivered to subscribers after
/// every lock is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A hold ended: confirmed, cancelled or expired.
    HoldEnded { order: Arc<str>, state: OrderState, lines: Arc<[(Arc<str>, u64)]> },
    /// A product's available stock reached zero.
    SoldOut { product: Arc<str> },
}
