//! The CUDA kernels against the reference ops, on every device this machine has: the emulator
//! in order, the emulator with shuffled schedules, and a real GPU when one is present (a skip
//! is printed and counted; `COIN_REQUIRE_GPU=1` turns it into a failure).

use coin::gpu::emu::{self, Schedule};
use coin::gpu::kernels::{self as k, BinaryOp};
use coin::gpu::{self, table, Args, Gpu};
use coin::ops::{self, Unary};
use coin::rng::Rng;
use coin::{Device, Tape, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};

static SKIPS: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on each device: ("emu", in order), ("emu-shuffled", two seeds), ("cuda", if any).
pub fn on_devices(test: &str, f: impl Fn(&Gpu, &str)) {
    let g = Gpu::emu();
    emu::set_schedule(Schedule::InOrder);
    f(&g, "emu");
    for seed in [1, 2] {
        emu::set_schedule(Schedule::Shuffled { seed });
        f(&g, &format!("emu-shuffled-{seed}"));
    }
    emu::set_schedule(Schedule::InOrder);
    match Gpu::cuda(0) {
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

pub fn randn(r: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| r.normal() as f32).collect()
}

pub fn reference(v: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_f64(
        v.iter().map(|&x| x as f64).collect(),
        dims.to_vec(),
        Device::Reference,
    )
    .unwrap()
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise, naming the worst element.
pub fn close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let mut worst = (0.0, 0);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if g.is_nan() && w.is_nan() {
            continue;
        }
        let err = (g as f64 - w).abs() - (atol + rtol * w.abs());
        if err.is_nan() || err > worst.0 {
            worst = (if err.is_nan() { f64::INFINITY } else { err }, i);
        }
    }
    let i = worst.1;
    assert!(
        worst.0 <= 0.0,
        "{what}: element {i}: got {}, want {} (tolerance {atol} + {rtol}·|want|)",
        got[i],
        want[i]
    );
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
    assert_eq!(std::mem::size_of::<gpu::Bcast6>(), 152);
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
    k::fill(&g, &b, 100, 3.0).unwrap();
    assert_eq!(g.download(&b).unwrap(), vec![3.0; 100]);
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
            close(
                &format!("{dev} block sum {threads}"),
                &g.download(&y).unwrap(),
                &want,
                0.0,
                0.0,
            );
        }
    });
}

const UNARY: &[Unary] = &[
    Unary::Neg,
    Unary::Relu,
    Unary::Tanh,
    Unary::Sigmoid,
    Unary::Softplus,
    Unary::Abs,
    Unary::Square,
    Unary::Exp,
    Unary::Log,
    Unary::Sqrt,
    Unary::Clamp(-0.5, 0.75),
    Unary::AddScalar(1.5),
    Unary::MulScalar(-2.0),
];

#[test]
fn unary_forward_and_backward() {
    on_devices("unary", |g, dev| {
        let mut r = Rng::new(3);
        let n = 1000;
        for &op in UNARY {
            let mut xs = randn(&mut r, n);
            xs[0] = 25.0; // softplus's linear branch
            xs[1] = 0.0;
            if matches!(op, Unary::Log | Unary::Sqrt) {
                xs.iter_mut().for_each(|v| *v = v.abs() + 0.1);
            }
            let gys = randn(&mut r, n);
            let (x, y, gy) = (
                g.upload(&xs).unwrap(),
                g.alloc_f32(n).unwrap(),
                g.upload(&gys).unwrap(),
            );
            let gx = g.upload(&vec![0.5; n]).unwrap();
            k::unary_fwd(g, op, &x, &y, n).unwrap();
            k::unary_bwd(g, op, &x, &y, &gy, &gx, n).unwrap();
            let tape = Tape::new();
            let xr = tape.track(&reference(&xs, &[n]));
            let yr = ops::unary(&xr, op).unwrap();
            let loss = ops::sum_all(&ops::mul(&yr, &reference(&gys, &[n])).unwrap()).unwrap();
            let grads = tape.backward(&loss, &[&xr]).unwrap();
            let want_gx: Vec<f64> = grads
                .get(&xr)
                .unwrap()
                .to_vec_f64()
                .iter()
                .map(|v| v + 0.5)
                .collect();
            close(
                &format!("{dev} {op:?}"),
                &g.download(&y).unwrap(),
                &yr.to_vec_f64(),
                1e-6,
                1e-5,
            );
            close(
                &format!("{dev} {op:?}'"),
                &g.download(&gx).unwrap(),
                &want_gx,
                1e-6,
                1e-5,
            );
        }
    });
}

