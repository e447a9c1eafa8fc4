//! The real device, through the CUDA driver API (`cudarc`, loaded at run time so the binary
//! starts on machines without CUDA). One context (the device's primary one), one stream, the
//! stream-ordered memory pool with its release threshold raised (freed memory stays cached, so
//! a warmed-up step allocates nothing from the driver), modules loaded on first use from the
//! embedded fatbins, every launch checked; `COIN_CUDA_SYNC=1` synchronises after each launch so
//! an asynchronous error is pinned to its kernel.
//!
//! Written against the driver API and exercised on the emulator's code path; it has not run on
//! a GPU in this project's CI (see the README for what was measured where).

use super::table::{kernel, FATBINS, NVCC_RELEASE, PTX_ISA};
use crate::{Error, Result};
use cudarc::driver::{result, sys};
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::Mutex;

pub(crate) struct CudaDevice {
    pub ordinal: usize,
    pub name: String,
    /// The compute capability's major version (8: Ampere, 9: Hopper).
    pub cc_major: i32,
    ctx: sys::CUcontext,
    stream: sys::CUstream,
    modules: Mutex<HashMap<&'static str, sys::CUmodule>>,
    /// Modules whose load failed, with the message (a failed load is not retried per launch).
    failed: Mutex<HashMap<&'static str, String>>,
    functions: Mutex<HashMap<&'static str, sys::CUfunction>>,
    sync_each_launch: bool,
}

// SAFETY: the driver's handles may be used from any thread once the context is made current,
// which every method does first.
unsafe impl Send for CudaDevice {}
unsafe impl Sync for CudaDevice {}

fn drv(what: &str, e: result::DriverError) -> Error {
    Error::Device(format!("CUDA {what}: {e}"))
}

