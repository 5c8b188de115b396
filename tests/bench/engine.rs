//! The Rust benchmarks: the engine and the minimal reference on the same
//! workloads, each workload in a fresh process of its own so that resident
//! memory and allocator state do not carry over from one to the next.
//!
//! `cargo bench --bench engine` runs the full suite and prints one JSON line
//! per figure on stdout (progress goes to stderr); `tests/bench/report.py`
//! turns the lines of every language into `tests/bench/RESULTS.md`. Under
//! `cargo test` (no `--bench` argument) every workload runs once, in this
//! process, on a catalogue small enough to take a moment: a check that the
//! suite still works, not a measurement.

mod measure;
mod reference;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use stockkeeper::{Engine, Lookup, Options};

use crate::measure::{
    order_id, percentiles, product_id, product_name, resident_bytes, Record, Rng, Sampler, Strings,
    Zipf,
};
use crate::reference::{Reference, Store};

/// How big each workload is.
#[derive(Clone, Copy)]
struct Scale {
    products: u64,
    reads: u64,
    pairs: u64,
    flash: u64,
    expiring: u64,
    expiry_margin: Duration,
    /// How long after the release the concurrent blocks are still measured:
    /// a release pass removes the orders it forgot from the order map once
    /// every hold due is released, and the blocks meanwhile count too.
    after_release: Duration,
    prompt_rounds: u64,
    prompt_live: u64,
    ffi_products: u64,
    ffi_pairs: u64,
    /// The catalogue and pair count of python/benchmarks/bench_service.py.
    py_scale: u64,
}

const FULL: Scale = Scale {
    products: 5_000_000,
    reads: 2_000_000,
    pairs: 1_000_000,
    flash: 1_000_000,
    expiring: 1_000_000,
    expiry_margin: Duration::from_secs(8),
    after_release: Duration::from_secs(1),
    prompt_rounds: 100,
    prompt_live: 100_000,
    ffi_products: 100_000,
    ffi_pairs: 1_000_000,
    py_scale: 200_000,
};

const SMOKE: Scale = Scale {
    products: 20_000,
    reads: 10_000,
    pairs: 5_000,
    flash: 5_000,
    expiring: 2_000,
    expiry_margin: Duration::from_millis(300),
    after_release: Duration::from_millis(50),
    prompt_rounds: 2,
    prompt_live: 100,
    ffi_products: 1_000,
    ffi_pairs: 5_000,
    py_scale: 2_000,
};

/// Every workload, run in its own process: (workload, subject).
const SUITE: [(&str, &str); 14] = [
    ("catalogue", "engine"),
    ("catalogue", "reference"),
    ("load-2", "engine"),
    ("load-2", "reference"),
    ("load-ahead", "engine"),
    ("load-ahead-2", "engine"),
    ("flash", "engine"),
    ("flash", "reference"),
    ("expiry", "engine"),
    ("prompt", "engine"),
    ("ffi-pairs", "engine"),
    ("ffi-subscribed", "engine"),
    ("py-scale", "engine"),
    ("py-scale", "reference"),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
    };
    if !args.iter().any(|a| a == "--bench") {
        measure::QUIET.store(true, Ordering::Relaxed);
        for (workload, subject) in SUITE {
            let before = measure::HELD_BACK.load(Ordering::Relaxed);
            run(workload, subject, SMOKE);
            let made = measure::HELD_BACK.load(Ordering::Relaxed) - before;
            assert!(made > 0, "{workload} ({subject}) made no record");
        }
        let records = measure::HELD_BACK.load(Ordering::Relaxed);
        println!("bench: {} workloads ran once at a small scale, {records} records", SUITE.len());
        return;
    }
    match (value("--workload"), value("--subject")) {
        (Some(workload), Some(subject)) => run(workload, subject, FULL),
        _ => {
            let only = value("--only");
            for (workload, subject) in SUITE {
                if only.map_or(true, |only| only == workload) {
                    spawn(workload, subject);
                }
            }
        }
    }
}

