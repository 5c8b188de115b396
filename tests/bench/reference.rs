//! The minimal reference: the same concurrent map the engine is built on,
//! holding bare counters, doing only the work a hold cannot avoid (a checked
//! decrement of the product's stock and an insert of the order) and a confirm
//! that marks the order. No deadlines, no release schedule, no metrics, no
//! validation: the engine's distance from it is the price of the contract.
//!
//! Both it and the engine sit behind [`Store`], so one workload drives either.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use foldhash::fast::RandomState;
use stockkeeper::{Engine, Error};

pub trait Store: Sync {
    fn add(&self, id: &str, name: &str, on_hand: u64) -> bool;
    fn available(&self, id: &str) -> Option<u64>;
    fn block(&self, product: &str, quantity: u64, order: &str) -> bool;
    fn confirm(&self, order: &str) -> bool;
    fn cancel(&self, order: &str) -> bool;
    fn restock(&self, id: &str, units: u64) -> bool;
}

impl Store for Engine {
    fn add(&self, id: &str, name: &str, on_hand: u64) -> bool {
        self.add_product(id, name, on_hand).is_ok()
    }

    fn available(&self, id: &str) -> Option<u64> {
        Engine::available(self, id).ok()
    }

    fn block(&self, product: &str, quantity: u64, order: &str) -> bool {
        match Engine::block(self, product, quantity, order, None) {
            Ok(_) => true,
            Err(Error::InsufficientStock { .. }) => false,
            Err(other) => panic!("block failed: {other}"),
        }
    }

    fn confirm(&self, order: &str) -> bool {
        Engine::confirm(self, order).is_ok()
    }

    fn cancel(&self, order: &str) -> bool {
        Engine::cancel(self, order).is_ok()
    }

    fn restock(&self, id: &str, units: u64) -> bool {
        self.update_inventory(id, units as i64).is_ok()
    }
}

struct Held {
    product: Box<str>,
    quantity: u64,
    ended: bool,
}

/// Hashed as the engine hashes its maps, so that the two differ only in the
/// work they do.
#[derive(Default)]
pub struct Reference {
    products: DashMap<Box<str>, AtomicU64, RandomState>,
    orders: DashMap<Box<str>, Held, RandomState>,
}

impl Reference {
    fn end(&self, order: &str, give_back: bool) -> bool {
        let Some(mut held) = self.orders.get_mut(order) else { return false };
        if std::mem::replace(&mut held.ended, true) {
            return false;
        }
        if give_back {
            if let Some(stock) = self.products.get(&held.product) {
                stock.fetch_add(held.quantity, Ordering::AcqRel);
            }
        }
        true
    }
}

impl Store for Reference {
    fn add(&self, id: &str, _name: &str, on_hand: u64) -> bool {
        match self.products.entry(id.into()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(AtomicU64::new(on_hand));
                true
            }
        }
    }

    fn available(&self, id: &str) -> Option<u64> {
        self.products.get(id).map(|stock| stock.load(Ordering::Acquire))
    }

    fn block(&self, product: &str, quantity: u64, order: &str) -> bool {
        let Some(stock) = self.products.get(product) else { return false };
        let taken = stock
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |units| units.checked_sub(quantity));
        if taken.is_err() {
            return false;
        }
        drop(stock);
        let held = Held { product: product.into(), quantity, ended: false };
        match self.orders.entry(order.into()) {
            Entry::Occupied(_) => panic!("order ids are unique in every workload"),
            Entry::Vacant(slot) => {
                slot.insert(held);
                true
            }
        }
    }

    fn confirm(&self, order: &str) -> bool {
        self.end(order, false)
    }

    fn cancel(&self, order: &str) -> bool {
        self.end(order, true)
    }

    fn restock(&self, id: &str, units: u64) -> bool {
        self.products.get(id).map(|stock| stock.fetch_add(units, Ordering::AcqRel)).is_some()
    }
}
