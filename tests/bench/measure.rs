//! What every workload shares: ids and names, random numbers, resident
//! memory, latency percentiles and the one-line JSON records the report reads.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set under `cargo test`, where the suite runs only to show that every
/// workload still works: its records are counted, and kept out of the log.
pub static QUIET: AtomicBool = AtomicBool::new(false);
/// How many records were made while quiet.
pub static HELD_BACK: AtomicUsize = AtomicUsize::new(0);

/// Many strings in one buffer, written out before a clock starts so that a
/// workload times the store alone, not the formatting of its ids.
pub struct Strings {
    text: String,
    ends: Vec<usize>,
}

impl Strings {
    /// `count` strings, the `i`th written by `write(i, buffer)`.
    pub fn new(count: u64, mut write: impl FnMut(u64, &mut String) -> &str) -> Strings {
        let mut strings = Strings { text: String::new(), ends: Vec::with_capacity(count as usize) };
        let mut buf = String::new();
        for i in 0..count {
            strings.text.push_str(write(i, &mut buf));
            strings.ends.push(strings.text.len());
        }
        strings
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// The bytes of every string together.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }
}

/// A product id as a shop would have it: `sku-` and ten digits.
pub fn product_id(index: u64, buf: &mut String) -> &str {
    buf.clear();
    let _ = write!(buf, "sku-{index:010}");
    buf
}

/// An order id, unique within a run: `ord-`, the writer's tag, a sequence.
pub fn order_id<'a>(tag: &str, seq: u64, buf: &'a mut String) -> &'a str {
    buf.clear();
    let _ = write!(buf, "ord-{tag}-{seq:012}");
    buf
}

const ADJECTIVES: [&str; 8] =
    ["Compact", "Classic", "Deluxe", "Everyday", "Premium", "Travel", "Heavy-Duty", "Slim"];
const MATERIALS: [&str; 6] = ["Steel", "Bamboo", "Ceramic", "Cotton", "Glass", "Oak"];
const NOUNS: [&str; 10] = [
    "Kettle",
    "Mug",
    "Backpack",
    "Desk Lamp",
    "Cutting Board",
    "Water Bottle",
    "Towel Set",
    "Frying Pan",
    "Notebook",
    "Headphones",
];

/// A product name of 20 to 40 bytes, such as "Premium Glass Kettle 1.5 L #123".
pub fn product_name(index: u64, buf: &mut String) -> &str {
    buf.clear();
    let pick = |n: usize, salt: u64| (mix(index ^ salt) % n as u64) as usize;
    let _ = write!(
        buf,
        "{} {} {} #{}",
        ADJECTIVES[pick(ADJECTIVES.len(), 1)],
        MATERIALS[pick(MATERIALS.len(), 2)],
        NOUNS[pick(NOUNS.len(), 3)],
        index % 1000
    );
    buf
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

/// xorshift64*: fast, and good enough to pick products.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(mix(seed) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf-like popularity over `n` products by inverting the continuous power
/// law, so that no table of n weights is needed. Ranks are scattered over the
/// catalogue by a multiplicative permutation, so that popular products are
/// not neighbours in any map.
pub struct Zipf {
    n: u64,
    exponent: f64,
    span: f64,
}

impl Zipf {
    pub fn new(n: u64, exponent: f64) -> Zipf {
        let span = (n as f64).powf(1.0 - exponent) - 1.0;
        Zipf { n, exponent, span }
    }

    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let rank = (self.span * rng.unit() + 1.0).powf(1.0 / (1.0 - self.exponent)) as u64;
        let rank = rank.clamp(1, self.n) - 1;
        (rank.wrapping_mul(2_654_435_761)) % self.n
    }
}

/// Resident memory of this process, from /proc/self/statm: every page it
/// touched and still holds, heap and stacks and mapped code alike.
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(0) as u64
}

/// Latencies of a systematic sample of operations: one in every `every`, so
/// that timing them costs the throughput figure almost nothing.
pub struct Sampler {
    every: u64,
    seen: u64,
    pub nanos: Vec<u64>,
}

impl Sampler {
    pub fn new(every: u64) -> Sampler {
        Sampler { every, seen: 0, nanos: Vec::new() }
    }

    /// Runs `op`, timing it when it falls in the sample.
    #[inline]
    pub fn run<T>(&mut self, op: impl FnOnce() -> T) -> T {
        self.seen += 1;
        if self.seen % self.every != 0 {
            return op();
        }
        let start = Instant::now();
        let out = op();
        self.nanos.push(start.elapsed().as_nanos() as u64);
        out
    }

    pub fn merge(samplers: Vec<Sampler>) -> Vec<u64> {
        samplers.into_iter().flat_map(|s| s.nanos).collect()
    }
}

#[derive(Default, Clone, Copy)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

pub fn percentiles(mut nanos: Vec<u64>) -> Percentiles {
    if nanos.is_empty() {
        return Percentiles::default();
    }
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q).round() as usize];
    Percentiles { p50: at(0.50), p99: at(0.99), p999: at(0.999), max: at(1.0) }
}

/// One measured figure, printed as a JSON line on stdout for the report.
pub struct Record {
    fields: Vec<(String, String)>,
}

impl Record {
    pub fn new(workload: &str, subject: &str) -> Record {
        let mut record = Record { fields: Vec::new() };
        record.text("workload", workload).text("subject", subject);
        record
    }

    pub fn text(&mut self, key: &str, value: &str) -> &mut Record {
        self.fields.push((key.into(), format!("\"{value}\"")));
        self
    }

    pub fn num(&mut self, key: &str, value: f64) -> &mut Record {
        self.fields.push((key.into(), format!("{value}")));
        self
    }

    /// Throughput over `ops` operations in `elapsed`, and the sampled
    /// latencies.
    pub fn rate(&mut self, ops: u64, elapsed: Duration, nanos: Vec<u64>) -> &mut Record {
        let latency = percentiles(nanos);
        self.num("ops", ops as f64)
            .num("secs", elapsed.as_secs_f64())
            .num("ops_per_sec", ops as f64 / elapsed.as_secs_f64())
            .latency(latency)
    }

    pub fn latency(&mut self, latency: Percentiles) -> &mut Record {
        self.num("p50_ns", latency.p50 as f64)
            .num("p99_ns", latency.p99 as f64)
            .num("p999_ns", latency.p999 as f64)
            .num("max_ns", latency.max as f64)
    }

    pub fn print(&self) {
        if QUIET.load(Ordering::Relaxed) {
            HELD_BACK.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let body: Vec<String> =
            self.fields.iter().map(|(key, value)| format!("\"{key}\": {value}")).collect();
        println!("{{{}}}", body.join(", "));
    }
}
