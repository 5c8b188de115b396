//! The map behind products and orders: each value by its id, each bucket
//! holding the value and its id's hash.
//!
//! A bucket keeps the hash so that the map never has to reach into a value
//! to hash it again while it grows, nor to tell two ids apart whose hashes
//! differ. With millions of products (or ended orders remembered) those
//! values are mostly out of cache, and reaching into them took a third of a
//! catalogue load, and a tenth of a block+confirm pair while the order map
//! grew.
//!
//! The map's hasher makes that work: an id (a `str`) is hashed with foldhash
//! (see Cargo.toml for why), while a bucket's key hands over the hash it
//! stored, computed from its id by the same hasher, so that the two always
//! agree.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, Hasher};
#[cfg(not(loom))]
use std::mem;

use foldhash::fast::FoldHasher;

#[cfg(not(loom))]
use crate::ahead::{prefetch_line, PREFETCHES};
use crate::sync::{DashMap, Entry, RandomState, VacantEntry};

/// A value kept by its id. Cloning it is cheap: it is a shared handle.
pub(super) trait Identified: Clone {
    fn id(&self) -> &str;

    /// Whether `other` is this very value, not only one with its id.
    fn same(&self, other: &Self) -> bool;
}

pub(super) struct IdMap<T> {
    map: DashMap<Keyed<T>, (), IdHashing>,
}

impl<T: Identified> IdMap<T> {
    pub(super) fn new() -> IdMap<T> {
        IdMap { map: DashMap::with_hasher_and_shard_amount(IdHashing::default(), 256) }
    }

    /// The hash a value with this id is kept under.
    pub(super) fn hash(&self, id: &str) -> u64 {
        self.map.hasher().hash_one(id)
    }

    /// Starts fetching the control bytes and the first buckets where an id
    /// of `hash` is looked for. Reads nothing there, so the lock of its
    /// shard is held for a moment only, and never waited for: while another
    /// thread writes to the shard, nothing is fetched. Where the CPU does
    /// not prefetch, the lock is not even tried.
    #[cfg(not(loom))]
    pub(super) fn fetch_place(&self, hash: u64) {
        if !PREFETCHES {
            return;
        }
        let (end, first) = {
            let shard = &self.map.shards()[self.map.determine_shard(hash as usize)];
            let Some(table) = shard.try_read() else {
                return;
            };
            (
                table.data_end().as_ptr().cast::<u8>().cast_const(),
                hash as usize & (table.buckets() - 1),
            )
        };
        // The table keeps its control bytes from the end of its buckets on,
        // and its buckets below that end, the first of them highest; were
        // that to change, these fetches would only miss.
        prefetch_line(end.wrapping_add(first));
        prefetch_line(end.wrapping_sub((first + 1) * mem::size_of::<Bucket<T>>()));
    }

    /// Once [`IdMap::fetch_place`] has brought the place in, starts fetching
    /// the value of `hash` there, if one is: `fetch` is handed the value
    /// with the shard locked for reading. Values are told apart by their
    /// hash alone: one of another id with the same hash would only be
    /// fetched for nothing. As [`IdMap::fetch_place`], it takes the lock
    /// only if it can at once: while another thread writes in the shard,
    /// nothing is fetched, rather than reading ahead waiting on a lock the
    /// call itself will wait on again.
    #[cfg(not(loom))]
    pub(super) fn fetch_value(&self, hash: u64, fetch: impl FnOnce(&T)) {
        let shard = &self.map.shards()[self.map.determine_shard(hash as usize)];
        let Some(table) = shard.try_read() else {
            return;
        };
        if let Some(bucket) = table.find(hash, |(key, _)| key.hash == hash) {
            // SAFETY: the bucket was just found in the table, which the
            // guard keeps unchanged until the reference is gone.
            fetch(&unsafe { bucket.as_ref() }.0.value);
        }
    }

    /// Loom's stand-in map has no shards to read: nothing is fetched.
    #[cfg(loom)]
    pub(super) fn fetch_place(&self, _hash: u64) {}

    #[cfg(loom)]
    pub(super) fn fetch_value(&self, _hash: u64, _fetch: impl FnOnce(&T)) {}

    pub(super) fn get(&self, id: &str) -> Option<T> {
        self.map.get(id).map(|bucket| bucket.key().value.clone())
    }

