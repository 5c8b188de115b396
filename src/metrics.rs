//! Counters of what the engine did, read as a snapshot or as Prometheus text.

use std::fmt::Write as _;
use std::ops::AddAssign;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ErrorCode;

/// How many holds started and how each ended, and the units still held.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HoldCounts {
    pub held: u64,
    pub confirmed: u64,
    pub cancelled: u64,
    pub expired: u64,
    /// Wider than a count: many products may each hold up to MAX_COUNT.
    pub held_units: u128,
}

impl AddAssign for HoldCounts {
    fn add_assign(&mut self, other: HoldCounts) {
        self.held += other.held;
        self.confirmed += other.confirmed;
        self.cancelled += other.cancelled;
        self.expired += other.expired;
        self.held_units += other.held_units;
    }
}

/// How the holds on one product ended. Laid out as C lays out a struct, as
/// the C ABI hands it out.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProductOutcomes {
    pub confirmed: u64,
    pub cancelled: u64,
    pub expired: u64,
}

impl ProductOutcomes {
    /// The share of ended holds that ended confirmed, from 0 to 1; `None`
    /// before any hold ended.
    pub fn confirmed_share(&self) -> Option<f64> {
        self.share(self.confirmed)
    }

    /// The share of ended holds that expired, from 0 to 1; `None` before any
    /// hold ended.
    pub fn expired_share(&self) -> Option<f64> {
        self.share(self.expired)
    }

    fn share(&self, part: u64) -> Option<f64> {
        // Summed wide: the fields are public, and three near 2^64 must not wrap.
        let ended =
            u128::from(self.confirmed) + u128::from(self.cancelled) + u128::from(self.expired);
        (ended > 0).then(|| part as f64 / ended as f64)
    }
}

/// A snapshot of the engine's counters. The hold figures are read together,
/// so `live_holds == held - confirmed - cancelled - expired` always holds in a
/// snapshot. Laid out as C lays out a struct, as the C ABI hands it out.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Metrics {
    /// Holds started.
    pub held: u64,
    /// Holds that ended confirmed.
    pub confirmed: u64,
    /// Holds that ended cancelled.
    pub cancelled: u64,
    /// Holds that ended expired.
    pub expired: u64,
    /// Blocks, and stock corrections, refused because a product had too
    /// little available.
    pub refused_stock: u64,
    /// Blocks refused because the order id was in use or remembered.
    pub refused_duplicate: u64,
    /// Calls refused because no product or order had the id.
    pub refused_unknown: u64,
    /// Confirms, cancels and extensions refused because the hold had ended.
    pub refused_ended: u64,
    /// Calls refused for bad input (ids, names, quantities, durations,
    /// overflow).
    pub refused_invalid: u64,
    /// Holds live now.
    pub live_holds: u64,
    /// Units reserved by live holds now, summed over every product; it
    /// saturates at `u64::MAX`, which only holds of many products each near
    /// the count bound can reach.
    pub held_units: u64,
}

/// Why a call was refused, as counted in [`Metrics`].
#[derive(Clone, Copy)]
enum Refusal {
    Stock,
    Duplicate,
    Unknown,
    Ended,
    Invalid,
}

impl Refusal {
    fn of(code: ErrorCode) -> Option<Refusal> {
        Some(match code {
            ErrorCode::InsufficientStock => Refusal::Stock,
            ErrorCode::DuplicateOrder => Refusal::Duplicate,
            ErrorCode::UnknownProduct | ErrorCode::UnknownOrder => Refusal::Unknown,
            ErrorCode::AlreadyConfirmed | ErrorCode::AlreadyCancelled | ErrorCode::Expired => {
                Refusal::Ended
            }
            ErrorCode::ClockNotManual | ErrorCode::Closed | ErrorCode::ProductExists => {
                return None
            }
            _ => Refusal::Invalid,
        })
    }
}

/// Refusals by reason. Each is one relaxed atomic add on a failing call.
#[derive(Default)]
pub(crate) struct Refusals {
    counts: [AtomicU64; 5],
}

/// Whether [`Metrics`] counts a call refused with `code`: not a closed
/// engine, an existing product or the system clock, which no count is for.
pub(crate) fn counts_refusal(code: ErrorCode) -> bool {
    Refusal::of(code).is_some()
}

