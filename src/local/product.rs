//! A product as the backend keeps it: its counts and its id and name bytes in
//! one reference-counted allocation, reached through one pointer.
//!
//! A catalogue holds millions of products that are mostly never touched
//! after loading, so what one costs at rest is what counts: one allocation
//! instead of a cell plus an id and a name of their own. The id is copied
//! into an `Arc<str>` only when an event that names it is built, which
//! happens only while someone is subscribed.

use std::alloc::{self, Layout};
use std::mem;
use std::ptr::{self, NonNull};
use std::sync::atomic::{self, AtomicU32, Ordering};

use super::idmap::Identified;
use crate::ahead::prefetch;
use crate::order::OrderState;
use crate::sync::Mutex;
use crate::validate::{MAX_ID_BYTES, MAX_NAME_BYTES};

/// A product's stock, and how the holds on it ended. The outcome counters
/// live under the same lock as the stock: ending a hold takes that lock
/// anyway, and they are read only for metrics.
pub(super) struct Counts {
    pub on_hand: u64,
    pub reserved: u64,
    pub confirmed: u64,
    pub cancelled: u64,
    pub expired: u64,
}

impl Counts {
    pub(super) fn new(on_hand: u64) -> Counts {
        Counts { on_hand, reserved: 0, confirmed: 0, cancelled: 0, expired: 0 }
    }

    pub(super) fn available(&self) -> u64 {
        self.on_hand - self.reserved
    }

    pub(super) fn note_outcome(&mut self, state: OrderState) {
        match state {
            OrderState::Confirmed => self.confirmed += 1,
            OrderState::Cancelled => self.cancelled += 1,
            OrderState::Expired => self.expired += 1,
            OrderState::Held => {}
        }
    }
}

/// The start of a product's allocation; the id's bytes follow it, then the
/// name's. The count of handles and the two lengths share one word, so that
/// the header takes 56 bytes and a product with up to 48 bytes of id and
/// name fits the allocator's 112-byte size class.
struct Header {
    refs: AtomicU32,
    counts: Mutex<Counts>,
    id_len: u16,
    name_len: u16,
}

// Both lengths fit the fields they are stored in.
const _: () = assert!(MAX_ID_BYTES <= u16::MAX as usize);
const _: () = assert!(MAX_NAME_BYTES <= u16::MAX as usize);
// Loom's mutex is larger than std's, and its models keep a few products.
#[cfg(not(loom))]
const _: () = assert!(mem::size_of::<Header>() <= 56);

/// A shared handle on one product; cloning it shares the same counts.
pub(crate) struct Product {
    header: NonNull<Header>,
}

// SAFETY: a product is a `Mutex<Counts>`, which is Send and Sync, plus bytes
// that are never written after `Product::new` returns, and a reference count
// changed only atomically; nothing in it is tied to a thread.
unsafe impl Send for Product {}
// SAFETY: as for Send: shared access goes through the mutex, the atomic
// count or immutable bytes.
unsafe impl Sync for Product {}

impl Product {
    /// A product with `on_hand` units. The id and name were checked against
    /// their bounds before.
    pub(super) fn new(id: &str, name: &str, on_hand: u64) -> Product {
        let (id_len, name_len) = (Self::len16(id), Self::len16(name));
        let layout = Self::layout(id.len() + name.len());
        // SAFETY: the layout is never zero-sized: it starts with the header.
        let start = unsafe { alloc::alloc(layout) };
        let Some(header) = NonNull::new(start.cast::<Header>()) else {
            alloc::handle_alloc_error(layout);
        };
        let counts = Mutex::new(Counts::new(on_hand));
        // SAFETY: the allocation has room and alignment for the header, then
        // for the id's and the name's bytes right after it; the source
        // strings cannot overlap a block that was just allocated.
        unsafe {
            header.as_ptr().write(Header { refs: AtomicU32::new(1), counts, id_len, name_len });
            let text = start.add(mem::size_of::<Header>());
            ptr::copy_nonoverlapping(id.as_ptr(), text, id.len());
            ptr::copy_nonoverlapping(name.as_ptr(), text.add(id.len()), name.len());
        }
        Product { header }
    }

