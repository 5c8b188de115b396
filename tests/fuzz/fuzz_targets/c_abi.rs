//! Arbitrary call sequences through the C ABI; see driver.rs for what is
//! checked after every call.

#![no_main]

#[path = "../driver.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| driver::run(bytes));