fn spawn(workload: &str, subject: &str) {
    eprintln!("bench: {workload} ({subject})");
    let exe = std::env::current_exe().expect("own path");
    let status = Command::new(exe)
        .args(["--bench", "--workload", workload, "--subject", subject])
        .stdout(Stdio::inherit())
        .status()
        .expect("spawn a workload");
    assert!(status.success(), "{workload} ({subject}) failed");
}

fn run(workload: &str, subject: &str, scale: Scale) {
    match (workload, subject) {
        ("catalogue", "engine") => catalogue(&new_engine(), subject, scale),
        ("catalogue", "reference") => catalogue(&Reference::default(), subject, scale),
        ("load-2", "engine") => load(&new_engine(), subject, scale, 2),
        ("load-2", "reference") => load(&Reference::default(), subject, scale, 2),
        ("load-ahead", "engine") => load_ahead(&new_engine(), subject, scale, 1),
        ("load-ahead-2", "engine") => load_ahead(&new_engine(), subject, scale, 2),
        ("flash", "engine") => flash(&new_engine(), subject, scale),
        ("flash", "reference") => flash(&Reference::default(), subject, scale),
        ("expiry", "engine") => expiry(scale),
        ("prompt", "engine") => prompt(scale),
        ("ffi-pairs", "engine") => ffi_pairs(scale),
        ("ffi-subscribed", "engine") => subscribed_pairs(scale),
        ("py-scale", "engine") => {
            let engine = new_engine();
            py_scale(&engine, subject, scale);
            batched_pairs(&engine, subject, scale);
        }
        ("py-scale", "reference") => py_scale(&Reference::default(), subject, scale),
        _ => panic!("no workload {workload} for {subject}"),
    }
}

/// The engine as production runs it: system clock, background releaser.
fn new_engine() -> Engine {
    Engine::new(Options::default()).expect("engine")
}

/// Runs `body(thread)` on `threads` threads started together; returns the
/// wall time from the first one's start to the last one's end and what each
/// returned. Each thread reads the clock itself: a coordinating thread woken
/// with them could be given a CPU only after they had run.
fn together<T: Send>(threads: usize, body: impl Fn(usize) -> T + Sync) -> (Duration, Vec<T>) {
    let barrier = Barrier::new(threads);
    let runs: Vec<(Instant, Instant, T)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, body) = (&barrier, &body);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let result = body(t);
                    (start, Instant::now(), result)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker")).collect()
    });
    let first = runs.iter().map(|(start, _, _)| *start).min().expect("a thread");
    let last = runs.iter().map(|(_, end, _)| *end).max().expect("a thread");
    (last - first, runs.into_iter().map(|(_, _, result)| result).collect())
}

/// Load, reads and block+confirm pairs over one catalogue.
fn catalogue<S: Store>(store: &S, subject: &str, scale: Scale) {
    load(store, subject, scale, 1);
    for threads in [1, 2] {
        reads(store, subject, scale, threads, false);
        reads(store, subject, scale, threads, true);
    }
    for threads in [1, 2] {
        pairs(store, subject, scale, threads, "pairs");
    }
}

/// Block+confirm pairs on one thread over the catalogue the Python benchmark
/// uses, so that its figures can be set against what the core alone, and
/// the reference, spend on the same work.
fn py_scale<S: Store>(store: &S, subject: &str, scale: Scale) {
    let mut id = String::new();
    for i in 0..scale.py_scale {
        assert!(store.add(product_id(i, &mut id), "Product", 1_000_000));
    }
    let scale = Scale { products: scale.py_scale, pairs: scale.py_scale, ..scale };
    pairs(store, subject, scale, 1, "pairs-py-scale");
}