    /// Prefetches the product's header and the start of its id, which a
    /// lookup compares and a block locks.
    pub(super) fn fetch(&self) {
        prefetch(self.header.as_ptr().cast(), mem::size_of::<Header>() + 16);
    }

    fn len16(text: &str) -> u16 {
        u16::try_from(text.len()).expect("ids and names are checked against their bounds first")
    }

    fn layout(text_len: usize) -> Layout {
        let text = Layout::array::<u8>(text_len).expect("a bounded id and name");
        let (layout, _) = Layout::new::<Header>().extend(text).expect("a bounded id and name");
        layout.pad_to_align()
    }

    fn header(&self) -> &Header {
        // SAFETY: the header was written in `new` and lives while any handle
        // (this one included) does.
        unsafe { self.header.as_ref() }
    }

    fn text(&self) -> &[u8] {
        let header = self.header();
        let len = usize::from(header.id_len) + usize::from(header.name_len);
        // SAFETY: `new` wrote `len` bytes right after the header, in the same
        // allocation, and they are never written again.
        unsafe {
            let start = self.header.as_ptr().cast::<u8>().add(mem::size_of::<Header>());
            std::slice::from_raw_parts(start, len)
        }
    }

    pub(crate) fn id(&self) -> &str {
        let bytes = &self.text()[..usize::from(self.header().id_len)];
        // SAFETY: the bytes were copied from a `&str` whole.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    pub(super) fn name(&self) -> &str {
        let bytes = &self.text()[usize::from(self.header().id_len)..];
        // SAFETY: the bytes were copied from a `&str` whole.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    pub(super) fn counts(&self) -> &Mutex<Counts> {
        &self.header().counts
    }
}

impl Identified for Product {
    fn id(&self) -> &str {
        Product::id(self)
    }

    fn same(&self, other: &Self) -> bool {
        self.header == other.header
    }
}

impl Clone for Product {
    fn clone(&self) -> Product {
        // Relaxed as in `Arc`: a new handle is made from an existing one, which
        // already keeps the product alive.
        let old = self.header().refs.fetch_add(1, Ordering::Relaxed);
        // Each handle is an order line or a call in progress, so billions of
        // them mean leaked handles; stop long before the count could wrap
        // (even with many threads cloning at once) and free a product still
        // in use.
        if old > i32::MAX as u32 {
            std::process::abort();
        }
        Product { header: self.header }
    }
}

impl Drop for Product {
    fn drop(&mut self) {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other handle's last use happens before the product is freed.
        atomic::fence(Ordering::Acquire);
        let text_len = self.text().len();
        // SAFETY: this was the last handle, so nothing else can reach the
        // allocation; it was made in `new` with this layout.
        unsafe {
            ptr::drop_in_place(self.header.as_ptr());
            alloc::dealloc(self.header.as_ptr().cast(), Self::layout(text_len));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn keeps_id_name_and_counts_apart() {
        let product = Product::new("sku-1", "Kettle", 7);
        assert_eq!((product.id(), product.name()), ("sku-1", "Kettle"));
        assert_eq!(product.counts().lock().available(), 7);

        let empty_name = Product::new("x", "", 0);
        assert_eq!((empty_name.id(), empty_name.name()), ("x", ""));
    }

    #[test]
    fn longest_id_and_name_fit() {
        let (id, name) = ("i".repeat(MAX_ID_BYTES), "n".repeat(MAX_NAME_BYTES));
        let product = Product::new(&id, &name, 1);
        assert_eq!((product.id(), product.name()), (id.as_str(), name.as_str()));
    }

    #[test]
    fn clones_share_counts_and_outlive_the_original() {
        let product = Product::new("sku-2", "Mug", 3);
        let mut clones: Vec<Product> = (0..4).map(|_| product.clone()).collect();
        drop(product);
        thread::scope(|scope| {
            for clone in clones.drain(1..) {
                scope.spawn(move || clone.counts().lock().reserved += 1);
            }
        });
        assert_eq!(clones[0].counts().lock().reserved, 3);
        assert_eq!(clones[0].id(), "sku-2");
    }
}
