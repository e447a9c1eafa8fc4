//! What the code on this thread has asked of its GPU devices: device→host reads, host→device
//! writes, host fallbacks (an op on a GPU tensor that ran the reference loops because no kernel covers the
//! case) and allocations the block cache could not serve (new memory from the driver). A
//! warmed-up training step should show only the reads it logs (architecture.md, principle 6);
//! tests take [`counts_on_this_thread`] before and after and compare.
//!
//! Thread-local: the step's ops run on the thread that calls them, and parallel tests do not
//! see each other's counts.

use std::cell::{Cell, RefCell};
use std::panic::Location;

/// Running totals for this thread (subtract two to get what happened in between).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Device→host copies.
    pub reads: u64,
    /// Host→device copies (each one waits for the device on CUDA).
    pub writes: u64,
    /// Ops on GPU tensors that ran on the host reference loops.
    pub fallbacks: u64,
    /// Allocations that reached the driver (the block cache had no free block of the size).
    pub driver_allocs: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            reads: self.reads - o.reads,
            writes: self.writes - o.writes,
            fallbacks: self.fallbacks - o.fallbacks,
            driver_allocs: self.driver_allocs - o.driver_allocs,
        }
    }
}

thread_local! {
    static COUNTS: Cell<Counts> = const {
        Cell::new(Counts { reads: 0, writes: 0, fallbacks: 0, driver_allocs: 0 })
    };
    /// Where the fallbacks on this thread happened (source locations of the dispatch).
    static FALLBACK_SITES: RefCell<Vec<&'static Location<'static>>> = const {
        RefCell::new(Vec::new())
    };
}

/// The totals so far on this thread.
pub fn counts_on_this_thread() -> Counts {
    COUNTS.with(|c| c.get())
}

/// Device→host reads made from this thread so far.
pub fn reads_on_this_thread() -> u64 {
    counts_on_this_thread().reads
}

/// The source locations of the host fallbacks on this thread, oldest first, then forgets them
/// (a failing count test names the ops that fell back).
pub fn take_fallback_sites() -> Vec<String> {
    FALLBACK_SITES.with(|s| {
        s.borrow_mut()
            .drain(..)
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .collect()
    })
}

fn bump(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

pub(crate) fn count_read() {
    bump(|c| c.reads += 1);
}

pub(crate) fn count_write() {
    bump(|c| c.writes += 1);
}

pub(crate) fn count_driver_alloc() {
    bump(|c| c.driver_allocs += 1);
}

/// Counts a host fallback at the caller's caller (the op's dispatch).
#[track_caller]
pub(crate) fn count_fallback() {
    bump(|c| c.fallbacks += 1);
    let at = Location::caller();
    FALLBACK_SITES.with(|s| {
        let mut s = s.borrow_mut();
        // Bounded: a long run on a fallback path would otherwise grow without end.
        if s.len() < 1024 {
            s.push(at);
        }
    });
}