#[test]
fn binary_ops_broadcast_like_the_reference() {
    on_devices("binary", |g, dev| {
        let mut r = Rng::new(4);
        let shapes: &[(&[usize], &[usize])] = &[
            (&[2, 3, 5, 7], &[2, 3, 5, 7]),
            (&[2, 3, 5, 7], &[1, 3, 1, 1]),
            (&[4, 1, 6], &[5, 1]),
            (&[1], &[3, 4]),
        ];
        type RefOp = fn(&Tensor, &Tensor) -> coin::Result<Tensor>;
        let table: &[(BinaryOp, RefOp)] = &[
            (BinaryOp::Add, ops::add),
            (BinaryOp::Sub, ops::sub),
            (BinaryOp::Mul, ops::mul),
            (BinaryOp::Div, ops::div),
            (BinaryOp::Maximum, ops::maximum),
            (BinaryOp::Minimum, ops::minimum),
            (BinaryOp::Gt, ops::gt),
            (BinaryOp::Ge, ops::ge),
            (BinaryOp::Lt, ops::lt),
            (BinaryOp::Le, ops::le),
            (BinaryOp::Eq, ops::eq),
        ];
        for &(da, db) in shapes {
            let (na, nb) = (da.iter().product(), db.iter().product());
            let mut av = randn(&mut r, na);
            let bv = randn(&mut r, nb);
            av[0] = bv[0]; // ties for the comparisons
            let (a, b) = (g.upload(&av).unwrap(), g.upload(&bv).unwrap());
            for &(op, rf) in table {
                let want = rf(&reference(&av, da), &reference(&bv, db)).unwrap();
                let y = g.alloc_f32(want.numel()).unwrap();
                let out = k::binary(g, op, (&a, da), (&b, db), &y).unwrap();
                assert_eq!(out, want.dims(), "{op:?} {da:?} {db:?}");
                close(
                    &format!("{dev} {op:?} {da:?} {db:?}"),
                    &g.download(&y).unwrap(),
                    &want.to_vec_f64(),
                    1e-6,
                    1e-6,
                );
            }
        }
        // where, with a broadcast scalar branch.
        let cv: Vec<f32> = (0..12).map(|i| (i % 3 == 0) as i32 as f32).collect();
        let av = randn(&mut r, 12);
        let (c, a, z) = (
            g.upload(&cv).unwrap(),
            g.upload(&av).unwrap(),
            g.upload(&[0.0]).unwrap(),
        );
        let y = g.alloc_f32(12).unwrap();
        k::where_(g, (&c, &[3, 4]), (&a, &[3, 4]), (&z, &[]), &y).unwrap();
        let mask = Tensor::from_f64_as(
            &cv.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            vec![3, 4],
            coin::DType::U8,
            Device::Reference,
        )
        .unwrap();
        let want = ops::where_(&mask, &reference(&av, &[3, 4]), &reference(&[0.0], &[])).unwrap();
        close(
            &format!("{dev} where"),
            &g.download(&y).unwrap(),
            &want.to_vec_f64(),
            0.0,
            0.0,
        );
    });
}

#[test]
fn reductions_over_one_axis() {
    on_devices("reduce", |g, dev| {
        let mut r = Rng::new(5);
        let dims = [3usize, 5, 70, 9];
        let n: usize = dims.iter().product();
        let xs = randn(&mut r, n);
        let x = g.upload(&xs).unwrap();
        for axis in 0..4 {
            let outer: usize = dims[..axis].iter().product();
            let inner: usize = dims[axis + 1..].iter().product();
            let y = g.alloc_f32(outer * inner).unwrap();
            k::reduce(g, &x, &y, [outer, dims[axis], inner], 0.5).unwrap();
            let want = ops::mul_scalar(
                &ops::sum(&reference(&xs, &dims), &[axis as isize], false).unwrap(),
                0.5,
            )
            .unwrap();
            close(
                &format!("{dev} sum axis {axis}"),
                &g.download(&y).unwrap(),
                &want.to_vec_f64(),
                1e-5,
                1e-5,
            );
        }
        // A long row (block reduction with many strided partials).
        let ys = randn(&mut r, 3 * 5000);
        let (x, y) = (g.upload(&ys).unwrap(), g.alloc_f32(3).unwrap());
        k::reduce(g, &x, &y, [3, 5000, 1], 1.0).unwrap();
        let want = ops::sum(&reference(&ys, &[3, 5000]), &[1], false).unwrap();
        close(
            &format!("{dev} long rows"),
            &g.download(&y).unwrap(),
            &want.to_vec_f64(),
            1e-4,
            1e-5,
        );
    });
}

