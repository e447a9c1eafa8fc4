//! What the GPU runtime alone shows, on every device this machine has (the emulator in order,
//! with shuffled schedules, and a real GPU when one is present; a skip is printed and counted,
//! `COIN_REQUIRE_GPU=1` turns it into a failure): the kernel table, checked launches and guard
//! pages, barriers and shuffles, parameter-struct mirrors, the convolution passes, the probe.
//! The ops on the kernels are checked by the op table (`backends.rs`).

use crate::common::{check_close, Tol, REDUCTION};
use coin::gpu::emu::{self, Schedule};
use coin::gpu::{self, table, Args, CachePolicy, Gpu};
use coin::ops;
use coin::rng::Rng;
use coin::{Device, Tape, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};

static SKIPS: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on each device: ("emu", in order), ("emu-shuffled", two seeds), ("cuda", if any).
pub fn on_devices(test: &str, f: impl Fn(&Gpu, &str)) {
    if !gpu_only() {
        let g = Gpu::emu();
        emu::set_schedule(Schedule::InOrder);
        f(&g, "emu");
        for seed in [1, 2] {
            emu::set_schedule(Schedule::Shuffled { seed });
            f(&g, &format!("emu-shuffled-{seed}"));
        }
        emu::set_schedule(Schedule::InOrder);
    }
    match gpu::for_device(Device::Cuda(0)) {
        Ok(c) => f(&c, "cuda"),
        Err(e) => {
            let n = SKIPS.fetch_add(1, Ordering::SeqCst) + 1;
            if std::env::var("COIN_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("{test}: COIN_REQUIRE_GPU=1 but no GPU: {e}");
            }
            println!("SKIPPED on cuda ({n} GPU skips so far in this run): {test}: {e}");
        }
    }
}

/// `COIN_GPU_ONLY=1` (the lent-GPU check): skip the emulator runs, which CI covers.
pub fn gpu_only() -> bool {
    std::env::var("COIN_GPU_ONLY").as_deref() == Ok("1")
}

pub fn randn(r: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| r.normal() as f32).collect()
}

#[test]
fn kernel_table_is_shared_by_emulator_and_loader() {
    let names: Vec<&str> = table::KERNELS.iter().map(|k| k.name).collect();
    assert_eq!(
        emu::registered(),
        names,
        "emulator registry = generated table"
    );
    assert!(names.contains(&"unary_fwd_f32"));
    if gpu::has_cuda_kernels() {
        let mut modules: Vec<&str> = table::KERNELS.iter().map(|k| k.module).collect();
        modules.dedup();
        let fat: Vec<&str> = table::FATBINS.iter().map(|(m, _)| *m).collect();
        assert_eq!(fat, modules, "one fatbin per kernel module");
        assert!(table::FATBINS.iter().all(|(_, b)| b.len() > 100));
        println!(
            "kernels built by nvcc {:?}, PTX ISA {:?}, archs {}",
            table::NVCC_RELEASE,
            table::PTX_ISA,
            table::CUDA_ARCHS
        );
    } else {
        println!("SKIPPED fatbin checks: this build has no CUDA kernels (nvcc not found)");
    }
    // Every parameter struct a kernel takes has its C layout in the emulator's field table
    // (the Rust mirrors are checked against it: gpu::check_mirror).
    for k in table::KERNELS {
        for p in k.params {
            if let table::ParamKind::Struct(name) = p {
                let (size, fields) = emu::c_struct_layout(name)
                    .unwrap_or_else(|| panic!("{}: no layout for struct {name}", k.name));
                assert!(size > 0 && !fields.is_empty(), "{name}");
            }
        }
    }
}

