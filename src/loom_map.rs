//! A stand-in, for the loom models only, for the part of
//! `dashmap::DashMap` that the backend uses: the same calls and entry
//! shapes, over a few shards of loom-locked vectors.
//!
//! A shard's lock is held as long as DashMap holds its shard's lock: while a
//! [`Ref`] or an [`Entry`] lives, and for the whole of `remove_if`. So the
//! backend's lock order stays what it is in a normal build, and two ids in
//! different shards never wait on each other. Ids pick their shard with the
//! map's own hasher, which has a fixed seed under loom, so every execution
//! of a model puts each id in the same shard.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use crate::sync::{Mutex, MutexGuard};

/// At most this many shards, whatever the caller asks for: enough for ids
/// to fall apart, few enough that a model builds its maps in no time.
pub(crate) const MAX_SHARDS: usize = 4;

/// Which of `shards` shards `key` lives in, under `hasher`.
pub(crate) fn shard_index<Q: Hash + ?Sized>(
    hasher: &impl BuildHasher,
    shards: usize,
    key: &Q,
) -> usize {
    (hasher.hash_one(key) % shards as u64) as usize
}

type Shard<K, V> = Vec<(K, V)>;

pub(crate) struct DashMap<K, V, S> {
    shards: Box<[Mutex<Shard<K, V>>]>,
    hasher: S,
}

impl<K: Hash + Eq, V, S: BuildHasher> DashMap<K, V, S> {
    pub(crate) fn with_hasher_and_shard_amount(hasher: S, amount: usize) -> Self {
        let shards = (0..amount.clamp(1, MAX_SHARDS)).map(|_| Mutex::new(Vec::new())).collect();
        DashMap { shards, hasher }
    }

    pub(crate) fn hasher(&self) -> &S {
        &self.hasher
    }

    /// Locks the shard of `key` and finds it there.
    fn find<Q>(&self, key: &Q) -> (MutexGuard<'_, Shard<K, V>>, Option<usize>)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.shards[shard_index(&self.hasher, self.shards.len(), key)].lock();
        let index = entries.iter().position(|(k, _)| k.borrow() == key);
        (entries, index)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<Ref<'_, K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (entries, index) = self.find(key);
        Some(Ref { entries, index: index? })
    }

    pub(crate) fn entry(&self, key: K) -> Entry<'_, K, V> {
        match self.find(&key) {
            (entries, Some(index)) => {
                Entry::Occupied(OccupiedEntry { found: Ref { entries, index }, key })
            }
            (entries, None) => Entry::Vacant(VacantEntry { entries, key }),
        }
    }

    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            shard.lock().clear();
        }
    }

    pub(crate) fn shrink_to_fit(&self) {
        for shard in self.shards.iter() {
            shard.lock().shrink_to_fit();
        }
    }

    /// Removes `key` if `remove` says so of its entry.
    pub(crate) fn remove_if<Q>(
        &self,
        key: &Q,
        remove: impl FnOnce(&K, &V) -> bool,
    ) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (mut entries, index) = self.find(key);
        let index = index?;
        let (k, v) = &entries[index];
        remove(k, v).then(|| entries.swap_remove(index))
    }
}

/// An entry found in the map; its shard stays locked while this lives.
pub(crate) struct Ref<'a, K, V> {
    entries: MutexGuard<'a, Shard<K, V>>,
    index: usize,
}

impl<K, V> Ref<'_, K, V> {
    pub(crate) fn key(&self) -> &K {
        &self.entries[self.index].0
    }
}

pub(crate) enum Entry<'a, K, V> {
    Occupied(OccupiedEntry<'a, K, V>),
    Vacant(VacantEntry<'a, K, V>),
}

/// A key found in the map; its shard stays locked while this lives.
pub(crate) struct OccupiedEntry<'a, K, V> {
    found: Ref<'a, K, V>,
    /// The key the entry was asked for with.
    key: K,
}

impl<K, V> OccupiedEntry<'_, K, V> {
    /// The key in the map.
    pub(crate) fn key(&self) -> &K {
        self.found.key()
    }

    /// The key the entry was asked for with; the shard's lock is let go.
    pub(crate) fn into_key(self) -> K {
        self.key
    }
}

/// A key not in the map; its shard stays locked until it is inserted or
/// this is dropped.
pub(crate) struct VacantEntry<'a, K, V> {
    entries: MutexGuard<'a, Shard<K, V>>,
    key: K,
}

impl<K, V> VacantEntry<'_, K, V> {
    pub(crate) fn key(&self) -> &K {
        &self.key
    }

    pub(crate) fn insert(mut self, value: V) {
        self.entries.push((self.key, value));
    }

    /// The key the entry was asked for with; the shard's lock is let go.
    pub(crate) fn into_key(self) -> K {
        self.key
    }
}
