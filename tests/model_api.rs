//! The model-building API: scopes register every parameter and buffer under PyTorch's dotted
//! names, a set of groups is saved and strictly loaded by name, bit for bit.

use coin::nn::{
    BatchNorm2d, BatchNormCfg, CbnCfg, ConditionalBatchNorm2d, Conv2d, Conv2dCfg, Ctx, LinearCfg,
    ParamGroup, SNConv2d, SNLinear,
};
use coin::rng::Rng;
use coin::{io, ops, DType, Device, Tape, Tensor};

/// conv → BN → ReLU → SN conv → BN → CBN (2 classes) → mean → SN linear, over two groups.
struct Toy {
    body: ParamGroup,
    head: ParamGroup,
    conv: Conv2d,
    bn1: BatchNorm2d,
    sn: SNConv2d,
    bn2: BatchNorm2d,
    cbn: ConditionalBatchNorm2d,
    fc: SNLinear,
}

fn toy(seed: u64) -> Toy {
    let mut rng = Rng::new(seed);
    let mut body = ParamGroup::new("body", Device::Cpu);
    let mut head = ParamGroup::new("head", Device::Cpu);
    let mut s = body.scope("net");
    let conv3 = |cin, cout, bias| Conv2dCfg {
        cin,
        cout,
        k: 3,
        padding: 1,
        bias,
        ..Default::default()
    };
    let conv = Conv2d::new(&mut s.scope("stem.0"), conv3(1, 4, false), &mut rng).unwrap();
    let bn1 = BatchNorm2d::new(&mut s.scope("stem.1"), BatchNormCfg::new(4)).unwrap();
    let sn = SNConv2d::new(&mut s.scope("block").scope(0), conv3(4, 6, true), &mut rng).unwrap();
    let bn2 = BatchNorm2d::new(&mut s.scope("block.1"), BatchNormCfg::new(6)).unwrap();
    let cbn_cfg = CbnCfg {
        channels: 6,
        relu: true,
        ..Default::default()
    };
    let cbn = ConditionalBatchNorm2d::new(&mut s.scope("cbn"), cbn_cfg, &mut rng).unwrap();
    let fc_cfg = LinearCfg {
        fin: 6,
        fout: 1,
        ..Default::default()
    };
    let fc = SNLinear::new(&mut head.scope("fc"), fc_cfg, &mut rng).unwrap();
    Toy {
        body,
        head,
        conv,
        bn1,
        sn,
        bn2,
        cbn,
        fc,
    }
}

impl Toy {
    fn forward(&self, x: &Tensor, ctx: &Ctx) -> Tensor {
        let h = ops::relu(
            &self
                .bn1
                .forward(&self.conv.forward(x, ctx).unwrap(), ctx)
                .unwrap(),
        );
        let h = self
            .bn2
            .forward(&self.sn.forward(&h.unwrap(), ctx).unwrap(), ctx);
        let y = Tensor::from_i64(vec![0, 1], [2], Device::Cpu).unwrap();
        let h = self.cbn.forward(&h.unwrap(), &y, ctx).unwrap();
        let h = ops::mean(&h, &[2, 3], false).unwrap();
        self.fc.forward(&h, ctx).unwrap()
    }
}

fn names_shapes_dtypes(groups: &[&ParamGroup]) -> Vec<(String, Vec<usize>, DType)> {
    coin::nn::named_tensors(groups)
        .into_iter()
        .map(|(n, t)| (n, t.dims().to_vec(), t.dtype()))
        .collect()
}

#[test]
fn scopes_register_every_parameter_and_buffer_by_name() {
    let m = toy(1);
    let got = names_shapes_dtypes(&[&m.body, &m.head]);
    let f = DType::F32;
    let i = DType::I64;
    let want: Vec<(&str, Vec<usize>, DType)> = vec![
        ("net.stem.0.weight", vec![4, 1, 3, 3], f),
        ("net.stem.1.weight", vec![4], f),
        ("net.stem.1.bias", vec![4], f),
        ("net.block.0.weight", vec![6, 4, 3, 3], f),
        ("net.block.0.bias", vec![6], f),
        ("net.block.1.weight", vec![6], f),
        ("net.block.1.bias", vec![6], f),
        ("net.cbn.embed.weight", vec![2, 12], f),
        ("net.stem.1.running_mean", vec![4], f),
        ("net.stem.1.running_var", vec![4], f),
        ("net.stem.1.num_batches_tracked", vec![], i),
        ("net.block.0.u", vec![1, 6], f),
        ("net.block.1.running_mean", vec![6], f),
        ("net.block.1.running_var", vec![6], f),
        ("net.block.1.num_batches_tracked", vec![], i),
        ("net.cbn.bn.running_mean", vec![6], f),
        ("net.cbn.bn.running_var", vec![6], f),
        ("net.cbn.bn.num_batches_tracked", vec![], i),
        ("fc.weight", vec![1, 6], f),
        ("fc.bias", vec![1], f),
        ("fc.u", vec![1, 1], f),
    ];
    let want: Vec<(String, Vec<usize>, DType)> = want
        .into_iter()
        .map(|(n, s, d)| (n.to_string(), s, d))
        .collect();
    assert_eq!(got, want);
    assert_eq!(m.body.num_parameters(), 36 + 8 + (216 + 6) + 12 + 24);
}