#[test]
fn emulator_checks_launches_and_catches_stray_accesses() {
    let g = Gpu::emu();
    let b = g.upload(&[1.0; 100]).unwrap();
    // Wrong argument list: refused before anything runs.
    let e = g
        .launch("fill_f32", [1, 1, 1], [32, 1, 1], 0, Args::new().buf(&b))
        .unwrap_err()
        .to_string();
    assert!(e.contains("fill_f32 takes"), "{e}");
    assert!(g
        .launch("no_such_kernel", [1, 1, 1], [1, 1, 1], 0, &mut Args::new())
        .is_err());
    // Writing 1000 values into 100: the guard page turns the fault into an error.
    let e = g
        .launch(
            "fill_f32",
            [4, 1, 1],
            [256, 1, 1],
            0,
            Args::new().buf(&b).i64(1000).f32(2.0),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("out-of-bounds"), "{e}");
    // The device still works afterwards.
    g.launch(
        "fill_f32",
        [1, 1, 1],
        [256, 1, 1],
        0,
        Args::new().buf(&b).i64(100).f32(3.0),
    )
    .unwrap();
    assert_eq!(g.download(&b).unwrap(), vec![3.0; 100]);
}

/// The emulator refuses every launch a GPU would: block and grid limits, and more threads than
/// the kernel's `__launch_bounds__`.
#[test]
fn launches_past_the_hardware_limits_are_refused() {
    let g = Gpu::emu();
    let b = g.alloc_f32(4).unwrap();
    let launch = |grid: [u32; 3], block: [u32; 3]| {
        g.launch(
            "fill_f32",
            grid,
            block,
            0,
            Args::new().buf(&b).i64(4).f32(0.0),
        )
    };
    launch([1, 1, 1], [256, 1, 1]).unwrap();
    for (grid, block, why) in [
        ([1, 1, 1], [512, 1, 1], "__launch_bounds__(256)"),
        ([1, 1, 1], [1025, 1, 1], "block past"),
        ([1, 1, 1], [1, 1, 65], "block past"),
        ([1, 65_536, 1], [32, 1, 1], "grid past"),
        ([1, 1, 65_536], [32, 1, 1], "grid past"),
        ([1 << 31, 1, 1], [32, 1, 1], "grid past"),
        ([0, 1, 1], [32, 1, 1], "zero dimension"),
    ] {
        let e = launch(grid, block).unwrap_err().to_string();
        assert!(e.contains(why), "{grid:?} {block:?}: {e}");
    }
}

/// A parameter struct whose Rust side does not match the C struct it names is refused at the
/// launch, before anything runs.
#[test]
fn a_launch_with_a_mismatched_parameter_struct_is_refused() {
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct Short {
        n: i64,
    }
    impl gpu::KernelParams for Short {
        const C_NAME: &'static str = "UnaryParams";
        const FIELDS: &'static [(&'static str, usize)] = &[("n", 0)];
    }
    let g = Gpu::emu();
    let (x, y) = (g.upload(&[1.0; 4]).unwrap(), g.alloc_f32(4).unwrap());
    let e = g
        .launch(
            "unary_fwd_f32",
            [1, 1, 1],
            [256, 1, 1],
            0,
            Args::new().buf(&x).buf(&y).params(&Short { n: 4 }),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("struct UnaryParams") && e.contains("mirror"),
        "{e}"
    );
}

/// Convolutions through the ops, forward and both backward passes, against the reference (the
/// op table covers them in order on the emulator): here with a shuffled schedule, and on a real
/// GPU when present.
#[test]
fn convolution_passes_match_the_reference() {
    emu::set_schedule(Schedule::Shuffled { seed: 5 });
    let mut devices = vec![];
    if !gpu_only() {
        devices.push((Device::Emu, "emu-shuffled"));
    }
    match coin::gpu::for_device(Device::Cuda(0)) {
        Ok(_) => devices.push((Device::Cuda(0), "cuda")),
        Err(e) => {
            assert!(
                std::env::var("COIN_REQUIRE_GPU").as_deref() != Ok("1"),
                "COIN_REQUIRE_GPU=1 but no GPU: {e}"
            );
            println!("SKIPPED on cuda: convolution passes: {e}");
        }
    }
    for (device, dev) in devices {
        conv_matches_reference(device, dev);
    }
    emu::set_schedule(Schedule::InOrder);
}

