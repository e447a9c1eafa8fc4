//! A small counter-based random generator: the stream for a key `(seed, a, b, …)` is a pure
//! function of the key, so results never depend on thread timing, and a resumed run can redraw
//! exactly what an uninterrupted one drew. The mixer is SplitMix64's finaliser.

/// A random stream; cheap to create per (seed, epoch, index).
#[derive(Clone, Debug)]
pub struct Rng {
    key: u64,
    counter: u64,
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng {
            key: mix(seed ^ 0x9e37_79b9_7f4a_7c15),
            counter: 0,
        }
    }
    /// The stream for `seed` and further key parts (e.g. epoch, sample index).
    pub fn keyed(seed: u64, parts: &[u64]) -> Rng {
        let mut k = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
        for &p in parts {
            k = mix(k ^ mix(p.wrapping_add(0x632b_e59b_d9b4_e019)));
        }
        Rng { key: k, counter: 0 }
    }
    pub fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        mix(self
            .key
            .wrapping_add(self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
    }
    /// Uniform in [0, 1) with 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Uniform in [lo, hi).
    pub fn uniform_range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// `n` values from `f`, as f32.
    pub fn fill(&mut self, n: usize, mut f: impl FnMut(&mut Rng) -> f64) -> Vec<f32> {
        (0..n).map(|_| f(self) as f32).collect()
    }
}