#[test]
fn adam_and_adamw_match_the_optimizer() {
    use coin::nn::ParamGroup;
    use coin::optim::{Adam, AdamConfig};
    on_devices("adam", |g, dev| {
        for decoupled in [false, true] {
            let mut r = Rng::new(6);
            let n = 777;
            let init = randn(&mut r, n);
            let mut group = ParamGroup::new("p", Device::Cpu);
            group.add("w", [n], init.clone()).unwrap();
            let cfg = AdamConfig {
                lr: 0.01,
                beta1: 0.5,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.1,
                decoupled,
            };
            let mut opt = Adam::new(&group, cfg).unwrap();
            let (p, gr, m, v) = (
                g.upload(&init).unwrap(),
                g.alloc_f32(n).unwrap(),
                g.upload(&vec![0.0; n]).unwrap(),
                g.upload(&vec![0.0; n]).unwrap(),
            );
            for t in 1..=3 {
                let gs = randn(&mut r, n);
                group.zero_grad().unwrap();
                let tape = Tape::new();
                let w = tape.track(&group.tensors().remove(0));
                let loss = ops::sum_all(
                    &ops::mul(&w, &Tensor::from_f32(gs.clone(), [n], Device::Cpu).unwrap())
                        .unwrap(),
                )
                .unwrap();
                let grads = tape.backward(&loss, &[&w]).unwrap();
                group.accumulate(&grads).unwrap();
                opt.step(&mut group).unwrap();
                g.write(&gr, &gs).unwrap();
                let s = k::AdamStep {
                    lr: 0.01,
                    beta1: 0.5,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: 0.1,
                    decoupled,
                    t,
                };
                k::adam(g, [&p, &gr, &m, &v], n, s).unwrap();
            }
            let want: Vec<f64> = group.values().iter().map(|&v| v as f64).collect();
            close(
                &format!("{dev} adam decoupled={decoupled}"),
                &g.download(&p).unwrap(),
                &want,
                1e-6,
                1e-5,
            );
        }
    });
}

#[test]
fn batch_norm_forward_and_backward() {
    on_devices("batch_norm", |g, dev| {
        let mut r = Rng::new(7);
        for dims in [[2usize, 3, 5, 7], [4, 2, 16, 16], [1, 5, 1, 3]] {
            let [n, c, h, w] = dims;
            let total = n * c * h * w;
            let (xs, gys) = (randn(&mut r, total), randn(&mut r, total));
            let (gms, bts) = (randn(&mut r, c), randn(&mut r, c));
            for affine in [true, false] {
                let tape = Tape::new();
                let xr = tape.track(&reference(&xs, &dims));
                let gr = tape.track(&reference(&gms, &[c]));
                let br = tape.track(&reference(&bts, &[c]));
                let (gopt, bopt) = if affine {
                    (Some(&gr), Some(&br))
                } else {
                    (None, None)
                };
                let yr = ops::batch_norm(
                    &xr,
                    ops::Affine {
                        gamma: gopt,
                        beta: bopt,
                    },
                    ops::BnMode::Train {
                        state: None,
                        momentum: 0.1,
                    },
                    1e-5,
                )
                .unwrap();
                let loss = ops::sum_all(&ops::mul(&yr, &reference(&gys, &dims)).unwrap()).unwrap();
                let wrt: Vec<&Tensor> = if affine {
                    vec![&xr, &gr, &br]
                } else {
                    vec![&xr]
                };
                let grads = tape.backward(&loss, &wrt).unwrap();

                let (x, gy) = (g.upload(&xs).unwrap(), g.upload(&gys).unwrap());
                let (gm, bt) = (g.upload(&gms).unwrap(), g.upload(&bts).unwrap());
                let st: Vec<_> = (0..5).map(|_| g.alloc_f32(c).unwrap()).collect();
                let (y, gx) = (
                    g.alloc_f32(total).unwrap(),
                    g.upload(&vec![0.0; total]).unwrap(),
                );
                k::bn_stats(g, &x, [&st[0], &st[1], &st[2]], dims, 1e-5).unwrap();
                let (go, bo) = if affine {
                    (Some(&gm), Some(&bt))
                } else {
                    (None, None)
                };
                k::bn_apply(g, &x, &st[0], &st[1], go, bo, &y, dims).unwrap();
                k::bn_backward(g, &x, &gy, &st[0], &st[1], go, [&st[3], &st[4]], &gx, dims)
                    .unwrap();
                let tag = format!("{dev} bn {dims:?} affine={affine}");
                close(
                    &format!("{tag} y"),
                    &g.download(&y).unwrap(),
                    &yr.to_vec_f64(),
                    1e-5,
                    1e-4,
                );
                let gxr = grads.get(&xr).unwrap().to_vec_f64();
                close(
                    &format!("{tag} gx"),
                    &g.download(&gx).unwrap(),
                    &gxr,
                    1e-4,
                    1e-3,
                );
                if affine {
                    close(
                        &format!("{tag} gβ"),
                        &g.download(&st[3]).unwrap(),
                        &grads.get(&br).unwrap().to_vec_f64(),
                        1e-4,
                        1e-4,
                    );
                    close(
                        &format!("{tag} gγ"),
                        &g.download(&st[4]).unwrap(),
                        &grads.get(&gr).unwrap().to_vec_f64(),
                        1e-4,
                        1e-4,
                    );
                }
            }
        }
    });
}