/// Convolutions with few output channels, stride 2, many output channels (partial and several
/// 64×64 tiles), one input or output channel and split K on `device` against the reference: y,
/// dx, dw, db.
pub fn conv_matches_reference(device: Device, tag: &str) {
    let cases: &[([usize; 4], usize, usize, usize, usize)] = &[
        ([2, 3, 9, 7], 5, 3, 1, 1),
        ([1, 4, 8, 8], 40, 3, 2, 1),
        ([2, 6, 5, 5], 130, 3, 1, 1),
        // The thin-layer kernels (Cin = 1 strided stem, Cout = 1) and split-K at 8×8.
        ([1, 1, 13, 11], 6, 7, 2, 3),
        ([2, 12, 9, 8], 1, 3, 1, 1),
        ([2, 32, 8, 8], 24, 3, 1, 1),
    ];
    let mut r = Rng::new(8);
    for &(xd, cout, kk, s, p) in cases {
        let wd = [cout, xd[1], kk, kk];
        let (xs, ws, bs) = (
            randn(&mut r, xd.iter().product()),
            randn(&mut r, wd.iter().product()),
            randn(&mut r, cout),
        );
        let run = |dev: Device| {
            let t = |v: &[f32], d: &[usize]| Tensor::from_f32(v.to_vec(), d.to_vec(), dev).unwrap();
            let tape = Tape::new();
            let (x, w, b) = (
                tape.track(&t(&xs, &xd)),
                tape.track(&t(&ws, &wd)),
                tape.track(&t(&bs, &[cout])),
            );
            let y = ops::conv2d(&x, &w, Some(&b), ops::Conv2dParams::new(s, p)).unwrap();
            let loss = ops::sum_all(&ops::square(&y).unwrap()).unwrap();
            let g = tape.backward(&loss, &[&x, &w, &b]).unwrap();
            let mut out = vec![y.to_vec_f64()];
            out.extend([&x, &w, &b].map(|v| g.get(v).unwrap().to_vec_f64()));
            out
        };
        let (got, want) = (run(device), run(Device::Reference));
        for (what, (g, w)) in ["y", "dx", "dw", "db"].iter().zip(got.iter().zip(&want)) {
            let what = format!("{tag} conv {xd:?} cout {cout} k{kk} s{s} p{p} {what}");
            check_close(&what, g, w, REDUCTION).unwrap();
        }
    }
}

#[test]
fn shuffled_schedule_exposes_a_missing_barrier() {
    let g = Gpu::emu();
    let n = 256;
    let xs: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let want: Vec<f32> = (0..n).map(|i| ((i + n - 1) % n) as f32).collect();
    let (x, y) = (g.upload(&xs).unwrap(), g.alloc_f32(n).unwrap());
    let run = |name: &str| {
        g.launch(
            name,
            [1, 1, 1],
            [n as u32, 1, 1],
            0,
            Args::new().buf(&x).buf(&y),
        )
        .unwrap();
        g.download(&y).unwrap()
    };
    for sched in [Schedule::InOrder, Schedule::Shuffled { seed: 7 }] {
        emu::set_schedule(sched);
        assert_eq!(run("selftest_shift_sync"), want, "{sched:?}");
    }
    emu::set_schedule(Schedule::InOrder);
    let in_order = run("selftest_shift_racy");
    assert_eq!(in_order[1..], want[1..], "in order, the race hides");
    // New data (static shared memory keeps the last launch's values, as on hardware).
    let xs2: Vec<f32> = xs.iter().map(|v| v + 1000.0).collect();
    g.write(&x, &xs2).unwrap();
    emu::set_schedule(Schedule::Shuffled { seed: 7 });
    let shuffled = run("selftest_shift_racy");
    let wrong = (1..n).filter(|&i| shuffled[i] != want[i] + 1000.0).count();
    assert!(wrong > n / 4, "shuffled: only {wrong} wrong");
    emu::set_schedule(Schedule::InOrder);
}