/// The same pairs in batches of a thousand, as the Python benchmark's batch
/// runs them: the blocks of a batch read ahead (`Engine::read_ahead`), then
/// its confirms, after the pairs of `py_scale` on the same engine.
fn batched_pairs(engine: &Engine, subject: &str, scale: Scale) {
    const BATCH: usize = 1000;
    let mut rng = Rng::new(200);
    let products =
        Strings::new(scale.py_scale, |_, buf| product_id(rng.below(scale.py_scale), buf));
    let orders = Strings::new(scale.py_scale, |i, buf| order_id("batch", i, buf));
    let pairs: Vec<(&str, &str)> =
        (0..scale.py_scale as usize).map(|i| (products.get(i), orders.get(i))).collect();
    let start = Instant::now();
    let mut nanos = Vec::new();
    for batch in pairs.chunks(BATCH) {
        let began = Instant::now();
        for (product, order) in engine.read_ahead(batch, block_lookup) {
            assert!(engine.block(product, 1, order, None).is_ok());
        }
        for (_, order) in engine.read_ahead(batch, confirm_lookup) {
            assert!(engine.confirm(order).is_ok());
        }
        nanos.push(began.elapsed().as_nanos() as u64 / batch.len() as u64);
    }
    Record::new("pairs-py-scale-batch", subject)
        .rate(scale.py_scale, start.elapsed(), nanos)
        .num("batch", BATCH as f64)
        .print();
}

fn block_lookup<'a>(&(product, order): &(&'a str, &'a str)) -> Lookup<'a> {
    Lookup::Block { product, order }
}

fn confirm_lookup<'a>(&(_, order): &(&'a str, &'a str)) -> Lookup<'a> {
    Lookup::Order(order)
}

/// Loads the catalogue one product a call, on `threads` threads.
fn load<S: Store>(store: &S, subject: &str, scale: Scale, threads: usize) {
    timed_load(subject, scale, threads, false, |catalogue, share, sampler| {
        for &i in share {
            let (id, name, on_hand) = catalogue.product(i);
            assert!(sampler.run(|| store.add(id, name, on_hand)));
        }
    });
}

/// Loads the catalogue as [`load`] does, each thread reading its share
/// ahead (`Engine::read_ahead`), as a batch entry point of a front door
/// does.
fn load_ahead(engine: &Engine, subject: &str, scale: Scale, threads: usize) {
    timed_load(subject, scale, threads, true, |catalogue, share, sampler| {
        for &i in engine.read_ahead(share, |&i| Lookup::Product(catalogue.ids.get(i))) {
            let (id, name, on_hand) = catalogue.product(i);
            assert!(sampler.run(|| engine.add_product(id, name, on_hand)).is_ok());
        }
    });
}

/// The products of a catalogue load, written before the clock starts.
struct Catalogue {
    ids: Strings,
    names: Strings,
}

impl Catalogue {
    fn product(&self, i: usize) -> (&str, &str, u64) {
        (self.ids.get(i), self.names.get(i), 100 + i as u64 % 900)
    }
}

/// Times `add` loading the catalogue, each of `threads` threads given an
/// equal run of it, and the resident memory the load took (in a fresh
/// process, as every workload runs).
fn timed_load(
    subject: &str,
    scale: Scale,
    threads: usize,
    ahead: bool,
    add: impl Fn(&Catalogue, &[usize], &mut Sampler) + Sync,
) {
    let catalogue = Catalogue {
        ids: Strings::new(scale.products, product_id),
        names: Strings::new(scale.products, product_name),
    };
    let text_bytes = (catalogue.ids.bytes() + catalogue.names.bytes()) as u64;
    let every: Vec<usize> = (0..scale.products as usize).collect();
    let shares: Vec<&[usize]> = every.chunks(every.len().div_ceil(threads)).collect();
    let before = resident_bytes();
    let (elapsed, samplers) = together(threads, |t| {
        let mut sampler = Sampler::new(16);
        add(&catalogue, shares[t], &mut sampler);
        sampler
    });
    let grown = resident_bytes().saturating_sub(before);
    drop(catalogue);
    let beyond = grown.saturating_sub(text_bytes) as f64 / scale.products as f64;
    Record::new("load", subject)
        .rate(scale.products, elapsed, Sampler::merge(samplers))
        .num("threads", threads as f64)
        .num("ahead", f64::from(u8::from(ahead)))
        .num("products", scale.products as f64)
        .num("resident_bytes", grown as f64)
        .num("id_name_bytes", text_bytes as f64)
        .num("bytes_per_product_beyond_text", beyond)
        .print();
}

