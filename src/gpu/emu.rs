//! The emulated device: the `kernels/*.cu` files compiled for the host against
//! `kernels/emu/cuda_emu.h` (see there and `kernels/emu/runtime.cpp` for the model), memory
//! from guard-paged allocations, launches in stream order (synchronously, in call order).

use crate::{Error, Result};
use std::ffi::{c_char, c_void, CStr, CString};

extern "C" {
    fn coin_emu_alloc(bytes: usize) -> *mut c_void;
    fn coin_emu_free(p: *mut c_void) -> i32;
    fn coin_emu_kernel_total() -> u32;
    fn coin_emu_kernel_name(i: u32) -> *const c_char;
    fn coin_emu_set_schedule(shuffled: i32, seed: u64);
    static coin_emu_field_tables: [*const EmuField; 1];
    static coin_emu_field_counts: [u32; 1];
    static coin_emu_field_table_count: u32;
    #[allow(clippy::too_many_arguments)]
    fn coin_emu_launch(
        name: *const c_char,
        gx: u32,
        gy: u32,
        gz: u32,
        bx: u32,
        by: u32,
        bz: u32,
        smem: u32,
        args: *mut *mut c_void,
        err: *mut c_char,
        err_len: usize,
    ) -> i32;
}

/// One field of a C struct as the host C++ compiler lays it out (build.rs's field table).
#[repr(C)]
struct EmuField {
    strukt: *const c_char,
    field: *const c_char,
    offset: u32,
    size: u32,
}

/// The layout of C struct `name` from the kernel files: (size, [(field, offset)]), or None
/// when no kernel file declares it.
pub fn c_struct_layout(name: &str) -> Option<(usize, Vec<(String, usize)>)> {
    let mut size = None;
    let mut fields = Vec::new();
    // SAFETY: build.rs generates `coin_emu_field_table_count` tables, table i holding
    // `coin_emu_field_counts[i]` rows of static NUL-terminated names; the arrays are declared
    // with length 1 here and indexed through raw pointers within the generated counts.
    unsafe {
        let tables = std::ptr::addr_of!(coin_emu_field_tables) as *const *const EmuField;
        let counts = std::ptr::addr_of!(coin_emu_field_counts) as *const u32;
        for t in 0..coin_emu_field_table_count as usize {
            let (rows, n) = (*tables.add(t), *counts.add(t) as usize);
            for r in 0..n {
                let f = &*rows.add(r);
                if CStr::from_ptr(f.strukt).to_str() == Ok(name) {
                    size = Some(f.size as usize);
                    let field = CStr::from_ptr(f.field).to_string_lossy().to_string();
                    fields.push((field, f.offset as usize));
                }
            }
        }
    }
    size.map(|s| (s, fields))
}

/// Thread schedule of the emulator (per OS thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Fibers resumed in thread order between barriers.
    InOrder,
    /// Fibers resumed in a random order (from `seed`) between barriers: flushes out missing
    /// `__syncthreads()`.
    Shuffled { seed: u64 },
}

/// Sets the schedule of launches made from this OS thread.
pub fn set_schedule(s: Schedule) {
    // SAFETY: plain thread-local setters.
    unsafe {
        match s {
            Schedule::InOrder => coin_emu_set_schedule(0, 0),
            Schedule::Shuffled { seed } => coin_emu_set_schedule(1, seed),
        }
    }
}

/// Names of the kernels the emulator registered (from the generated table).
pub fn registered() -> Vec<String> {
    // SAFETY: indices below the count return NUL-terminated static names.
    unsafe {
        (0..coin_emu_kernel_total())
            .map(|i| {
                CStr::from_ptr(coin_emu_kernel_name(i))
                    .to_string_lossy()
                    .to_string()
            })
            .collect()
    }
}

pub(crate) fn alloc(bytes: usize) -> Result<u64> {
    // SAFETY: returns a fresh mapping or null.
    let p = unsafe { coin_emu_alloc(bytes) };
    if p.is_null() {
        return Err(Error::Device(format!(
            "emulated device: out of memory allocating {bytes} bytes"
        )));
    }
    Ok(p as u64)
}

pub(crate) fn free(ptr: u64) {
    // SAFETY: ptr came from alloc (DevBuf owns it once).
    unsafe {
        coin_emu_free(ptr as *mut c_void);
    }
}

/// # Safety
/// `args` must point to one value per kernel parameter, of the kernel's types, and every pointer
/// argument must be a live emulated allocation large enough for the kernel's accesses (the guard
/// pages turn overruns past the end into errors).
pub(crate) unsafe fn launch(
    name: &str,
    grid: [u32; 3],
    block: [u32; 3],
    smem: u32,
    args: &mut [*mut c_void],
) -> Result<()> {
    let cname = CString::new(name).expect("kernel names have no NUL");
    let mut err = vec![0 as c_char; 512];
    let rc = coin_emu_launch(
        cname.as_ptr(),
        grid[0],
        grid[1],
        grid[2],
        block[0],
        block[1],
        block[2],
        smem,
        args.as_mut_ptr(),
        err.as_mut_ptr(),
        err.len(),
    );
    if rc != 0 {
        let msg = CStr::from_ptr(err.as_ptr()).to_string_lossy().to_string();
        return Err(Error::Device(format!("emulated launch: {msg}")));
    }
    Ok(())
}