#[test]
fn block_sum_with_shuffles() {
    on_devices("block_sum", |g, dev| {
        for threads in [32usize, 96, 256, 1024] {
            let blocks = 3;
            let xs: Vec<f32> = (0..threads * blocks).map(|i| (i % 7) as f32).collect();
            let (x, y) = (g.upload(&xs).unwrap(), g.alloc_f32(blocks).unwrap());
            g.launch(
                "selftest_block_sum",
                [blocks as u32, 1, 1],
                [threads as u32, 1, 1],
                0,
                Args::new().buf(&x).buf(&y),
            )
            .unwrap();
            let want: Vec<f64> = xs
                .chunks(threads)
                .map(|c| c.iter().map(|&v| v as f64).sum())
                .collect();
            let got: Vec<f64> = g.download(&y).unwrap().iter().map(|&v| v as f64).collect();
            let exact = Tol {
                atol: 0.0,
                rtol: 0.0,
            };
            check_close(&format!("{dev} block sum {threads}"), &got, &want, exact).unwrap();
        }
    });
}

#[test]
fn probe_and_device_messages() {
    let p = gpu::probe();
    assert_eq!(p.kernels, gpu::has_cuda_kernels());
    if !p.driver {
        assert_eq!(p.devices, 0);
        assert!(p.auto_warning().is_none(), "no GPU, nothing to warn about");
        let e = Gpu::cuda(0).unwrap_err().to_string();
        assert!(e.contains("no CUDA driver"), "{e}");
        // The infallible constructors do not panic; the first op reports the device's error.
        let z = Tensor::zeros([2], coin::DType::F32, Device::Cuda(0));
        let e = ops::relu(&z).unwrap_err().to_string();
        assert!(e.contains("no CUDA driver"), "{e}");
    }
    // A GPU machine whose build lacks kernels is told loudly, with the fix.
    let w = gpu::Probe {
        driver: true,
        devices: 1,
        kernels: false,
        driver_cuda: Some(13000),
        kernels_cuda: None,
        init_error: None,
    }
    .auto_warning()
    .unwrap();
    assert!(
        w.contains("NO CUDA kernels") && w.contains("install-cuda-toolchain"),
        "{w}"
    );
    // A driver older than the kernels' CUDA: `auto` falls back to the CPU, saying why.
    let old = gpu::Probe {
        driver: true,
        devices: 1,
        kernels: true,
        driver_cuda: Some(12040),
        kernels_cuda: Some(13000),
        init_error: None,
    };
    assert_eq!(old.auto_device(), Device::Cpu);
    let w = old.auto_warning().unwrap();
    assert!(
        w.contains("CUDA 12.4") && w.contains("CUDA 13.0") && w.contains("≥ 580"),
        "{w}"
    );
    let fine = gpu::Probe {
        driver_cuda: Some(13000),
        ..old
    };
    assert_eq!(fine.auto_device(), Device::Cuda(0));
    assert!(fine.auto_warning().is_none());
    assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::Cuda(1));
    assert_eq!("emu".parse::<Device>().unwrap(), Device::Emu);
    assert!("cuda:x".parse::<Device>().is_err());
    if !p.driver {
        // A tensor on a CUDA device of a machine without a driver: a clear error, no panic.
        let e = Tensor::from_f32(vec![1.0], [1], Device::Cuda(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no CUDA driver"), "{e}");
    }
}

/// Freed blocks are handed out again by size class without reaching the driver (counted), hold
/// NaN again on the emulator (as fresh device memory holds garbage), and constants are set on
/// the device without a host copy. Each run takes a handle with a cache of its own, so no other
/// test thread can take its blocks: on the emulator with the emulator's policy and with CUDA's
/// (512-byte classes, shared by threads), on CUDA with CUDA's.
#[test]
fn freed_blocks_are_reused_and_constants_are_set_on_the_device() {
    on_devices("block cache", |g, dev| {
        let policies = if dev.starts_with("emu") {
            vec![
                ("emu cache", CachePolicy::EMU),
                ("cuda cache", CachePolicy::CUDA),
            ]
        } else {
            vec![("cuda cache", CachePolicy::CUDA)]
        };
        for (name, policy) in policies {
            block_reuse(&g.with_cache(policy), policy, &format!("{dev}, {name}"));
        }
    });
    let before = gpu::counts_on_this_thread();
    let t = Tensor::full(-1.5, [3, 4], coin::DType::F32, Device::Emu);
    assert_eq!((gpu::counts_on_this_thread() - before).writes, 0);
    assert_eq!(t.to_vec_f32(), vec![-1.5; 12]);
}

/// Driver allocations made by `f` on this thread.
fn driver_allocs<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = gpu::counts_on_this_thread();
    let out = f();
    (out, (gpu::counts_on_this_thread() - before).driver_allocs)
}