fn reads<S: Store>(store: &S, subject: &str, scale: Scale, threads: usize, skewed: bool) {
    let zipf = Zipf::new(scale.products, 0.99);
    let ids: Vec<Strings> = (0..threads)
        .map(|t| {
            let mut rng = Rng::new(7 + t as u64);
            Strings::new(scale.reads, |_, buf| {
                let index = match skewed {
                    true => zipf.sample(&mut rng),
                    false => rng.below(scale.products),
                };
                product_id(index, buf)
            })
        })
        .collect();
    let (elapsed, samplers) = together(threads, |t| {
        let mut sampler = Sampler::new(16);
        for i in 0..scale.reads as usize {
            let id = ids[t].get(i);
            assert!(sampler.run(|| store.available(id)).is_some());
        }
        sampler
    });
    let name = if skewed { "reads-zipf" } else { "reads-uniform" };
    Record::new(name, subject)
        .rate(scale.reads * threads as u64, elapsed, Sampler::merge(samplers))
        .num("threads", threads as f64)
        .print();
}

fn pairs<S: Store>(store: &S, subject: &str, scale: Scale, threads: usize, name: &str) {
    let ids: Vec<(Strings, Strings)> = (0..threads)
        .map(|t| {
            let mut rng = Rng::new(100 + t as u64);
            let tag = format!("p{threads}t{t}");
            let products =
                Strings::new(scale.pairs, |_, buf| product_id(rng.below(scale.products), buf));
            (products, Strings::new(scale.pairs, |i, buf| order_id(&tag, i, buf)))
        })
        .collect();
    let (elapsed, samplers) = together(threads, |t| {
        let (products, orders) = &ids[t];
        let mut sampler = Sampler::new(8);
        for i in 0..scale.pairs as usize {
            let (product, order) = (products.get(i), orders.get(i));
            sampler.run(|| {
                assert!(store.block(product, 1, order));
                assert!(store.confirm(order));
            });
        }
        sampler
    });
    Record::new(name, subject)
        .rate(scale.pairs * threads as u64, elapsed, Sampler::merge(samplers))
        .num("threads", threads as f64)
        .print();
}

/// Two buyers' threads on four hot products with 20 units each: block one
/// or two units, then confirm (70%) or cancel (30%); a refused block restocks
/// the product instead. One operation is one such round.
fn flash<S: Store>(store: &S, subject: &str, scale: Scale) {
    const HOT: u64 = 4;
    for p in 0..HOT {
        assert!(store.add(&format!("hot-{p}"), "Limited Edition Sneaker", 20));
    }
    let threads = 2;
    let hot: Vec<String> = (0..HOT).map(|p| format!("hot-{p}")).collect();
    let orders: Vec<Strings> = (0..threads)
        .map(|t| {
            let tag = format!("f{t}");
            Strings::new(scale.flash, |i, buf| order_id(&tag, i, buf))
        })
        .collect();
    let (elapsed, results) = together(threads, |t| {
        let mut rng = Rng::new(300 + t as u64);
        let mut sampler = Sampler::new(8);
        let mut refused = 0u64;
        for i in 0..scale.flash {
            let product = &hot[rng.below(HOT) as usize];
            let (quantity, pay) = (1 + rng.below(2), rng.below(10) < 7);
            let order = orders[t].get(i as usize);
            let held = sampler.run(|| {
                if !store.block(product, quantity, order) {
                    return !store.restock(product, 20);
                }
                assert!(if pay { store.confirm(order) } else { store.cancel(order) });
                true
            });
            refused += u64::from(!held);
        }
        (sampler, refused)
    });
    let refused: u64 = results.iter().map(|(_, r)| r).sum();
    let samplers = results.into_iter().map(|(s, _)| s).collect();
    Record::new("flash", subject)
        .rate(scale.flash * threads as u64, elapsed, Sampler::merge(samplers))
        .num("threads", threads as f64)
        .num("refused", refused as f64)
        .print();
}

