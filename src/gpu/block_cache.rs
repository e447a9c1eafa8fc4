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
//! holds at most `cap` bytes; a block freed past that goes back to the driver. When the driver
//! runs out of memory the device empties the cache and tries once more.

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
    fn a_per_thread_cache_keeps_each_threads_blocks() {
        let c = BlockCache::new(1 << 20, 1, true);
        assert_eq!(c.give(64, 1), None);
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(c.take(64), None, "another thread's block"));
        });
        assert_eq!(c.take(64), Some(1));
    }
}