#[test]
fn convolution_forward_and_both_backward_passes() {
    // (x dims, Cout, K, stride, padding): the direct kernel (1 channel), each GEMM tile shape,
    // stride 2, 1×1, padding larger than needed, odd sizes.
    let cases: &[([usize; 4], usize, usize, usize, usize)] = &[
        ([2, 1, 9, 7], 4, 3, 1, 1),
        ([2, 3, 9, 7], 5, 3, 1, 1),
        ([1, 4, 8, 8], 40, 3, 2, 1),
        ([2, 6, 5, 5], 130, 3, 1, 1),
        ([1, 5, 17, 15], 3, 1, 1, 0),
        ([2, 3, 6, 6], 7, 5, 2, 2),
        ([1, 33, 4, 4], 20, 3, 1, 1),
    ];
    on_devices("conv2d", |g, dev| {
        let mut r = Rng::new(8);
        // Every case with the per-shape tile, then the GEMM cases with each tile forced.
        let forced = k::CONV_TILES
            .iter()
            .flat_map(|&t| cases[1..4].iter().map(move |c| (Some(t), *c)));
        for (t, (xd, cout, kk, s, p)) in cases.iter().map(|c| (None, *c)).chain(forced) {
            k::force_conv_tile(t);
            let wd = [cout, xd[1], kk, kk];
            let geo = k::conv_geom(xd, wd, s, p).unwrap();
            let yd = [xd[0], cout, geo.ho as usize, geo.wo as usize];
            let (nx, nw, ny) = (
                xd.iter().product(),
                wd.iter().product(),
                yd.iter().product::<usize>(),
            );
            let (xs, ws, bs, gys) = (
                randn(&mut r, nx),
                randn(&mut r, nw),
                randn(&mut r, cout),
                randn(&mut r, ny),
            );
            let prm = ops::Conv2dParams::new(s, p);
            let (xr, wr, br, gyr) = (
                reference(&xs, &xd),
                reference(&ws, &wd),
                reference(&bs, &[cout]),
                reference(&gys, &yd),
            );
            let y_want = ops::conv2d(&xr, &wr, Some(&br), prm).unwrap();
            let gx_want = ops::conv2d_backward_data(&gyr, &wr, xd, prm).unwrap();
            let gw_want = ops::conv2d_backward_weight(&gyr, &xr, wd, prm).unwrap();

            let (x, w, b, gy) = (
                g.upload(&xs).unwrap(),
                g.upload(&ws).unwrap(),
                g.upload(&bs).unwrap(),
                g.upload(&gys).unwrap(),
            );
            let y = g.alloc_f32(ny).unwrap();
            let gx = g.upload(&vec![1.0; nx]).unwrap();
            let gw = g.upload(&vec![-1.0; nw]).unwrap();
            let wsp = g.alloc_f32(k::conv2d_bwd_weight_workspace(&geo)).unwrap();
            k::conv2d_fwd(g, &x, &w, Some(&b), &y, &geo).unwrap();
            k::conv2d_bwd_data(g, &w, &gy, &gx, &geo).unwrap();
            k::conv2d_bwd_weight(g, &x, &gy, &gw, &wsp, &geo).unwrap();
            let tag = format!("{dev} conv {xd:?} cout {cout} k{kk} s{s} p{p} tile {t:?}");
            close(
                &format!("{tag} y"),
                &g.download(&y).unwrap(),
                &y_want.to_vec_f64(),
                1e-4,
                1e-4,
            );
            let plus =
                |t: &Tensor, c: f64| t.to_vec_f64().iter().map(|v| v + c).collect::<Vec<_>>();
            close(
                &format!("{tag} gx (accumulated)"),
                &g.download(&gx).unwrap(),
                &plus(&gx_want, 1.0),
                1e-4,
                1e-4,
            );
            close(
                &format!("{tag} gw (accumulated)"),
                &g.download(&gw).unwrap(),
                &plus(&gw_want, -1.0),
                1e-4,
                1e-4,
            );
        }
        k::force_conv_tile(None);
    });
}