/// A million holds fall due at one moment while another thread keeps
/// blocking and confirming: how long until every one is released, and what
/// the blocking thread's blocks cost before the deadline, during the
/// release, and for a while after it (`Scale::after_release`).
fn expiry(scale: Scale) {
    const PRODUCTS: u64 = 100_000;
    let engine = new_engine();
    let mut id = String::new();
    for i in 0..PRODUCTS {
        engine.add_product(product_id(i, &mut id), "Bulk Item", 1 << 40).unwrap();
    }

    let deadline = engine.now() + scale.expiry_margin;
    let (mut rng, mut order) = (Rng::new(500), String::new());
    for i in 0..scale.expiring {
        let product = product_id(rng.below(PRODUCTS), &mut id);
        let hold = deadline.checked_sub(engine.now()).expect("holds placed before the deadline");
        engine.block(product, 1, order_id("exp", i, &mut order), Some(hold)).unwrap();
    }
    let placed = engine.now();

    let stop = AtomicBool::new(false);
    let (released_at, (blocks, slow, confirms, slow_confirms)) = thread::scope(|scope| {
        let blocker = scope.spawn(|| {
            let (mut rng, mut id, mut order) = (Rng::new(501), String::new(), String::new());
            let mut blocks: Vec<(Duration, u64)> = Vec::new();
            let mut slow: Vec<(Duration, u64, Stall)> = Vec::new();
            // Each confirm, timed on its own.
            let mut confirms: Vec<(Duration, u64)> = Vec::new();
            let mut slow_confirms: Vec<(Duration, u64, Stall)> = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let product = product_id(rng.below(PRODUCTS), &mut id);
                let order = order_id("live", i, &mut order);
                let (start, took, stall) = timed(&engine, || {
                    engine.block(product, 1, order, None).unwrap();
                });
                blocks.push((start, took));
                slow.extend(stall.map(|stall| (start, took, stall)));
                let (start, took, stall) = timed(&engine, || engine.confirm(order).unwrap());
                confirms.push((start, took));
                slow_confirms.extend(stall.map(|stall| (start, took, stall)));
                i += 1;
            }
            (blocks, slow, confirms, slow_confirms)
        });
        thread::sleep(deadline.saturating_sub(engine.now()));
        while engine.metrics().unwrap().expired < scale.expiring {
            thread::sleep(Duration::from_millis(1));
        }
        let released_at = engine.now();
        thread::sleep(scale.after_release + Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        (released_at, blocker.join().unwrap())
    });

    let within = |calls: &[(Duration, u64)], from: Duration, to: Duration| -> Vec<u64> {
        calls.iter().filter(|(at, _)| (from..to).contains(at)).map(|(_, ns)| *ns).collect()
    };
    let window = |from: Duration, to: Duration| within(&blocks, from, to);
    // A thread can be taken off a CPU for a millisecond or more on a shared
    // machine whatever it runs; how often that happens in the quiet window
    // is the baseline for how often it happens during the release. Each
    // slow call is told apart by what took it off its CPU, if anything; the
    // record's keys for them begin with `prefix`.
    let over_1ms = |record: &mut Record,
                    slow: &[(Duration, u64, Stall)],
                    prefix: &str,
                    from: Duration,
                    to: Duration| {
        let slow: Vec<_> = slow.iter().filter(|(at, _, _)| (from..to).contains(at)).collect();
        record.num(&format!("{prefix}over_1ms"), slow.len() as f64);
        for stall in [Stall::Waited, Stall::Preempted, Stall::Stolen, Stall::Ran] {
            let these = slow.iter().filter(|(_, _, s)| *s == stall).map(|(_, ns, _)| *ns);
            let (count, worst) = these.fold((0, 0), |(n, worst), ns| (n + 1, worst.max(ns)));
            let name = stall.name();
            record.num(&format!("{prefix}over_1ms_{name}"), f64::from(count));
            record.num(&format!("{prefix}worst_{name}_ns"), worst as f64);
        }
    };
    // The blocks of a window over 1 ms; then its confirms: their p99, the
    // worst, and those over 1 ms. No target names confirms; a confirm takes
    // the locks that ending an order takes, as the releaser does, where a
    // block takes those of starting one.
    let slow_calls = |record: &mut Record, from: Duration, to: Duration| {
        over_1ms(record, &slow, "", from, to);
        let latency = percentiles(within(&confirms, from, to));
        record.num("confirm_p99_ns", latency.p99 as f64).num("confirm_max_ns", latency.max as f64);
        over_1ms(record, &slow_confirms, "confirms_", from, to);
    };
    let quiet = window(placed, deadline);
    let during = window(deadline, released_at);
    let settled = released_at + scale.after_release;
    let after = window(released_at, settled);
    let release = released_at.saturating_sub(deadline);
    let mut record = Record::new("expiry-quiet", "engine");
    slow_calls(&mut record, placed, deadline);
    record.num("blocks", quiet.len() as f64).latency(percentiles(quiet)).print();
    let mut record = Record::new("expiry", "engine");
    slow_calls(&mut record, deadline, released_at);
    record
        .num("holds", scale.expiring as f64)
        .num("release_secs", release.as_secs_f64())
        .num("blocks_during", during.len() as f64)
        .latency(percentiles(during))
        .print();
    let mut record = Record::new("expiry-after", "engine");
    slow_calls(&mut record, released_at, settled);
    record
        .num("after_secs", scale.after_release.as_secs_f64())
        .num("blocks", after.len() as f64)
        .latency(percentiles(after))
        .print();
}

