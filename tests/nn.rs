//! Layer 5 and the modules: a small network's training steps agree across backends; module
//! names, initialisations, CBN, checkpoints.

use crate::common::{check_close, Tol};
use coin::demo::blob_batch;
use coin::models::TinyCnn;
use coin::nn::init::Init;
use coin::nn::{
    BatchNorm2d, BatchNormCfg, CbnCfg, ConditionalBatchNorm2d, Conv2d, Conv2dCfg, Ctx, Embedding,
    EmbeddingCfg, Linear, LinearCfg, ParamGroup,
};
use coin::optim::{Adam, AdamConfig};
use coin::rng::Rng;
use coin::{ops, DType, Device, Tape, Tensor};

/// Three Adam steps of the demo CNN; returns the losses and the final parameters.
fn train_steps(dev: Device) -> (Vec<f64>, Vec<f32>, Vec<f32>) {
    let mut m = TinyCnn::new(4, dev, 11).unwrap();
    let mut adam = Adam::new(
        &m.params,
        AdamConfig {
            lr: 1e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let mut losses = Vec::new();
    let mut first_grad = Vec::new();
    for step in 0..3 {
        let b = blob_batch(5, step, 6, 16, dev).unwrap();
        let tape = Tape::new();
        let logits = m.forward(&b.images, &Ctx::train(&tape)).unwrap();
        let loss = ops::loss::bce_with_logits(&logits, &b.labels).unwrap();
        losses.push(loss.finite_scalar("loss").unwrap());
        let wrt = m.params.tensors();
        let g = tape
            .backward(&loss, &wrt.iter().collect::<Vec<_>>())
            .unwrap();
        m.params.zero_grad().unwrap();
        assert_eq!(
            m.params.accumulate(&g).unwrap(),
            wrt.len(),
            "every parameter gets a gradient"
        );
        if step == 0 {
            first_grad = m.params.grad().to_vec();
        }
        adam.step(&mut m.params).unwrap();
    }
    (losses, first_grad, m.params.values())
}

#[test]
fn tiny_network_training_agrees_across_backends() {
    let (lc, gc, pc) = train_steps(Device::Cpu);
    let (lr, gr, pr) = train_steps(Device::Reference);
    let tol = Tol {
        atol: 1e-5,
        rtol: 1e-4,
    };
    check_close("losses", &lc, &lr, tol).unwrap();
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    check_close(
        "first-step gradients",
        &f(&gc),
        &f(&gr),
        Tol {
            atol: 1e-5,
            rtol: 1e-3,
        },
    )
    .unwrap();
    check_close(
        "parameters after 3 steps",
        &f(&pc),
        &f(&pr),
        Tol {
            atol: 1e-5,
            rtol: 1e-3,
        },
    )
    .unwrap();
    assert!(lc[2] < lc[0] + 0.5, "loss should not blow up: {lc:?}");
}

/// The same three steps with every op on the CUDA kernels (emulated), the parameters in device
/// memory and the fused Adam kernel, against the reference.
#[test]
fn tiny_network_training_on_the_emulated_gpu_agrees_with_the_reference() {
    let (le, ge, pe) = train_steps(Device::Emu);
    let (lr, gr, pr) = train_steps(Device::Reference);
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let loose = Tol {
        atol: 1e-5,
        rtol: 1e-3,
    };
    check_close(
        "losses",
        &le,
        &lr,
        Tol {
            atol: 1e-5,
            rtol: 1e-4,
        },
    )
    .unwrap();
    check_close("first-step gradients", &f(&ge), &f(&gr), loose).unwrap();
    check_close("parameters after 3 steps", &f(&pe), &f(&pr), loose).unwrap();
}

#[test]
fn training_is_reproducible_bit_for_bit() {
    assert_eq!(train_steps(Device::Cpu).2, train_steps(Device::Cpu).2);
}

#[test]
fn parameter_names_follow_pytorch_state_dict() {
    let m = TinyCnn::new(4, Device::Cpu, 1).unwrap();
    let names: Vec<&str> = m.params.slots().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1.weight",
            "bn1.weight",
            "bn1.bias",
            "conv2.weight",
            "bn2.weight",
            "bn2.bias",
            "conv3.weight",
            "conv3.bias",
            "fc.weight",
            "fc.bias"
        ]
    );
    let bufs: Vec<String> = m
        .params
        .buffers()
        .iter()
        .map(|b| b.name().to_string())
        .collect();
    assert!(
        bufs.contains(&"bn1.running_var".to_string())
            && bufs.contains(&"bn2.num_batches_tracked".to_string())
    );
}

