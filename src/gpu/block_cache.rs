//! Freed device blocks kept for reuse, by size. A training step frees and allocates the same
//! sizes every iteration, so once warm every allocation is served from here and none reaches
//! the driver (architecture.md, principle 6: what lets a step be captured as a CUDA graph).
//! Every launch and copy runs on the device's one stream, so a block freed here and handed out
//! again is only touched by work queued after everything that used it.
//!
//! Keys are byte sizes: exact on the emulator (its guard page sits right after the requested
//! bytes, so a rounded block would hide overruns), rounded up to 512 bytes on CUDA. The
//! emulator's cache is also per thread: its users are independent threads (tests running side
//! by side), each of which should see its own step reuse its own blocks. The cache
//! holds at most `cap` bytes; a block freed past that goes back to the driver (`cap` 0 is
//! `COIN_GPU_CACHE=off`: nothing reused). When the driver runs out of memory the device empties
//! the cache and tries once more. The policies are `gpu::CachePolicy`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::ThreadId;

pub(crate) struct BlockCache {
    state: Mutex<State>,
    cap: usize,
    granule: usize,
    per_thread: bool,
}

#[derive(Default)]
struct State {
    free: HashMap<(Option<ThreadId>, usize), Vec<u64>>,
    bytes: usize,
}

impl BlockCache {
    /// A cache of at most `cap` bytes whose keys are sizes rounded up to `granule` (and the
    /// calling thread, when `per_thread`).
    pub(crate) fn new(cap: usize, granule: usize, per_thread: bool) -> BlockCache {
        BlockCache {
            state: Mutex::new(State::default()),
            cap,
            granule: granule.max(1),
            per_thread,
        }
    }

    fn key(&self, size: usize) -> (Option<ThreadId>, usize) {
        (self.per_thread.then(|| std::thread::current().id()), size)
    }

    /// The size a request of `bytes` allocates (and is cached under).
    pub(crate) fn block_size(&self, bytes: usize) -> usize {
        bytes.max(1).div_ceil(self.granule) * self.granule
    }

    /// A cached block of exactly `size` bytes (from [`block_size`](Self::block_size)).
    pub(crate) fn take(&self, size: usize) -> Option<u64> {
        let mut s = self.state.lock().expect("block cache lock");
        let ptr = s.free.get_mut(&self.key(size))?.pop()?;
        s.bytes -= size;
        Some(ptr)
    }

    /// Keeps a freed block; gives it back when the cache is full (the caller frees it).
    pub(crate) fn give(&self, size: usize, ptr: u64) -> Option<u64> {
        let mut s = self.state.lock().expect("block cache lock");
        if s.bytes + size > self.cap {
            return Some(ptr);
        }
        s.bytes += size;
        s.free.entry(self.key(size)).or_default().push(ptr);
        None
    }

    /// Every cached block, emptying the cache (the caller frees them).
    pub(crate) fn drain(&self) -> Vec<u64> {
        let mut s = self.state.lock().expect("block cache lock");
        s.bytes = 0;
        s.free.drain().flat_map(|(_, v)| v).collect()
    }

    /// Bytes held for reuse.
    pub(crate) fn cached_bytes(&self) -> usize {
        self.state.lock().expect("block cache lock").bytes
    }
}

/// How a device keeps freed blocks for reuse (see `block_cache.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// Block sizes are requests rounded up to a multiple of this many bytes.
    pub granule: usize,
    /// Each thread reuses only the blocks it freed.
    pub per_thread: bool,
    /// At most this many bytes are held; 0 frees every block at once (no reuse).
    pub cap_bytes: usize,
}

impl CachePolicy {
    /// The emulator's: exact sizes (guard pages stay tight), per thread, at most 1 GiB.
    pub const EMU: CachePolicy = CachePolicy {
        granule: 1,
        per_thread: true,
        cap_bytes: 1 << 30,
    };
    /// CUDA's: sizes in 512-byte steps, shared by every thread, bounded by the device (an
    /// out-of-memory empties it).
    pub const CUDA: CachePolicy = CachePolicy {
        granule: 512,
        per_thread: false,
        cap_bytes: usize::MAX,
    };
    /// `COIN_GPU_CACHE=off`: every allocation of exactly the bytes requested from the driver,
    /// every freed block back to it at once — what compute-sanitizer needs to see small overruns
    /// and uninitialised reads that a rounded, reused block would hide. Slower (a driver call
    /// per buffer), same results.
    pub const OFF: CachePolicy = CachePolicy {
        granule: 1,
        per_thread: false,
        cap_bytes: 0,
    };

    /// `default`, or [`OFF`](Self::OFF) when `COIN_GPU_CACHE=off`; any other value than `on`,
    /// `off` or unset is an error naming the accepted ones.
    pub fn from_env(default: CachePolicy) -> crate::Result<CachePolicy> {
        Self::parse(std::env::var("COIN_GPU_CACHE").ok().as_deref(), default)
    }

    /// The policy a `COIN_GPU_CACHE` value selects.
    pub fn parse(value: Option<&str>, default: CachePolicy) -> crate::Result<CachePolicy> {
        match value.map(str::trim) {
            None | Some("") | Some("on") => Ok(default),
            Some("off") => Ok(CachePolicy::OFF),
            Some(v) => Err(crate::Error::Device(format!(
                "COIN_GPU_CACHE={v:?}: expected \"on\" (reuse freed device blocks, the default) \
                 or \"off\" (exact sizes, never reused: for compute-sanitizer)"
            ))),
        }
    }

    pub(crate) fn cache(self) -> BlockCache {
        BlockCache::new(self.cap_bytes, self.granule, self.per_thread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reused_by_size_and_the_cap_is_kept() {
        let c = BlockCache::new(2048, 512, false);
        assert_eq!(c.block_size(1), 512);
        assert_eq!(c.block_size(513), 1024);
        assert_eq!(c.take(512), None);
        assert_eq!(c.give(512, 7), None);
        assert_eq!(c.give(1024, 8), None);
        assert_eq!(c.give(1024, 9), Some(9), "past the cap");
        assert_eq!(c.cached_bytes(), 1536);
        assert_eq!(c.take(1024), Some(8));
        assert_eq!(c.take(1024), None);
        assert_eq!(c.drain(), vec![7]);
        assert_eq!(c.cached_bytes(), 0);
    }

    #[test]
    fn cache_off_is_parsed_and_a_bad_value_is_refused() {
        let d = CachePolicy::CUDA;
        assert_eq!(CachePolicy::parse(None, d).unwrap(), d);
        assert_eq!(CachePolicy::parse(Some("on"), d).unwrap(), d);
        assert_eq!(
            CachePolicy::parse(Some("off"), d).unwrap(),
            CachePolicy::OFF
        );
        let e = CachePolicy::parse(Some("of"), d).unwrap_err().to_string();
        assert!(e.contains("COIN_GPU_CACHE") && e.contains("\"off\""), "{e}");
    }

    #[test]
    fn a_cache_of_no_bytes_reuses_nothing() {
        let c = BlockCache::new(0, 1, false);
        assert_eq!(c.block_size(1017 * 4), 1017 * 4, "exact sizes");
        assert_eq!(c.give(4068, 3), Some(3), "freed at once");
        assert_eq!(c.take(4068), None);
        assert_eq!(c.cached_bytes(), 0);
    }

    #[test]
    fn a_per_thread_cache_keeps_each_threads_blocks() {
        let c = BlockCache::new(1 << 20, 1, true);
        assert_eq!(c.give(64, 1), None);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(c.take(64), None, "another thread's block"));
        });
        assert_eq!(c.take(64), Some(1));
    }
}