    /// Adds `value`, made with `hash(value.id())`; false, and nothing
    /// changes, if its id is taken.
    pub(super) fn insert(&self, hash: u64, value: T) -> bool {
        self.vacancy(hash, value).map(Vacancy::fill).is_some()
    }

    /// The place `value` (made with `hash(value.id())`) would take, or None
    /// if its id is taken. Until the place is filled or dropped, its part of
    /// the map stays locked: no other id there can be found, added or
    /// removed. Dropping it adds nothing.
    pub(super) fn vacancy(&self, hash: u64, value: T) -> Option<Vacancy<'_, T>> {
        self.vacancy_past(hash, value, |_| false).ok()
    }

    /// [`IdMap::vacancy`], where a value that `stale` says of is no longer
    /// there: it is taken out of the map first, whether or not the place is
    /// then filled. A value is stale for good once it is, and is the same
    /// handle ([`Identified::same`]) as long as it is kept. Gives `value`
    /// back if its id is taken.
    pub(super) fn vacancy_past(
        &self,
        hash: u64,
        value: T,
        stale: impl Fn(&T) -> bool,
    ) -> Result<Vacancy<'_, T>, T> {
        let mut key = Keyed { hash, value };
        loop {
            match self.map.entry(key) {
                Entry::Vacant(slot) => return Ok(Vacancy(slot)),
                Entry::Occupied(kept) if stale(&kept.key().value) => {
                    // Taken out with the shard let go and locked again, as
                    // DashMap's occupied entry cannot remove and give back
                    // the key it was asked with; another thread may take
                    // the place meanwhile, which the next round sees.
                    let old = kept.key().value.clone();
                    key = kept.into_key();
                    self.remove(&old);
                }
                Entry::Occupied(taken) => return Err(taken.into_key().value),
            }
        }
    }

    /// Removes every value, and gives back the memory that kept them.
    pub(super) fn clear(&self) {
        self.map.clear();
        self.map.shrink_to_fit();
    }

    /// Removes `value` if the map keeps it, this very value
    /// ([`Identified::same`]), not only one with its id.
    pub(super) fn remove(&self, value: &T) {
        self.remove_if(value.id(), |kept| kept.same(value));
    }

    /// Removes the value kept for `id` if `this` is that value.
    fn remove_if(&self, id: &str, this: impl FnOnce(&T) -> bool) {
        self.map.remove_if(id, |key, _| this(&key.value));
    }
}

/// A free place in an [`IdMap`], locked until filled or dropped.
pub(super) struct Vacancy<'a, T>(VacantEntry<'a, Keyed<T>, ()>);

impl<T: Identified> Vacancy<'_, T> {
    /// The value waiting to be added.
    pub(super) fn value(&self) -> &T {
        &self.0.key().value
    }

    pub(super) fn fill(self) {
        self.0.insert(());
    }

    /// The value waiting to be added, back, with the place let go.
    pub(super) fn into_value(self) -> T {
        self.0.into_key().value
    }
}

/// What a bucket of the map's table holds.
#[cfg(not(loom))]
type Bucket<T> = (Keyed<T>, dashmap::SharedValue<()>);

/// A value with the hash of its id, as the map's hasher gives it.
struct Keyed<T> {
    hash: u64,
    value: T,
}

/// Hands the stored hash to the map's hasher, which takes a lone `u64` as
/// the finished hash. Under that hasher a key hashes as its id does.
impl<T> Hash for Keyed<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Ids that hash apart differ, so the value is read only when the hashes
/// match.
impl<T: Identified> PartialEq for Keyed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.value.id() == other.value.id()
    }
}

impl<T: Identified> Eq for Keyed<T> {}