fn block_reuse(g: &Gpu, policy: CachePolicy, what: &str) {
    let n = 1000 + 17;
    drop(g.alloc_f32(n).unwrap());
    let before = gpu::counts_on_this_thread();
    let b = g.full_f32(n, 2.5).unwrap();
    let counts = gpu::counts_on_this_thread() - before;
    assert_eq!(counts.driver_allocs, 0, "{what}: the freed block is reused");
    assert_eq!(counts.writes, 0, "{what}: set on the device");
    assert!(g.download(&b).unwrap().iter().all(|&v| v == 2.5), "{what}");
    let (twin, allocs) = driver_allocs(|| g.alloc_f32(n).unwrap());
    assert_eq!(allocs, 1, "{what}: a block in use is not handed out");
    drop((b, twin));
    // 1,018 values share 1,017's 512-byte class, not its exact size.
    let same_class = (4 * n).div_ceil(policy.granule) == (4 * (n + 1)).div_ceil(policy.granule);
    assert_eq!(same_class, policy.granule == 512, "{what}");
    let (again, allocs) = driver_allocs(|| g.alloc_f32(n + 1).unwrap());
    assert_eq!(allocs, u64::from(!same_class), "{what}: n + 1 values");
    if what.starts_with("emu") && same_class {
        assert!(
            g.download(&again).unwrap().iter().all(|v| v.is_nan()),
            "{what}: a reused block holds NaN"
        );
    }
    let (other, allocs) = driver_allocs(|| g.alloc_f32(n + 128).unwrap());
    assert_eq!(allocs, 1, "{what}: a new size class reaches the driver");
    drop((again, other));
    g.release_cached();
    let (_, allocs) = driver_allocs(|| g.alloc_f32(n).unwrap());
    assert_eq!(allocs, 1, "{what}: release_cached empties the cache");
}

/// `COIN_GPU_CACHE=off`'s policy: every allocation reaches the driver with its exact size and
/// every freed block goes straight back, so compute-sanitizer sees each buffer's true bounds.
#[test]
fn the_exact_size_cache_mode_reuses_nothing() {
    on_devices("cache off", |g, dev| {
        let g = g.with_cache(CachePolicy::OFF);
        for n in [1017, 1017, 1018, 1] {
            let (b, allocs) = driver_allocs(|| g.alloc_f32(n).unwrap());
            assert_eq!(allocs, 1, "{dev}: {n} values");
            assert_eq!(b.len(), n);
        }
        let (_, allocs) = driver_allocs(|| g.full_f32(64, 1.0).unwrap());
        assert_eq!(allocs, 1, "{dev}: constants too");
    });
}

/// TF32 as the tensor cores see it: `rna` rounds to nearest, ties away from zero (what
/// `wmma::__float_to_tf32` does); `false` drops the low 13 mantissa bits (an FP32 value passed
/// to `mma_sync` unconverted).
fn tf32(x: f32, rna: bool) -> f64 {
    let u = x.to_bits();
    let u = if rna { u.wrapping_add(0x1000) } else { u } & 0xFFFF_E000;
    f32::from_bits(u) as f64
}

