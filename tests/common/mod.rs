//! What more than one integration test needs. Each test crate that says
//! `mod common;` compiles this file for itself and uses part of it.
#![allow(dead_code)]

/// A small xorshift generator: from a fixed seed, every run makes the same
/// choices, however the threads then interleave.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Waits for `child`, a process this test forked, for at most `patience`:
/// its wait status once it ended, or None when it still ran, after killing
/// and reaping it, so that a hung child fails its test instead of hanging
/// the suite.
#[cfg(unix)]
pub fn wait_for_child(child: libc::pid_t, patience: std::time::Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + patience;
    let mut status = 0;
    loop {
        // SAFETY: polls the caller's child without blocking.
        let done = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid failed");
        if done == child {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: ends and reaps the caller's child.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