#[test]
fn initialisations_have_pytorch_ranges() {
    let mut rng = Rng::new(2);
    let mut g = ParamGroup::new("g", Device::Cpu);
    let conv = |cin, cout, bias, init| Conv2dCfg {
        cin,
        cout,
        k: 3,
        padding: 1,
        bias,
        init,
        ..Default::default()
    };
    let c = Conv2d::new(
        &mut g.scope("c"),
        conv(16, 32, true, Init::Default),
        &mut rng,
    )
    .unwrap();
    let bound = 1.0 / (16.0f32 * 9.0).sqrt();
    let w = c.weight.value().to_vec_f32();
    assert!(w.iter().all(|v| v.abs() <= bound) && w.iter().any(|v| v.abs() > 0.9 * bound));
    let x = Conv2d::new(
        &mut g.scope("x"),
        conv(64, 64, false, Init::XavierUniform(2f64.sqrt())),
        &mut rng,
    )
    .unwrap();
    let xb = (2.0f32).sqrt() * (6.0f32 / (64.0 * 9.0 * 2.0)).sqrt();
    let xv = x.weight.value().to_vec_f32();
    assert!(xv.iter().all(|v| v.abs() <= xb) && xv.iter().any(|v| v.abs() > 0.95 * xb));
    let n = Linear::new(
        &mut g.scope("n"),
        LinearCfg {
            fin: 400,
            fout: 300,
            bias: false,
            init: Init::XavierNormal(1.0),
        },
        &mut rng,
    )
    .unwrap();
    let nv = n.weight.value().to_vec_f64();
    let std = (nv.iter().map(|v| v * v).sum::<f64>() / nv.len() as f64).sqrt();
    let want = (2.0 / 700.0f64).sqrt();
    assert!(
        (std / want - 1.0).abs() < 0.03,
        "xavier normal std {std} vs {want}"
    );
}

/// A calibration pass (`Ctx::calibrate(k)` for batches k = 0, 1, 2) leaves batch norm's running
/// statistics at the plain average of the batches' statistics (unbiased variances, as PyTorch
/// keeps), whatever they held before; it records nothing.
#[test]
fn calibration_averages_the_batches_statistics() {
    let mut rng = Rng::new(6);
    let mut g = ParamGroup::new("g", Device::Cpu);
    let bn = BatchNorm2d::new(&mut g.scope("bn"), BatchNormCfg::new(2)).unwrap();
    bn.running_mean
        .set(Tensor::full(5.0, [2], DType::F32, Device::Cpu))
        .unwrap();
    let batches: Vec<Tensor> = (0..3)
        .map(|k| {
            let x = crate::common::randn(&mut rng, &[2, 2, 3, 3], DType::F32, Device::Cpu);
            ops::add_scalar(&x, k as f64).unwrap()
        })
        .collect();
    let (mut mean, mut var) = ([0.0; 2], [0.0; 2]);
    for x in &batches {
        let v = x.to_vec_f64();
        for c in 0..2 {
            let xs: Vec<f64> = (0..2)
                .flat_map(|n| v[(n * 2 + c) * 9..(n * 2 + c + 1) * 9].to_vec())
                .collect();
            let m = xs.iter().sum::<f64>() / 18.0;
            mean[c] += m / 3.0;
            var[c] += xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 17.0 / 3.0;
        }
    }
    for (k, x) in batches.iter().enumerate() {
        bn.forward(x, &Ctx::calibrate(k)).unwrap();
    }
    let tol = Tol {
        atol: 1e-5,
        rtol: 1e-5,
    };
    check_close("mean", &bn.running_mean.get().to_vec_f64(), &mean, tol).unwrap();
    check_close("var", &bn.running_var.get().to_vec_f64(), &var, tol).unwrap();
}