/// (forward output, gradient of Σ y·gy with respect to x) of a reference op.
fn ref_grad(
    xs: &[f32],
    dims: &[usize],
    gys: &[f32],
    f: impl Fn(&Tensor) -> Tensor,
) -> (Tensor, Vec<f64>) {
    let tape = Tape::new();
    let x = tape.track(&reference(xs, dims));
    let y = f(&x);
    let loss = ops::sum_all(&ops::mul(&y, &reference(gys, y.dims())).unwrap()).unwrap();
    let g = tape.backward(&loss, &[&x]).unwrap();
    (y.detach(), g.get(&x).unwrap().to_vec_f64())
}

fn plus(v: &[f64], c: f64) -> Vec<f64> {
    v.iter().map(|x| x + c).collect()
}

/// One plane op checked forward and backward against the reference: `fwd(x, y)` and
/// `bwd(gy, gx)` launch the kernels (gx starts at 0.25, so accumulation is checked too).
#[allow(clippy::too_many_arguments)]
fn check_plane_op(
    g: &Gpu,
    tag: &str,
    r: &mut Rng,
    (xs, dims): (&[f32], &[usize]),
    reference_op: impl Fn(&Tensor) -> Tensor,
    fwd: impl Fn(&gpu::DevBuf, &gpu::DevBuf),
    bwd: impl Fn(&gpu::DevBuf, &gpu::DevBuf),
    tol: f64,
) {
    let out_len = reference_op(&reference(xs, dims)).numel();
    let gys = randn(r, out_len);
    let (yw, gw) = ref_grad(xs, dims, &gys, &reference_op);
    let (x, y) = (g.upload(xs).unwrap(), g.alloc_f32(out_len).unwrap());
    let (gy, gx) = (
        g.upload(&gys).unwrap(),
        g.upload(&vec![0.25; xs.len()]).unwrap(),
    );
    fwd(&x, &y);
    bwd(&gy, &gx);
    close(tag, &g.download(&y).unwrap(), &yw.to_vec_f64(), tol, tol);
    close(
        &format!("{tag} grad"),
        &g.download(&gx).unwrap(),
        &plus(&gw, 0.25),
        1e-5,
        1e-5,
    );
}

