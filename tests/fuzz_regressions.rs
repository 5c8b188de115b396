//! Replays through the C ABI driver of the fuzz target (tests/fuzz) every
//! input kept in tests/fuzz/regressions, then a few hundred inputs made from
//! a fixed seed, so that the driver's checks run in every `cargo test` and a
//! crash once found stays fixed. Long runs are cargo-fuzz's job
//! (`make verify`).

#[path = "fuzz/driver.rs"]
mod driver;

use std::fs;
use std::path::Path;

/// Few under Miri, which runs each call thousands of times slower.
const GENERATED: usize = if cfg!(miri) { 8 } else { 400 };

#[test]
fn kept_fuzz_inputs_still_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions");
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|entry| Some(entry.ok()?.path())).collect())
        .unwrap_or_default();
    inputs.retain(|path| path.extension().is_none_or(|ext| ext != "md"));
    inputs.sort();
    for path in inputs {
        eprintln!("replaying {}", path.display());
        driver::run(&fs::read(&path).expect("a kept input"));
    }
}

#[test]
fn generated_call_sequences_keep_the_invariants() {
    let mut state: u64 = 0x5EED_5EED_5EED_5EED;
    for _ in 0..GENERATED {
        let len = 64 + (state % 512) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        driver::run(&bytes);
    }
}