#[test]
fn conditional_batch_norm_picks_rows_and_scatters_gradients() {
    let mut rng = Rng::new(4);
    let mut g = ParamGroup::new("g", Device::Cpu);
    let cfg = CbnCfg {
        channels: 3,
        ..Default::default()
    };
    let cbn = ConditionalBatchNorm2d::new(&mut g.scope("cbn"), cfg, &mut rng).unwrap();
    let emb = cbn.embed.weight.value().to_vec_f32();
    assert!(
        emb[..3].iter().all(|v| (v - 1.0).abs() < 0.1) && emb[3..6].iter().all(|&v| v == 0.0),
        "γ≈1, β=0"
    );
    let x = crate::common::randn(&mut rng, &[4, 3, 2, 2], DType::F32, Device::Cpu);
    let y = Tensor::from_i64(vec![0, 0, 0, 0], [4], Device::Cpu).unwrap();
    let tape = Tape::new();
    let out = cbn.forward(&x, &y, &Ctx::train(&tape)).unwrap();
    let loss = ops::sum_all(&out).unwrap();
    let grads = tape.backward(&loss, &[&cbn.embed.weight.value()]).unwrap();
    let ge = grads.get(&cbn.embed.weight.value()).unwrap().to_vec_f64();
    // Class 1 is unused: its row gets exactly zero. β's gradient is the count of elements.
    assert!(ge[6..].iter().all(|&v| v == 0.0));
    check_close(
        "dβ",
        &ge[3..6],
        &[16.0; 3],
        Tol {
            atol: 1e-4,
            rtol: 1e-5,
        },
    )
    .unwrap();
    assert!(cbn
        .forward(
            &x,
            &Tensor::from_i64(vec![0, 1], [2], Device::Cpu).unwrap(),
            &Ctx::eval()
        )
        .is_err());
}

/// Class indices held in a float tensor select exactly the rows i64 ids select, with the same
/// gradient into the table, on the host and on `Emu` without a read; on the host a float id
/// that is not a row index is refused, on the device it gives a NaN row.
#[test]
fn an_embedding_takes_class_indices_held_as_floats() {
    let rows_and_grad = |y: &Tensor, dev: Device| {
        let mut g = ParamGroup::new("g", dev);
        let cfg = EmbeddingCfg {
            num: 2,
            dim: 5,
            init: None,
        };
        let e = Embedding::new(&mut g.scope("e"), cfg, &mut Rng::new(8)).unwrap();
        let tape = Tape::new();
        let before = coin::gpu::reads_on_this_thread();
        let rows = e.forward(&y.to_device(dev), &Ctx::train(&tape)).unwrap();
        let w = Tensor::from_f32((0..15).map(|v| v as f32 - 7.0).collect(), [3, 5], dev).unwrap();
        let loss = ops::sum_all(&ops::mul(&rows, &w).unwrap()).unwrap();
        let grads = tape.backward(&loss, &[&e.weight.value()]).unwrap();
        let reads = coin::gpu::reads_on_this_thread() - before;
        let gw = grads.get(&e.weight.value()).unwrap().to_vec_f64();
        (rows.to_vec_f64(), gw, reads)
    };
    let ids = Tensor::from_i64(vec![1, 0, 1], [3], Device::Cpu).unwrap();
    let as_numbers = Tensor::from_f32(vec![1.0, 0.0, 1.0], [3], Device::Cpu).unwrap();
    let want = rows_and_grad(&ids, Device::Cpu);
    for dev in [Device::Cpu, Device::Emu] {
        let got = rows_and_grad(&as_numbers, dev);
        assert_eq!(got.0, want.0, "{dev}: rows are exactly the table's");
        assert_eq!(got.1, want.1, "{dev}: gradient into the table");
        assert_eq!(got.2, 0, "{dev}: nothing read back");
    }
    let table = Tensor::from_f32((0..6).map(|v| v as f32).collect(), [3, 2], Device::Cpu).unwrap();
    let third = Tensor::from_f32(vec![2.0], [1], Device::Cpu).unwrap();
    assert_eq!(
        ops::embedding(&third, &table).unwrap().to_vec_f32(),
        vec![4.0, 5.0],
        "any row of a larger table"
    );
    let half = Tensor::from_f32(vec![0.5], [1], Device::Cpu).unwrap();
    let err = ops::embedding(&half, &table).unwrap_err();
    assert!(err.to_string().contains("not a row index"), "{err}");
    let on_emu = ops::embedding(&half.to_device(Device::Emu), &table.to_device(Device::Emu));
    assert!(on_emu.unwrap().to_vec_f32().iter().all(|v| v.is_nan()));
}