#[test]
fn pooling_and_resampling() {
    on_devices("pool/resample", |g, dev| {
        let mut r = Rng::new(9);
        let dims = [2usize, 3, 9, 11];
        let (planes, hw) = (6, [9, 11]);
        let n: usize = dims.iter().product();
        let mut xs = randn(&mut r, n);
        xs[5] = xs[6]; // a tie inside a max window
        let xin = (&xs[..], &dims[..]);
        check_plane_op(
            g,
            &format!("{dev} avg_pool"),
            &mut r,
            xin,
            |t| ops::avg_pool2d(t, 2).unwrap(),
            |x, y| k::avg_pool_fwd(g, x, y, planes, hw, 2).unwrap(),
            |gy, gx| k::avg_pool_bwd(g, gy, gx, planes, hw, 2).unwrap(),
            1e-6,
        );
        let (ho, wo) = (k::max_pool_out(9, 3, 2, 1), k::max_pool_out(11, 3, 2, 1));
        let arg = g.alloc_f32(planes * ho * wo).unwrap();
        check_plane_op(
            g,
            &format!("{dev} max_pool"),
            &mut r,
            xin,
            |t| ops::max_pool2d(t, 3, 2, 1).unwrap(),
            |x, y| k::max_pool_fwd(g, x, y, &arg, planes, hw, [3, 2, 1]).unwrap(),
            |gy, gx| k::max_pool_bwd(g, gy, &arg, gx, planes, hw, [3, 2, 1]).unwrap(),
            0.0,
        );
        check_plane_op(
            g,
            &format!("{dev} nearest ×2"),
            &mut r,
            xin,
            |t| ops::upsample_nearest(t, 2).unwrap(),
            |x, y| k::upsample_nearest_fwd(g, x, y, planes, hw, 2).unwrap(),
            |gy, gx| k::upsample_nearest_bwd(g, gy, gx, planes, hw, 2).unwrap(),
            0.0,
        );
        // Bilinear, both conventions, up and down, odd sizes.
        for out in [[18, 22], [5, 4], [20, 7], [1, 1]] {
            for align in [true, false] {
                check_plane_op(
                    g,
                    &format!("{dev} bilinear {out:?} align={align}"),
                    &mut r,
                    xin,
                    |t| ops::resize_bilinear(t, out[0], out[1], align).unwrap(),
                    |x, y| k::bilinear_fwd(g, x, y, planes, hw, out, align).unwrap(),
                    |gy, gx| k::bilinear_bwd(g, gy, gx, planes, hw, out, align).unwrap(),
                    1e-5,
                );
            }
        }
    });
}