/// The emulated tensor cores (`nvcuda::wmma`, TF32 16×16×8) against the reference: a 32×48×24
/// GEMM, operands converted with `__float_to_tf32` and passed in unconverted; each matches the
/// f64 product of the operands as TF32 holds them to FP32 accumulation accuracy, and the exact
/// product to TF32 accuracy. In order, shuffled, and on a GPU when present.
#[test]
fn wmma_tf32_gemm_matches_the_reference() {
    let (m, n, k) = (32usize, 48usize, 24usize);
    let mut r = Rng::new(41);
    let a = randn(&mut r, m * k);
    let b = randn(&mut r, k * n);
    on_devices("wmma", |g, dev| {
        let (da, db) = (g.upload(&a).unwrap(), g.upload(&b).unwrap());
        let mut outs = Vec::new();
        for convert in [1, 0] {
            let dc = g.alloc_f32(m * n).unwrap();
            let mut args = Args::new();
            args.buf(&da)
                .buf(&db)
                .buf(&dc)
                .i32(n as i32)
                .i32(k as i32)
                .i32(convert);
            g.launch(
                "selftest_wmma_gemm",
                [(n / 16) as u32, (m / 16) as u32, 1],
                [32, 1, 1],
                0,
                &mut args,
            )
            .unwrap();
            let got: Vec<f64> = g.download(&dc).unwrap().iter().map(|&v| v as f64).collect();
            let (mut as_tf32, mut exact, mut scale) =
                (vec![0.0; m * n], vec![0.0; m * n], vec![0.0; m * n]);
            for i in 0..m {
                for j in 0..n {
                    for p in 0..k {
                        let (x, y) = (a[i * k + p], b[p * n + j]);
                        as_tf32[i * n + j] += tf32(x, convert == 1) * tf32(y, convert == 1);
                        exact[i * n + j] += x as f64 * y as f64;
                        scale[i * n + j] += (x as f64 * y as f64).abs();
                    }
                }
            }
            for e in 0..m * n {
                let what = format!("{dev}, convert {convert}, element {e}");
                assert!(
                    (got[e] - as_tf32[e]).abs() <= 1e-5 * scale[e] + 1e-6,
                    "{what}: {} vs {}",
                    got[e],
                    as_tf32[e]
                );
                assert!(
                    (got[e] - exact[e]).abs() <= 2f64.powi(-9) * scale[e],
                    "{what}: TF32 accuracy"
                );
            }
            outs.push(got);
        }
        assert!(
            outs[0] != outs[1],
            "{dev}: rounding and truncation give different products"
        );
    });
}

/// cp.async on the emulator: with its `__pipeline_wait_prior` the copied data arrive; without
/// it, the destination still holds NaN when read, so a missing wait fails (on a GPU the same
/// kernel would race instead). With the wait it also runs on a GPU when present.
#[test]
fn cp_async_without_its_wait_is_caught() {
    let threads = 64usize;
    let x: Vec<f32> = (0..4 * threads).map(|i| i as f32).collect();
    let want: Vec<f32> = (0..threads)
        .flat_map(|t| (0..4).map(move |i| (4 * ((t + 1) % threads) + i) as f32))
        .collect();
    on_devices("cp.async", |g, dev| {
        let dx = g.upload(&x).unwrap();
        for wait in [1, 0] {
            if wait == 0 && dev == "cuda" {
                continue;
            }
            let dy = g.alloc_f32(4 * threads).unwrap();
            let mut args = Args::new();
            args.buf(&dx).buf(&dy).i32(wait);
            g.launch(
                "selftest_cp_async",
                [1, 1, 1],
                [threads as u32, 1, 1],
                0,
                &mut args,
            )
            .unwrap();
            let y = g.download(&dy).unwrap();
            if wait == 1 {
                assert_eq!(y, want, "{dev}");
            } else {
                assert!(
                    y.iter().all(|v| v.is_nan()),
                    "{dev}: a read before the wait sees NaN"
                );
            }
        }
    });
}