#[test]
fn checkpoints_round_trip_and_replace_atomically() {
    let dir = std::env::temp_dir().join(format!("coin-ckpt-{}", std::process::id()));
    let path = dir.join("m.safetensors");
    let m = TinyCnn::new(4, Device::Cpu, 9).unwrap();
    let tensors: Vec<(String, Tensor)> = m
        .params
        .params()
        .iter()
        .map(|p| (p.name().to_string(), p.value()))
        .collect();
    coin::io::save_tensors(&path, &tensors).unwrap();
    coin::io::save_tensors(&path, &tensors).unwrap();
    let back = coin::io::load_tensors(&path, Device::Cpu).unwrap();
    assert_eq!(back.len(), tensors.len());
    for (n, t) in &tensors {
        let b = &back.iter().find(|(m, _)| m == n).unwrap().1;
        assert_eq!(b.to_vec_f32(), t.to_vec_f32(), "{n}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "m.safetensors")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    std::fs::write(dir.join("bad.safetensors"), b"not a tensor file").unwrap();
    let e = coin::io::load_tensors(&dir.join("bad.safetensors"), Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.safetensors"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The spectral norm's power iteration on a GPU device runs through the ops: `u` and σ match
/// the host's f64 iteration, the normalised layer's output and weight gradient (σ a constant)
/// match, and a forward reads nothing back (σ only when asked).
#[test]
fn spectral_norm_on_the_device_matches_the_host_and_reads_nothing() {
    use coin::nn::{Conv2dCfg, Ctx, ParamGroup, SNConv2d};
    let run = |dev: Device| {
        let mut group = ParamGroup::new("d", dev);
        let mut rng = Rng::new(41);
        let cfg = Conv2dCfg {
            cin: 3,
            cout: 5,
            k: 3,
            padding: 1,
            ..Default::default()
        };
        let sn = SNConv2d::new(&mut group.scope("sn"), cfg, &mut rng).unwrap();
        let mut r = Rng::new(42);
        let x =
            Tensor::from_f32(crate::gpu::randn(&mut r, 2 * 3 * 6 * 6), [2, 3, 6, 6], dev).unwrap();
        let tape = Tape::new();
        let ctx = Ctx::train(&tape);
        let before = coin::gpu::reads_on_this_thread();
        // Two forwards: two power iterations, the second starting from the updated u.
        sn.forward(&x, &ctx).unwrap();
        let y = sn.forward(&x, &ctx).unwrap();
        let reads = coin::gpu::reads_on_this_thread() - before;
        let loss = ops::sum_all(&ops::square(&y).unwrap()).unwrap();
        let wrt = group.tensors();
        let g = tape
            .backward(&loss, &wrt.iter().collect::<Vec<_>>())
            .unwrap();
        let dw = g.get_id(sn.conv.weight.id()).unwrap().to_vec_f64();
        (
            sn.sigma(),
            sn.u.get().to_vec_f64(),
            y.to_vec_f64(),
            dw,
            reads,
        )
    };
    let (se, ue, ye, dwe, reads) = run(Device::Emu);
    let (sr, ur, yr, dwr, _) = run(Device::Reference);
    assert_eq!(reads, 0, "the power iteration read back {reads} buffers");
    assert!((se - sr).abs() < 1e-5 * sr.abs(), "σ {se} vs {sr}");
    check_close("u", &ue, &ur, crate::common::REDUCTION).unwrap();
    check_close("y", &ye, &yr, crate::common::REDUCTION).unwrap();
    check_close("dW", &dwe, &dwr, crate::common::REDUCTION).unwrap();
}