impl<T: Identified> Borrow<str> for Keyed<T> {
    fn borrow(&self) -> &str {
        self.value.id()
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
    use super::super::product::Product;
    use super::*;

    fn add(map: &IdMap<Product>, id: &str, name: &str) -> bool {
        map.insert(map.hash(id), Product::new(id, name, 1))
    }

    #[test]
    fn finds_by_id_and_refuses_a_taken_id() {
        let map = IdMap::new();
        assert!(add(&map, "a", "A"));
        assert!(add(&map, "b", "B"));
        assert!(!add(&map, "a", "Other"));
        assert_eq!(map.get("a").map(|p| p.name().to_owned()), Some("A".to_owned()));
        assert_eq!(map.get("b").map(|p| p.name().to_owned()), Some("B".to_owned()));
        assert!(map.get("c").is_none());
    }

    #[test]
    fn a_key_hashes_as_its_id() {
        let hashing = IdHashing::default();
        for id in ["x", "sku-0000000001", &"long".repeat(40)] {
            let hash = hashing.hash_one(id);
            let key = Keyed { hash, value: Product::new(id, "", 0) };
            assert_eq!(hashing.hash_one(&key), hash);
        }
    }

    #[test]
    fn fetching_ahead_hands_over_only_the_value_of_that_hash() {
        let map = IdMap::new();
        let absent = map.hash("a");
        map.fetch_place(absent);
        map.fetch_value(absent, |_| panic!("an empty map has no value to fetch"));
        for id in ["a", "b", "sku-0000000001"] {
            assert!(add(&map, id, &id.to_uppercase()));
        }
        for id in ["a", "b", "sku-0000000001"] {
            let (hash, mut seen) = (map.hash(id), Vec::new());
            map.fetch_place(hash);
            map.fetch_value(hash, |product| seen.push(product.name().to_owned()));
            assert_eq!(seen, [id.to_uppercase()]);
        }
        map.fetch_value(map.hash("c"), |_| panic!("no value has the hash of c"));
    }

    #[test]
    fn a_vacancy_adds_only_when_filled() {
        let map = IdMap::new();
        let vacancy = map.vacancy(map.hash("a"), Product::new("a", "A", 1));
        assert_eq!(vacancy.map(|v| v.value().name().to_owned()), Some("A".to_owned()));
        assert!(map.get("a").is_none(), "a dropped vacancy adds nothing");
        let vacancy = map.vacancy(map.hash("a"), Product::new("a", "A", 1)).expect("a is free");
        assert_eq!(vacancy.into_value().name(), "A");
        assert!(map.get("a").is_none(), "a vacancy given up adds nothing");
        map.vacancy(map.hash("a"), Product::new("a", "A", 1)).expect("a is free").fill();
        assert!(map.vacancy(map.hash("a"), Product::new("a", "B", 1)).is_none());
        assert_eq!(map.get("a").map(|p| p.name().to_owned()), Some("A".to_owned()));
    }

    #[test]
    fn a_vacancy_past_a_stale_value_takes_it_out_first() {
        let map = IdMap::new();
        assert!(add(&map, "a", "Old"));
        let stale = |p: &Product| p.name() == "Old";
        let vacancy = map.vacancy_past(map.hash("a"), Product::new("a", "New", 1), stale).ok();
        assert_eq!(vacancy.map(|v| v.value().name().to_owned()), Some("New".to_owned()));
        assert!(map.get("a").is_none(), "the stale value is out, and nothing was filled");
        let vacancy = map.vacancy_past(map.hash("a"), Product::new("a", "New", 1), stale).ok();
        vacancy.expect("a is free").fill();
        let refused = map.vacancy_past(map.hash("a"), Product::new("a", "Newer", 1), stale);
        let given_back = refused.err().map(|p| p.name().to_owned());
        assert_eq!(
            given_back.as_deref(),
            Some("Newer"),
            "a value that is not stale keeps its place"
        );
        assert_eq!(map.get("a").map(|p| p.name().to_owned()), Some("New".to_owned()));
    }

    #[test]
    fn removes_only_the_value_asked_for() {
        let map = IdMap::new();
        assert!(add(&map, "a", "A"));
        map.remove_if("a", |p| p.name() == "B");
        assert!(map.get("a").is_some());
        map.remove_if("a", |p| p.name() == "A");
        assert!(map.get("a").is_none());
        map.remove_if("a", |_| true);
        assert!(add(&map, "a", "B"));
    }

    #[test]
    fn stays_whole_while_it_grows() {
        let map = IdMap::new();
        // Under Miri, enough for every shard to grow at least once.
        let count = if cfg!(miri) { 1_000 } else { 20_000 };
        let ids: Vec<String> = (0..count).map(|i| format!("sku-{i}")).collect();
        for id in &ids {
            assert!(add(&map, id, ""));
        }
        assert!(ids.iter().all(|id| map.get(id).is_some_and(|p| p.id() == id)));
    }
}