impl CudaDevice {
    /// Opens device `ordinal`, probing the driver library first.
    pub fn open(ordinal: usize) -> Result<CudaDevice> {
        // No driver, no such device, no kernels, a driver too old for them: one check, shared
        // with `--device auto` (it dlopens libcuda and initialises the driver when present).
        if let Some(why) = super::probe().unusable(ordinal) {
            return Err(Error::Device(why));
        }
        result::init().map_err(|e| drv("init", e))?;
        let dev = result::device::get(ordinal as i32).map_err(|e| drv("device", e))?;
        let name = result::device::get_name(dev).unwrap_or_else(|_| "?".into());
        let major = sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
        // SAFETY: dev came from device::get.
        let cc_major = unsafe { result::device::get_attribute(dev, major) }.unwrap_or(0);
        // SAFETY: dev came from device::get.
        let ctx = unsafe { result::primary_ctx::retain(dev) }.map_err(|e| drv("context", e))?;
        // SAFETY: ctx was just retained for this device.
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| drv("set context", e))?;
        let stream = result::stream::create(result::stream::StreamKind::NonBlocking)
            .map_err(|e| drv("stream", e))?;
        // Keep freed memory in the pool instead of returning it to the driver.
        // SAFETY: dev is valid and its context current; the pool handle comes from the driver.
        unsafe {
            let pool = result::device::get_default_mem_pool(dev).map_err(|e| drv("pool", e))?;
            let mut threshold = u64::MAX;
            result::mem_pool::set_attribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                &mut threshold as *mut u64 as *mut c_void,
            )
            .map_err(|e| drv("pool threshold", e))?;
        }
        Ok(CudaDevice {
            ordinal,
            name,
            cc_major,
            ctx,
            stream,
            modules: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
            sync_each_launch: std::env::var("COIN_CUDA_SYNC").as_deref() == Ok("1"),
        })
    }

    fn current(&self) -> Result<()> {
        // SAFETY: ctx was retained in open and lives as long as self.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(|e| drv("set context", e))
    }

    pub fn alloc(&self, bytes: usize) -> Result<u64> {
        self.current()?;
        // SAFETY: stream is ours; the memory is only used on it.
        unsafe { result::malloc_async(self.stream, bytes.max(1)) }.map_err(|e| {
            if e.0 == sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY {
                let (free, total) = result::mem_get_info().unwrap_or((0, 0));
                Error::Device(format!(
                    "cuda:{}: out of memory allocating {bytes} bytes ({free} of {total} free)",
                    self.ordinal
                ))
            } else {
                drv("alloc", e)
            }
        })
    }

    pub fn free(&self, ptr: u64) {
        if self.current().is_ok() {
            // SAFETY: ptr came from alloc on this stream.
            let _ = unsafe { result::free_async(ptr, self.stream) };
        }
    }

    pub fn upload(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.current()?;
        // SAFETY: dst holds at least src.len() bytes; synchronised before src can move.
        unsafe {
            result::memcpy_htod_async(dst, src, self.stream)
                .map_err(|e| drv("copy to device", e))?;
            result::stream::synchronize(self.stream).map_err(|e| drv("synchronize", e))
        }
    }

    /// Sets `n` 32-bit words at `dst` to `bits`, in stream order.
    pub fn fill_u32(&self, dst: u64, bits: u32, n: usize) -> Result<()> {
        self.current()?;
        // SAFETY: dst holds at least n words and was allocated for this stream.
        unsafe { sys::cuMemsetD32Async(dst, bits, n, self.stream).result() }
            .map_err(|e| drv("fill", e))
    }

    pub fn download(&self, dst: &mut [u8], src: u64) -> Result<()> {
        self.current()?;
        // SAFETY: src holds at least dst.len() bytes; synchronised before returning.
        unsafe {
            result::memcpy_dtoh_async(dst, src, self.stream).map_err(|e| drv("copy to host", e))?;
            result::stream::synchronize(self.stream).map_err(|e| drv("synchronize", e))
        }
    }

    pub fn synchronize(&self) -> Result<()> {
        self.current()?;
        // SAFETY: the stream is ours and its context current.
        unsafe { result::stream::synchronize(self.stream) }.map_err(|e| drv("synchronize", e))
    }

    fn function(&self, name: &str) -> Result<sys::CUfunction> {
        let entry = kernel(name)
            .ok_or_else(|| Error::Device(format!("no kernel named '{name}' in the table")))?;
        if let Some(&f) = self.functions.lock().expect("poisoned").get(entry.name) {
            return Ok(f);
        }
        if let Some(m) = self.failed.lock().expect("poisoned").get(entry.module) {
            return Err(Error::Device(m.clone()));
        }
        let mut modules = self.modules.lock().expect("poisoned");
        let module = match modules.get(entry.module) {
            Some(&m) => m,
            None => {
                let image = FATBINS
                    .iter()
                    .find(|(m, _)| *m == entry.module)
                    .map(|(_, b)| *b)
                    .ok_or_else(|| {
                        Error::Device(format!("module {} is not embedded", entry.module))
                    })?;
                // The driver wants an aligned image.
                let mut aligned = vec![0u64; image.len().div_ceil(8)];
                bytemuck::cast_slice_mut::<u64, u8>(&mut aligned)[..image.len()]
                    .copy_from_slice(image);
                // SAFETY: a fatbin written by nvcc, kept alive during the call.
                match unsafe { result::module::load_data(aligned.as_ptr() as *const c_void) } {
                    Ok(m) => {
                        modules.insert(entry.module, m);
                        m
                    }
                    Err(e) => {
                        let msg = load_error(
                            entry.module,
                            e.0 as u32,
                            &e.to_string(),
                            NVCC_RELEASE.unwrap_or("?"),
                            PTX_ISA.unwrap_or("?"),
                        );
                        self.failed
                            .lock()
                            .expect("poisoned")
                            .insert(entry.module, msg.clone());
                        return Err(Error::Device(msg));
                    }
                }
            }
        };
        let cname = CString::new(entry.name).expect("no NUL");
        // SAFETY: module is loaded and kept for the device's life.
        let f = unsafe { result::module::get_function(module, cname) }
            .map_err(|e| drv(&format!("function {}", entry.name), e))?;
        self.functions
            .lock()
            .expect("poisoned")
            .insert(entry.name, f);
        Ok(f)
    }

    /// # Safety
    /// As [`super::Gpu::launch`].
    pub unsafe fn launch(
        &self,
        name: &str,
        grid: [u32; 3],
        block: [u32; 3],
        smem: u32,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        self.current()?;
        let f = self.function(name)?;
        if smem > 48 * 1024 {
            let _ = result::function::set_function_attribute(
                f,
                sys::CUfunction_attribute_enum::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                smem as i32,
            );
        }
        result::launch_kernel(
            f,
            (grid[0], grid[1], grid[2]),
            (block[0], block[1], block[2]),
            smem,
            self.stream,
            args,
        )
        .map_err(|e| drv(&format!("launch {name}"), e))?;
        if self.sync_each_launch {
            result::stream::synchronize(self.stream)
                .map_err(|e| drv(&format!("kernel {name} (COIN_CUDA_SYNC=1)"), e))?;
        }
        Ok(())
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        if self.current().is_ok() {
            // SAFETY: the stream, modules and context are ours, the context current; nothing
            // uses them after drop (DevBufs keep the Gpu, hence this device, alive).
            unsafe {
                let _ = result::stream::synchronize(self.stream);
                let _ = result::stream::destroy(self.stream);
                for (_, m) in self.modules.lock().expect("poisoned").drain() {
                    let _ = result::module::unload(m);
                }
                if let Ok(dev) = result::device::get(self.ordinal as i32) {
                    let _ = result::primary_ctx::release(dev);
                }
            }
        }
    }
}