/// Runs `call` and times it by the engine's clock: when it began, how many
/// nanoseconds it took, and for one over 1 ms what kept it off its CPU, from
/// counts read just before it.
fn timed(engine: &Engine, call: impl FnOnce()) -> (Duration, u64, Option<Stall>) {
    let usage = Usage::now();
    let start = engine.now();
    call();
    let took = (engine.now() - start).as_nanos() as u64;
    (start, took, (took > 1_000_000).then(|| usage.since(took)))
}

/// What kept a slow call off its CPU, from the thread's own context switch
/// counts and CPU clock: a switch it made itself (it slept: on a lock, or in
/// the kernel, say on the process's memory map), one the scheduler forced
/// on it (it was preempted, ready to run), or none. With no switch, the
/// thread's CPU clock tells the rest apart: the kernel leaves out of it the
/// time the machine under the system did not run the virtual CPU (steal
/// time), so a call that got under half its time on that clock was stalled
/// by the machine, and one that got more ran (in the call, or in the kernel
/// on its behalf: page faults, interrupts).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stall {
    Waited,
    Preempted,
    Stolen,
    Ran,
}

impl Stall {
    fn name(self) -> &'static str {
        match self {
            Stall::Waited => "waited",
            Stall::Preempted => "preempted",
            Stall::Stolen => "stolen",
            Stall::Ran => "ran",
        }
    }
}

/// The calling thread's voluntary and involuntary context switches so far,
/// and the CPU time it has had.
struct Usage {
    voluntary: libc::c_long,
    involuntary: libc::c_long,
    cpu: Duration,
}

impl Usage {
    fn now() -> Usage {
        // SAFETY: getrusage and clock_gettime only write the structs given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let done = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
        assert_eq!(done, 0, "getrusage");
        let mut cpu = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut cpu) };
        assert_eq!(done, 0, "clock_gettime");
        let cpu = Duration::new(cpu.tv_sec as u64, cpu.tv_nsec as u32);
        Usage { voluntary: usage.ru_nvcsw, involuntary: usage.ru_nivcsw, cpu }
    }

    /// What kept a call that began after these counts and took `took_ns`
    /// off its CPU.
    fn since(&self, took_ns: u64) -> Stall {
        let now = Usage::now();
        let ran = now.cpu.saturating_sub(self.cpu).as_nanos() as u64;
        match (now.voluntary > self.voluntary, now.involuntary > self.involuntary) {
            (true, _) => Stall::Waited,
            (false, true) => Stall::Preempted,
            (false, false) if ran < took_ns / 2 => Stall::Stolen,
            (false, false) => Stall::Ran,
        }
    }
}

