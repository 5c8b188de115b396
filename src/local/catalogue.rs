//! The product map: every product by id, each bucket holding the product and
//! its id's hash.
//!
//! A bucket keeps the hash so that the map never has to reach into a product
//! to hash it again while it grows, nor to tell two ids apart whose hashes
//! differ. With millions of products those products are mostly out of cache,
//! and reaching into them took a third of a catalogue load.
//!
//! The map's hasher makes that work: an id (a `str`) is hashed with foldhash
//! (see Cargo.toml for why), while a bucket's key hands over the hash it
//! stored, computed from its id by the same hasher, so that the two always
//! agree.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, Hasher};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use foldhash::fast::{FoldHasher, RandomState};

use super::product::Product;

pub(super) struct Catalogue {
    products: DashMap<Keyed, (), IdHashing>,
}

impl Catalogue {
    pub(super) fn new() -> Catalogue {
        let products = DashMap::with_hasher_and_shard_amount(IdHashing::default(), 256);
        Catalogue { products }
    }

    pub(super) fn get(&self, id: &str) -> Option<Product> {
        self.products.get(id).map(|bucket| bucket.key().product.clone())
    }

    /// Adds `product`; false, and nothing changes, if its id is taken.
    pub(super) fn insert(&self, product: Product) -> bool {
        let hash = self.products.hasher().hash_one(product.id());
        match self.products.entry(Keyed { hash, product }) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(());
                true
            }
        }
    }
}

/// A product with the hash of its id, as the map's hasher gives it.
struct Keyed {
    hash: u64,
    product: Product,
}

/// Hands the stored hash to the map's hasher, which takes a lone `u64` as
/// the finished hash. Under that hasher a key hashes as its id does.
impl Hash for Keyed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Ids that hash apart differ, so the product is read only when the hashes
/// match.
impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.product.id() == other.product.id()
    }
}

impl Eq for Keyed {}

impl Borrow<str> for Keyed {
    fn borrow(&self) -> &str {
        self.product.id()
    }
}

/// The map's hasher: foldhash, seeded at random per map, so ids cannot be
/// picked to collide ahead of time.
#[derive(Clone, Default)]
struct IdHashing(RandomState);

impl BuildHasher for IdHashing {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher { bytes: self.0.build_hasher(), stored: None }
    }
}

/// Hashes the bytes written to it with foldhash, except that a `u64`,
/// which only a [`Keyed`] writes (a `str` writes bytes and one `u8`), is the
/// hash that key stored and is returned as it is.
struct IdHasher {
    bytes: FoldHasher<'static>,
    stored: Option<u64>,
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.bytes.write(bytes);
    }

    fn write_u8(&mut self, byte: u8) {
        self.bytes.write_u8(byte);
    }

    fn write_u64(&mut self, stored: u64) {
        self.stored = Some(stored);
    }

    fn finish(&self) -> u64 {
        self.stored.unwrap_or_else(|| self.bytes.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_id_and_refuses_a_taken_id() {
        let catalogue = Catalogue::new();
        assert!(catalogue.insert(Product::new("a", "A", 1)));
        assert!(catalogue.insert(Product::new("b", "B", 2)));
        assert!(!catalogue.insert(Product::new("a", "Other", 3)));
        assert_eq!(catalogue.get("a").map(|p| p.name().to_owned()), Some("A".to_owned()));
        assert_eq!(catalogue.get("b").map(|p| p.name().to_owned()), Some("B".to_owned()));
        assert!(catalogue.get("c").is_none());
    }

    #[test]
    fn a_key_hashes_as_its_id() {
        let hashing = IdHashing::default();
        for id in ["x", "sku-0000000001", &"long".repeat(40)] {
            let hash = hashing.hash_one(id);
            let key = Keyed { hash, product: Product::new(id, "", 0) };
            assert_eq!(hashing.hash_one(&key), hash);
        }
    }

    #[test]
    fn stays_whole_while_it_grows() {
        let catalogue = Catalogue::new();
        // Under Miri, enough for every shard to grow at least once.
        let count = if cfg!(miri) { 1_000 } else { 20_000 };
        let ids: Vec<String> = (0..count).map(|i| format!("sku-{i}")).collect();
        for id in &ids {
            assert!(catalogue.insert(Product::new(id, "", 0)));
        }
        assert!(ids.iter().all(|id| catalogue.get(id).is_some_and(|p| p.id() == id)));
    }
}