#[test]
fn a_name_registered_twice_is_refused() {
    let mut g = ParamGroup::new("g", Device::Cpu);
    BatchNorm2d::new(&mut g.scope("bn"), BatchNormCfg::new(2)).unwrap();
    let e = BatchNorm2d::new(&mut g.scope("bn"), BatchNormCfg::new(2));
    assert!(e.err().unwrap().to_string().contains("bn.weight"));
    let zero = Conv2d::new(&mut g.scope("c"), Conv2dCfg::default(), &mut Rng::new(0));
    assert!(zero.is_err(), "a zero-channel conv is refused");
}

#[test]
fn training_updates_buffers_and_checkpoints_round_trip_bit_exactly() {
    let dir = std::env::temp_dir().join(format!("coin-model-api-{}", std::process::id()));
    let path = dir.join("toy.safetensors");
    let m = toy(2);
    let x = coin::rng::Rng::new(3).fill(2 * 16, |r| r.normal());
    let x = Tensor::from_f32(x, [2, 1, 4, 4], Device::Cpu).unwrap();
    for _ in 0..2 {
        let tape = Tape::new();
        m.forward(&x, &Ctx::train(&tape));
    }
    let state = coin::nn::named_tensors(&[&m.body, &m.head]);
    let get = |n: &str| state.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("net.stem.1.num_batches_tracked").to_vec_i64(), [2]);
    assert_ne!(get("net.block.1.running_var").to_vec_f32(), [1.0; 6]);
    let u0 = toy(2).sn.u.get().to_vec_f32();
    assert_ne!(get("net.block.0.u").to_vec_f32(), u0, "u advanced");
    io::save_groups(&path, &[&m.body, &m.head]).unwrap();

    // A fresh model of another seed takes every value back, bit for bit.
    let other = toy(9);
    io::load_groups(&path, &[&other.body, &other.head]).unwrap();
    let back = coin::nn::named_tensors(&[&other.body, &other.head]);
    assert_eq!(back.len(), state.len());
    for ((na, a), (nb, b)) in state.iter().zip(&back) {
        assert_eq!(na, nb);
        assert_eq!(a.dtype(), b.dtype(), "{na}");
        let bits = |t: &Tensor| match t.dtype() {
            DType::I64 => t.to_vec_i64().iter().map(|&v| v as u64).collect::<Vec<_>>(),
            _ => t.to_vec_f32().iter().map(|v| v.to_bits() as u64).collect(),
        };
        assert_eq!(bits(a), bits(b), "{na}");
    }
    // The loaded model computes exactly what the saved one does (eval: running statistics).
    let (ya, yb) = (m.forward(&x, &Ctx::eval()), other.forward(&x, &Ctx::eval()));
    // `u` advanced once more in each; both started from the same saved value.
    assert_eq!(ya.to_vec_f32(), yb.to_vec_f32());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn strict_load_names_missing_extra_and_misshaped_tensors() {
    let dir = std::env::temp_dir().join(format!("coin-model-strict-{}", std::process::id()));
    let m = toy(4);
    let full = coin::nn::named_tensors(&[&m.body, &m.head]);
    let write = |name: &str, tensors: Vec<(String, Tensor)>| {
        let p = dir.join(name);
        io::save_tensors(&p, &tensors).unwrap();
        p
    };
    let groups = [&m.body, &m.head];
    let before = coin::nn::named_tensors(&groups);

    let missing: Vec<_> = full
        .iter()
        .filter(|(n, _)| n != "net.block.1.running_var")
        .cloned()
        .collect();
    let e = io::load_groups(&write("missing.safetensors", missing), &groups).unwrap_err();
    let e = e.to_string();
    assert!(e.contains("net.block.1.running_var: missing"), "{e}");
    assert!(e.contains("missing.safetensors"), "{e}");

    let mut extra = full.clone();
    extra.push((
        "net.block.2.weight".into(),
        Tensor::zeros([3], DType::F32, Device::Cpu),
    ));
    let e = io::load_groups(&write("extra.safetensors", extra), &groups).unwrap_err();
    assert!(
        e.to_string()
            .contains("net.block.2.weight: not a tensor of this model"),
        "{e}"
    );

    let mut shaped = full.clone();
    for (n, t) in shaped.iter_mut() {
        if n == "fc.u" {
            *t = Tensor::zeros([1, 2], DType::F32, Device::Cpu);
        }
        if n == "net.stem.1.num_batches_tracked" {
            *t = Tensor::zeros(Vec::<usize>::new(), DType::F32, Device::Cpu);
        }
    }
    let e = io::load_groups(&write("shape.safetensors", shaped), &groups).unwrap_err();
    let e = e.to_string();
    assert!(
        e.contains("fc.u: expected f32 [1, 1], found f32 [1, 2]"),
        "{e}"
    );
    assert!(
        e.contains("net.stem.1.num_batches_tracked: expected i64"),
        "{e}"
    );
    assert!(e.contains("2 problems"), "{e}");

    // A failed load changed nothing.
    let after = coin::nn::named_tensors(&groups);
    for ((n, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a.to_vec_f64(), b.to_vec_f64(), "{n}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
