//! A deterministic random sequence (SplitMix64) for the property tests, so
//! that a failing case can be replayed from its seed. Included with
//! `#[path]` by the tests that draw random cases.

#![allow(dead_code)] // each test binary uses its own part of this module

/// SplitMix64 from a seed.
pub struct Random(u64);

impl Random {
    /// The sequence from `seed`.
    pub fn new(seed: u64) -> Self {
        Random(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` above 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A position in `0..n` (`n` above 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
}