impl Refusals {
    pub(crate) fn note(&self, code: ErrorCode) {
        if let Some(reason) = Refusal::of(code) {
            self.counts[reason as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, holds: HoldCounts) -> Metrics {
        let read = |reason: Refusal| self.counts[reason as usize].load(Ordering::Relaxed);
        Metrics {
            held: holds.held,
            confirmed: holds.confirmed,
            cancelled: holds.cancelled,
            expired: holds.expired,
            refused_stock: read(Refusal::Stock),
            refused_duplicate: read(Refusal::Duplicate),
            refused_unknown: read(Refusal::Unknown),
            refused_ended: read(Refusal::Ended),
            refused_invalid: read(Refusal::Invalid),
            live_holds: holds.held - holds.confirmed - holds.cancelled - holds.expired,
            held_units: u64::try_from(holds.held_units).unwrap_or(u64::MAX),
        }
    }
}

/// Renders a snapshot, and the outcomes of the products asked for, in the
/// Prometheus text exposition format (version 0.0.4).
pub(crate) fn prometheus(metrics: &Metrics, products: &[(&str, ProductOutcomes)]) -> String {
    let mut text = String::new();
    header(&mut text, "holds_total", "counter", "Holds started (held) and how they ended.");
    for (outcome, value) in [
        ("held", metrics.held),
        ("confirmed", metrics.confirmed),
        ("cancelled", metrics.cancelled),
        ("expired", metrics.expired),
    ] {
        sample(&mut text, "holds_total", &format!("outcome=\"{outcome}\""), value);
    }
    header(&mut text, "refusals_total", "counter", "Calls refused, by reason.");
    for (reason, value) in [
        ("stock", metrics.refused_stock),
        ("duplicate", metrics.refused_duplicate),
        ("unknown", metrics.refused_unknown),
        ("ended", metrics.refused_ended),
        ("invalid", metrics.refused_invalid),
    ] {
        sample(&mut text, "refusals_total", &format!("reason=\"{reason}\""), value);
    }
    header(&mut text, "live_holds", "gauge", "Holds live now.");
    sample(&mut text, "live_holds", "", metrics.live_holds);
    header(&mut text, "held_units", "gauge", "Units reserved by live holds now.");
    sample(&mut text, "held_units", "", metrics.held_units);
    if products.is_empty() {
        return text;
    }
    let family = "product_holds_ended_total";
    header(&mut text, family, "counter", "Ended holds on a product, by outcome.");
    for (product, outcomes) in products {
        let product = escape_label(product);
        for (outcome, value) in [
            ("confirmed", outcomes.confirmed),
            ("cancelled", outcomes.cancelled),
            ("expired", outcomes.expired),
        ] {
            let labels = format!("product=\"{product}\",outcome=\"{outcome}\"");
            sample(&mut text, family, &labels, value);
        }
    }
    text
}

fn header(text: &mut String, family: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP stockkeeper_{family} {help}");
    let _ = writeln!(text, "# TYPE stockkeeper_{family} {kind}");
}

fn sample(text: &mut String, family: &str, labels: &str, value: u64) {
    match labels.is_empty() {
        true => writeln!(text, "stockkeeper_{family} {value}"),
        false => writeln!(text, "stockkeeper_{family}{{{labels}}} {value}"),
    }
    .unwrap_or_default();
}

/// Escapes a label value as the exposition format asks: backslash, quote and
/// newline.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family_once_and_escapes_labels() {
        let metrics =
            Metrics { held: 5, confirmed: 2, expired: 1, live_holds: 2, ..Metrics::default() };
        let outcomes = ProductOutcomes { confirmed: 2, cancelled: 0, expired: 1 };
        let text = prometheus(&metrics, &[("a\"b", outcomes)]);
        assert!(text.contains("stockkeeper_holds_total{outcome=\"held\"} 5\n"));
        assert!(text.contains("stockkeeper_holds_total{outcome=\"confirmed\"} 2\n"));
        assert!(text.contains("stockkeeper_live_holds 2\n"));
        assert!(text.contains(
            "stockkeeper_product_holds_ended_total{product=\"a\\\"b\",outcome=\"expired\"} 1\n"
        ));
        assert_eq!(text.matches("# TYPE stockkeeper_holds_total counter").count(), 1);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<u64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn shares_are_none_until_a_hold_ends() {
        assert_eq!(ProductOutcomes::default().confirmed_share(), None);
        let outcomes = ProductOutcomes { confirmed: 3, cancelled: 0, expired: 1 };
        assert_eq!(outcomes.confirmed_share(), Some(0.75));
        assert_eq!(outcomes.expired_share(), Some(0.25));
    }

    #[test]
    fn shares_of_counts_near_the_top_of_u64_do_not_wrap() {
        let outcomes = ProductOutcomes { confirmed: u64::MAX, cancelled: 1, expired: 0 };
        assert_eq!(outcomes.confirmed_share(), Some(1.0));
        let halves = ProductOutcomes { confirmed: 1 << 63, cancelled: 0, expired: 1 << 63 };
        assert_eq!(halves.confirmed_share(), Some(0.5));
        assert_eq!(halves.expired_share(), Some(0.5));
    }
}
