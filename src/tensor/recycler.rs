//! Reuse of freed f32 host buffers. Every op allocates its output, and a fresh large allocation
//! costs a page fault per 4 KiB on first write — more than a memory-bound op's own work. Freed
//! tensor storage (and kernels' scratch) goes back here and is handed out again, zeroed, to the
//! next request of a size that fits. Holds at most [`max_bytes`] (4 GiB, or a quarter of the
//! machine's memory when that is less: the COIN step at 128²/×0.25/B16 cycles through ~3 GB of
//! buffers, and a 1 GiB cap left it taking 2.8 M page faults per 20 steps against 0.8 M at
//! 4 GiB, for +3 % peak RSS); small buffers are not pooled.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The pool's cap: 4 GiB, or a quarter of `MemTotal` when that is less; `COIN_POOL_MAX_MB`
/// sets it (0 turns the pool off).
pub fn max_bytes() -> usize {
    static CAP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        if let Some(mb) = std::env::var("COIN_POOL_MAX_MB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            return mb << 20;
        }
        let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
                .map(|kb| kb * 1024)
        });
        let cap = 4usize << 30;
        total.map_or(1 << 30, |t| cap.min(t / 4))
    })
}
const MIN_LEN: usize = 1 << 14;

struct Pool {
    /// Free buffers by capacity.
    free: BTreeMap<usize, Vec<Vec<f32>>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: BTreeMap::new(),
    bytes: 0,
});

/// A zero-filled vector of `n` floats, reusing a pooled buffer of capacity `n ..= n + n/4` when
/// there is one.
pub fn zeroed(n: usize) -> Vec<f32> {
    match take(n) {
        Some(mut v) => {
            v.clear();
            v.resize(n, 0.0);
            v
        }
        None => vec![0f32; n],
    }
}

/// A vector of `n` floats whose values are unspecified (stale values of a reused buffer, or
/// zeros): for outputs the caller overwrites entirely, saving the zero-fill pass.
pub fn overwritten(n: usize) -> Vec<f32> {
    match take(n) {
        Some(mut v) => {
            // A pooled buffer's elements up to its length are initialised floats.
            if v.len() >= n {
                v.truncate(n);
            } else {
                v.resize(n, 0.0);
            }
            v
        }
        None => vec![0f32; n],
    }
}

fn take(n: usize) -> Option<Vec<f32>> {
    if n >= MIN_LEN {
        let reused = {
            let mut p = POOL.lock().expect("pool lock");
            let cap = p.free.range(n..=n + n / 4).next().map(|(&c, _)| c);
            cap.and_then(|c| {
                let list = p.free.get_mut(&c)?;
                let v = list.pop();
                if list.is_empty() {
                    p.free.remove(&c);
                }
                if v.is_some() {
                    p.bytes -= c * 4;
                }
                v
            })
        };
        return reused;
    }
    None
}

/// Returns a buffer to the pool (dropped instead when small or when the pool is full).
pub fn recycle(v: Vec<f32>) {
    let cap = v.capacity();
    if cap < MIN_LEN {
        return;
    }
    let mut p = POOL.lock().expect("pool lock");
    if p.bytes + cap * 4 > max_bytes() {
        return;
    }
    p.bytes += cap * 4;
    p.free.entry(cap).or_default().push(v);
}

/// Frees every pooled buffer.
pub fn clear() {
    let mut p = POOL.lock().expect("pool lock");
    p.free.clear();
    p.bytes = 0;
}

/// Bytes held by the pool now.
pub fn pooled_bytes() -> usize {
    POOL.lock().expect("pool lock").bytes
}

/// A zeroed scratch buffer that goes back to the pool when dropped.
pub struct Scratch(Vec<f32>);

impl Scratch {
    pub fn zeroed(n: usize) -> Scratch {
        Scratch(zeroed(n))
    }
    /// Unspecified values, for a buffer the caller writes entirely (see [`overwritten`]).
    pub fn overwritten(n: usize) -> Scratch {
        Scratch(overwritten(n))
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.0));
    }
}