/// A readable message for a failed module load: what the driver's code means and what to do.
pub(crate) fn load_error(module: &str, code: u32, raw: &str, nvcc: &str, ptx: &str) -> String {
    let why = match code {
        200 => "the fatbin is not a valid image for this driver (CUDA_ERROR_INVALID_IMAGE)",
        209 => {
            "it holds no code this GPU can run (CUDA_ERROR_NO_BINARY_FOR_GPU): its SASS is \
                for other architectures and its PTX is for a newer one"
        }
        218 => "the driver could not compile its PTX (CUDA_ERROR_INVALID_PTX)",
        221 => "the driver has no PTX JIT compiler (CUDA_ERROR_JIT_COMPILER_NOT_FOUND)",
        222 => "its PTX is newer than this driver understands (CUDA_ERROR_UNSUPPORTED_PTX_VERSION)",
        _ => "",
    };
    let fix = match code {
        200 | 218 | 222 => {
            "update the NVIDIA driver (CUDA 13.0 kernels need ≥ 580), or rebuild with the nvcc \
             of the driver's CUDA version (NVCC=…)"
        }
        209 => "rebuild with COIN_CUDA_ARCHS listing this GPU's compute capability",
        221 => "install the driver's full user-space libraries (libnvidia-ptxjitcompiler)",
        _ => "run with COIN_CUDA_SYNC=1 to see whether an earlier launch failed",
    };
    if why.is_empty() {
        format!("CUDA load module {module}: {raw} (code {code}); {fix}")
    } else {
        format!(
            "CUDA module {module} (nvcc {nvcc}, PTX ISA {ptx}) cannot load: {why}; {fix} \
             [{raw}]"
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn load_errors_say_what_to_do() {
        for code in [200, 209, 218, 221, 222] {
            let m = super::load_error("conv", code, "raw", "13.0", "9.0");
            assert!(
                m.contains("conv") && m.contains("CUDA_ERROR_"),
                "{code}: {m}"
            );
        }
        assert!(super::load_error("conv", 222, "", "13.0", "9.0").contains("≥ 580"));
        assert!(super::load_error("conv", 209, "", "13.0", "9.0").contains("COIN_CUDA_ARCHS"));
        let other = super::load_error("conv", 999, "weird", "13.0", "9.0");
        assert!(other.contains("weird") && other.contains("999"), "{other}");
    }
}