#[test]
fn bce_gemm_embedding_and_copies() {
    on_devices("bce/gemm/embedding/copy", |g, dev| {
        let mut r = Rng::new(10);
        // BCE with logits: value and both gradients (loss scaled by 3).
        let n = 1000;
        let zs: Vec<f32> = randn(&mut r, n).iter().map(|v| v * 8.0).collect();
        let ts: Vec<f32> = (0..n).map(|i| (i % 3) as f32 / 2.0).collect();
        let tape = Tape::new();
        let (zr, tr) = (
            tape.track(&reference(&zs, &[n])),
            tape.track(&reference(&ts, &[n])),
        );
        let l = ops::loss::bce_with_logits(&zr, &tr).unwrap();
        let grads = tape
            .backward(&ops::mul_scalar(&l, 3.0).unwrap(), &[&zr, &tr])
            .unwrap();
        let (z, t, terms, out) = (
            g.upload(&zs).unwrap(),
            g.upload(&ts).unwrap(),
            g.alloc_f32(n).unwrap(),
            g.alloc_f32(1).unwrap(),
        );
        let (dz, dt) = (
            g.upload(&vec![0.0; n]).unwrap(),
            g.upload(&vec![0.0; n]).unwrap(),
        );
        k::bce_with_logits(g, &z, &t, &terms, &out, n).unwrap();
        let three = g.upload(&[3.0]).unwrap();
        k::bce_with_logits_bwd(g, &z, &t, Some(&dz), Some(&dt), Some(&three), n).unwrap();
        close(
            &format!("{dev} bce"),
            &g.download(&out).unwrap(),
            &l.to_vec_f64(),
            1e-5,
            1e-5,
        );
        close(
            &format!("{dev} bce dz"),
            &g.download(&dz).unwrap(),
            &grads.get(&zr).unwrap().to_vec_f64(),
            1e-6,
            1e-4,
        );
        close(
            &format!("{dev} bce dy"),
            &g.download(&dt).unwrap(),
            &grads.get(&tr).unwrap().to_vec_f64(),
            1e-6,
            1e-4,
        );

        // GEMM in every layout against matmul, accumulating, and linear's bias.
        let (m, nn, kk) = (70, 33, 90);
        let (av, bv) = (randn(&mut r, m * kk), randn(&mut r, kk * nn));
        let want = ops::matmul(&reference(&av, &[m, kk]), &reference(&bv, &[kk, nn]))
            .unwrap()
            .to_vec_f64();
        let transpose = |v: &[f32], rows: usize, cols: usize| -> Vec<f32> {
            (0..cols)
                .flat_map(|c| (0..rows).map(move |r| v[r * cols + c]))
                .collect()
        };
        let (at, bt) = (transpose(&av, m, kk), transpose(&bv, kk, nn));
        for (la, lb) in [
            (k::Layout::Plain, k::Layout::Plain),
            (k::Layout::Transposed, k::Layout::Plain),
            (k::Layout::Plain, k::Layout::Transposed),
            (k::Layout::Transposed, k::Layout::Transposed),
        ] {
            let a = g
                .upload(if la == k::Layout::Plain { &av } else { &at })
                .unwrap();
            let b = g
                .upload(if lb == k::Layout::Plain { &bv } else { &bt })
                .unwrap();
            let c = g.upload(&vec![1.0; m * nn]).unwrap();
            k::gemm(g, (&a, la), (&b, lb), None, &c, [m, nn, kk], true).unwrap();
            close(
                &format!("{dev} gemm {la:?} {lb:?}"),
                &g.download(&c).unwrap(),
                &plus(&want, 1.0),
                1e-4,
                1e-4,
            );
        }
        let (xs, ws, bs) = (
            randn(&mut r, 5 * 12),
            randn(&mut r, 7 * 12),
            randn(&mut r, 7),
        );
        let want = ops::linear(
            &reference(&xs, &[5, 12]),
            &reference(&ws, &[7, 12]),
            Some(&reference(&bs, &[7])),
        )
        .unwrap();
        let (x, w, b, y) = (
            g.upload(&xs).unwrap(),
            g.upload(&ws).unwrap(),
            g.upload(&bs).unwrap(),
            g.alloc_f32(35).unwrap(),
        );
        k::gemm(
            g,
            (&x, k::Layout::Plain),
            (&w, k::Layout::Transposed),
            Some(&b),
            &y,
            [5, 7, 12],
            false,
        )
        .unwrap();
        close(
            &format!("{dev} linear"),
            &g.download(&y).unwrap(),
            &want.to_vec_f64(),
            1e-5,
            1e-5,
        );

        // Embedding: lookup and the summed gradient of repeated ids.
        let ids: Vec<i64> = vec![1, 0, 1, 1, 2];
        let table = randn(&mut r, 3 * 4);
        let gys = randn(&mut r, 5 * 4);
        let tape = Tape::new();
        let tr = tape.track(&reference(&table, &[3, 4]));
        let idt = Tensor::from_f64_as(
            &ids.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            vec![5],
            coin::DType::I64,
            Device::Reference,
        )
        .unwrap();
        let yr = ops::embedding(&idt, &tr).unwrap();
        let loss = ops::sum_all(&ops::mul(&yr, &reference(&gys, &[5, 4])).unwrap()).unwrap();
        let gt_want = tape
            .backward(&loss, &[&tr])
            .unwrap()
            .get(&tr)
            .unwrap()
            .to_vec_f64();
        let id32: Vec<i32> = ids.iter().map(|&v| v as i32).collect();
        let (idb, tb, y, gy, gt) = (
            g.upload_i32(&id32).unwrap(),
            g.upload(&table).unwrap(),
            g.alloc_f32(20).unwrap(),
            g.upload(&gys).unwrap(),
            g.upload(&[0.0; 12]).unwrap(),
        );
        k::embedding_fwd(g, &idb, &tb, &y, 5, 4).unwrap();
        k::embedding_bwd(g, &idb, &gy, &gt, [5, 3, 4]).unwrap();
        close(
            &format!("{dev} embedding"),
            &g.download(&y).unwrap(),
            &yr.to_vec_f64(),
            0.0,
            0.0,
        );
        close(
            &format!("{dev} embedding grad"),
            &g.download(&gt).unwrap(),
            &gt_want,
            1e-6,
            1e-6,
        );

        // narrow and cat along axis 1 of [2, 5, 3] / [2, 4, 3].
        let (pv, qv) = (randn(&mut r, 30), randn(&mut r, 24));
        let (pr, qr) = (reference(&pv, &[2, 5, 3]), reference(&qv, &[2, 4, 3]));
        let (p, q) = (g.upload(&pv).unwrap(), g.upload(&qv).unwrap());
        let nar = g.alloc_f32(2 * 2 * 3).unwrap();
        k::copy_block(g, &p, &nar, 2, [5, 1], [2, 0], 2, 3, false).unwrap();
        close(
            &format!("{dev} narrow"),
            &g.download(&nar).unwrap(),
            &ops::narrow(&pr, 1, 1, 2).unwrap().to_vec_f64(),
            0.0,
            0.0,
        );
        let cat = g.alloc_f32(54).unwrap();
        k::copy_block(g, &p, &cat, 2, [5, 0], [9, 0], 5, 3, false).unwrap();
        k::copy_block(g, &q, &cat, 2, [4, 0], [9, 5], 4, 3, false).unwrap();
        close(
            &format!("{dev} cat"),
            &g.download(&cat).unwrap(),
            &ops::cat(&[&pr, &qr], 1).unwrap().to_vec_f64(),
            0.0,
            0.0,
        );
        assert!(k::copy_block(g, &p, &cat, 2, [5, 4], [9, 0], 2, 3, false).is_err());
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
    }
    .auto_warning()
    .unwrap();
    assert!(
        w.contains("NO CUDA kernels") && w.contains("install-cuda-toolchain"),
        "{w}"
    );
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

/// Which test runs each kernel (prefixes cover the tile variants). A new kernel must be added
/// here, with a test, or this fails.
const COVERAGE: &[(&str, &str)] = &[
    ("unary_", "unary_forward_and_backward"),
    ("binary_fwd_f32", "binary_ops_broadcast_like_the_reference"),
    ("where_f32", "binary_ops_broadcast_like_the_reference"),
    (
        "fill_f32",
        "emulator_checks_launches_and_catches_stray_accesses",
    ),
    ("reduce_", "reductions_over_one_axis"),
    ("adam_f32", "adam_and_adamw_match_the_optimizer"),
    ("bn_", "batch_norm_forward_and_backward"),
    ("conv2d_", "convolution_forward_and_both_backward_passes"),
    ("avg_pool_", "pooling_and_resampling"),
    ("max_pool_", "pooling_and_resampling"),
    ("upsample_nearest_", "pooling_and_resampling"),
    ("bilinear_", "pooling_and_resampling"),
    ("bce_", "bce_gemm_embedding_and_copies"),
    ("gemm_f32", "bce_gemm_embedding_and_copies"),
    ("embedding_", "bce_gemm_embedding_and_copies"),
    ("copy_block_f32", "bce_gemm_embedding_and_copies"),
    (
        "selftest_shift_",
        "shuffled_schedule_exposes_a_missing_barrier",
    ),
    ("selftest_block_sum", "block_sum_with_shuffles"),
];

#[test]
fn every_kernel_has_a_test() {
    for kern in table::KERNELS {
        assert!(
            COVERAGE.iter().any(|(p, _)| kern.name.starts_with(p)),
            "kernel {} ({}.cu) is not covered by a test in tests/gpu.rs",
            kern.name,
            kern.module
        );
    }
    println!(
        "{} kernels in {} modules",
        table::KERNELS.len(),
        table::FATBINS.len()
    );
}

#[test]
fn batch_norm_running_statistics_update_on_the_device() {
    let mut r = Rng::new(14);
    let xs = randn(&mut r, 3 * 4 * 5 * 5);
    let run = |dev: Device| {
        let mut st = ops::BatchNormState {
            running_mean: Tensor::zeros([4], coin::DType::F32, dev),
            running_var: Tensor::ones([4], coin::DType::F32, dev),
            num_batches_tracked: 0,
        };
        let x = Tensor::from_f32(xs.clone(), [3, 4, 5, 5], dev).unwrap();
        for _ in 0..2 {
            ops::batch_norm(
                &x,
                ops::Affine::NONE,
                ops::BnMode::Train {
                    state: Some(&mut st),
                    momentum: 0.1,
                },
                1e-5,
            )
            .unwrap();
        }
        let y = ops::batch_norm(
            &x,
            ops::Affine::NONE,
            ops::BnMode::Eval { state: &st },
            1e-5,
        )
        .unwrap();
        (
            st.running_mean.to_vec_f64(),
            st.running_var.to_vec_f64(),
            y.to_vec_f64(),
            st.num_batches_tracked,
        )
    };
    let (me, ve, ye, ne) = run(Device::Emu);
    let (mr, vr, yr, nr) = run(Device::Reference);
    assert_eq!(ne, nr);
    close(
        "running mean",
        &me.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        &mr,
        1e-6,
        1e-5,
    );
    close(
        "running var",
        &ve.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        &vr,
        1e-6,
        1e-5,
    );
    close(
        "eval output",
        &ye.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        &yr,
        1e-5,
        1e-4,
    );
}