/// How long after its deadline a hold's stock is back, with the background
/// releaser and many live holds that are not due; against how late a plain
/// thread sleeping for the same time wakes, the floor any releaser has.
fn prompt(scale: Scale) {
    let engine = new_engine();
    let (mut id, mut order) = (String::new(), String::new());
    for i in 0..scale.prompt_live {
        let product = product_id(i, &mut id);
        engine.add_product(product, "Filler", 10).unwrap();
        engine.block(product, 1, order_id("long", i, &mut order), None).unwrap();
    }
    engine.add_product("watched", "Watched Item", 1).unwrap();

    let mut rng = Rng::new(600);
    let (mut late, mut sleep_late) = (Vec::new(), Vec::new());
    for round in 0..scale.prompt_rounds {
        let hold = Duration::from_millis(20 + rng.below(10));
        let order = order_id("short", round, &mut order);
        let deadline = engine.block("watched", 1, order, Some(hold)).unwrap().since_start;
        while engine.available("watched").unwrap() == 0 {
            thread::sleep(Duration::from_micros(20));
        }
        late.push(engine.now().saturating_sub(deadline).as_nanos() as u64);

        let start = Instant::now();
        thread::sleep(hold);
        sleep_late.push(start.elapsed().saturating_sub(hold).as_nanos() as u64);
    }
    Record::new("prompt-sleep", "baseline").latency(percentiles(sleep_late)).print();
    Record::new("prompt", "engine")
        .num("rounds", scale.prompt_rounds as f64)
        .num("live_holds", scale.prompt_live as f64)
        .latency(percentiles(late))
        .print();
}

/// The front doors' catalogue, and the ids of their pairs: a stride
/// through the catalogue, and one order id each.
fn ffi_catalogue(scale: Scale) -> (Engine, Vec<String>, Vec<String>) {
    let engine = new_engine();
    for i in 0..scale.ffi_products {
        engine.add_product(&format!("sku-{i:010}"), "Product", 1_000_000_000).unwrap();
    }
    let products: Vec<String> = (0..scale.ffi_pairs)
        .map(|i| format!("sku-{:010}", (i * 7919) % scale.ffi_products))
        .collect();
    let orders: Vec<String> = (0..scale.ffi_pairs).map(|i| format!("ord-{i:012}")).collect();
    (engine, products, orders)
}

/// Times the front doors' pairs, one after another on this thread.
fn timed_pairs(engine: &Engine, products: &[String], orders: &[String]) -> Duration {
    let start = Instant::now();
    for (product, order) in products.iter().zip(orders) {
        engine.block(product, 1, order, None).unwrap();
        engine.confirm(order).unwrap();
    }
    start.elapsed()
}

/// Block+confirm pairs on one thread with every id prepared beforehand,
/// exactly as the C and Go benchmarks run them, so that the difference is
/// what crossing each boundary costs.
fn ffi_pairs(scale: Scale) {
    let (engine, products, orders) = ffi_catalogue(scale);
    let took = timed_pairs(&engine, &products, &orders);
    Record::new("ffi-pairs", "rust").rate(scale.ffi_pairs, took, Vec::new()).print();

    // One product read over and over, as the C and Go benchmarks do: nothing
    // cold, nothing allocated, so their difference is the boundary alone.
    let reads = scale.ffi_pairs * 5;
    let product = &products[0];
    let start = Instant::now();
    let mut seen = 0;
    for _ in 0..reads {
        seen += engine.available(std::hint::black_box(product)).unwrap();
    }
    assert!(seen > 0);
    Record::new("ffi-reads", "rust").rate(reads, start.elapsed(), Vec::new()).print();
}

/// The front doors' pairs with a subscriber whose callback counts every
/// event (one a pair, as each confirm ends a hold), in a process of their
/// own as the pairs without one run. The time stops when the last call
/// returns; every event is checked delivered after it.
fn subscribed_pairs(scale: Scale) {
    let (engine, products, orders) = ffi_catalogue(scale);
    let heard = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&heard);
    engine
        .on_event(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    let took = timed_pairs(&engine, &products, &orders);
    engine.flush_events().unwrap();
    assert_eq!(heard.load(Ordering::Relaxed), scale.ffi_pairs, "every event delivered");
    Record::new("ffi-subscribed", "rust").rate(scale.ffi_pairs, took, Vec::new()).print();
}
