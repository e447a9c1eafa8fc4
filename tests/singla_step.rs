//! The Singla et al. counterfactual-explanation step against PyTorch, step for step, with the
//! COIN step's harness (`coin_step.rs`). `scripts/singla_parity.py` writes
//! tests/fixtures/singla_step.safetensors from the authors' `CounterfactualCGAN` (commit
//! 1af55fd) on the same small networks: the paper's row (L1 reconstruction, `tanh(r)` head,
//! every λ 1), three iterations with gen_update_freq 2, and the first generator step again
//! with CARL reconstruction on the batch's two region masks. Also here: the method's
//! configuration keys and their errors.

use super::coin_step::{
    against_pytorch, close, crop, emu_matches_cpu_and_reads_only_what_it_logs, fixture,
    generator_losses, input, losses_match, setup, Spec,
};
use coin::data::loader::Batch;
use coin::models::{Method, OutputHead};
use coin::train::{region_masks, LossWeights, Rec, RunConfig};
use coin::{Device, Tensor};
use std::collections::BTreeMap;

const SINGLA: Spec = Spec {
    fixture: "singla_step.safetensors",
    method: Method::Singla,
    head: OutputHead::Tanh,
    weights: LossWeights {
        adv: 1.0,
        kl: 1.0,
        rec: 1.0,
        minc: 0.0,
        tv: 0.0,
    },
    // The classifier's gradient is discontinuous where a ReLU or max-pool window is near a
    // tie, and this generator's flat `tanh(r)` output has many: the classifier alone agrees
    // on Cpu and Reference to 4e-8 on one input, but the 1e-6 by which Cpu's f32
    // counterfactual differs from Reference's moves dKL/dx_cf by 3e-5 (of 0.023), which sets
    // one encoder bias gradient 2.4× COIN's tolerance from PyTorch's (Reference meets COIN's).
    tolerance: 3.0,
};

#[test]
fn singla_step_matches_pytorch_on_cpu() {
    against_pytorch(&SINGLA, Device::Cpu);
}

#[test]
fn singla_step_matches_pytorch_on_reference() {
    against_pytorch(&SINGLA, Device::Reference);
}

#[test]
fn singla_step_on_the_emulated_gpu_matches_cpu_and_reads_only_what_it_logs() {
    emu_matches_cpu_and_reads_only_what_it_logs(&SINGLA);
}

/// The first generator step with CARL reconstruction: every term and every E+G gradient.
#[test]
fn the_carl_reconstruction_matches_pytorch() {
    let fx = fixture(&SINGLA);
    let (nets, f, mut step) = setup(&SINGLA, Device::Cpu, &fx);
    step.cfg.rec = Rec::Carl;
    let x = input(&fx, 0, false, Device::Cpu);
    let masks = crop(&fx["masks/0"], false, Device::Cpu);
    let tape = coin::Tape::new();
    let (g, _) = generator_losses(&nets, &f, &step, &x, Some(&masks), &tape);
    let ours: BTreeMap<String, f64> = g
        .named()
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_vec_f64()[0]))
        .collect();
    losses_match("carl", &ours, &fx, "carl/loss/", 2e-4);
    let params = nets.eg.params();
    let wrt: Vec<Tensor> = nets.eg.tensors();
    let grads = tape
        .backward(&g.total, &wrt.iter().collect::<Vec<_>>())
        .unwrap();
    for p in &params {
        let ours = grads.get_id(p.id()).expect("a gradient").to_vec_f64();
        let want = fx[&format!("carl/grad/{}", p.name())].to_vec_f64();
        close(&format!("carl grad {}", p.name()), &ours, &want, 2e-3, 1e-5);
    }
}

/// CARL on a batch whose slices have no organ masks (image-level data) fails naming the key.
#[test]
fn carl_without_organ_masks_fails_naming_the_key() {
    let images = Tensor::zeros([2, 1, 4, 4], coin::DType::F32, Device::Cpu);
    let b = Batch {
        labels: Tensor::zeros([2, 1], coin::DType::F32, Device::Cpu),
        images,
        masks: vec![vec![], vec![]],
        indices: vec![7, 8],
        clean: None,
    };
    let e = region_masks(&b).unwrap_err().to_string();
    assert!(e.contains("[coin.step] rec = \"carl\""), "{e}");
    let fx = fixture(&SINGLA);
    let (mut nets, f, mut step) = setup(&SINGLA, Device::Cpu, &fx);
    step.cfg.rec = Rec::Carl;
    let x = input(&fx, 0, true, Device::Cpu);
    let e = step
        .train_step(&mut nets, &f.net, &x)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[coin.step] rec = \"carl\""), "{e}");
}

/// `cpu-singla` is `cpu-default` with only the method's keys, the λ and the authors' init of the
/// generator's last convolution (a zero `r` under `tanh(r)` is a grey image) changed, so re-tunes
/// of `cpu-default` carry over; `paper-singla` is `paper-synthetic` likewise.
#[test]
fn the_singla_presets_extend_their_coin_presets() {
    for (variant, base) in [
        ("cpu-singla", "cpu-default"),
        ("paper-singla", "paper-synthetic"),
    ] {
        let v = RunConfig::preset(variant).unwrap();
        let mut b = RunConfig::preset(base).unwrap();
        assert_eq!(v.coin.method, Method::Singla);
        assert_eq!(v.coin.head, OutputHead::Tanh);
        assert_eq!(v.coin.step.rec, Rec::L1);
        assert_eq!(v.coin.step.weights, SINGLA.weights);
        assert_eq!(v.coin.head_init_scale, 1.0);
        b.name = v.name.clone();
        b.coin.method = Method::Singla;
        b.coin.head = OutputHead::Tanh;
        b.coin.step.weights = SINGLA.weights;
        b.coin.head_init_scale = 1.0;
        assert_eq!(
            v, b,
            "{variant} differs from {base} beyond the method's keys"
        );
    }
}

/// Bad values of the method's keys fail naming the key.
#[test]
fn bad_method_keys_fail_naming_the_key() {
    for (text, key) in [
        ("[coin]\nmethod = \"singler\"\n", "method"),
        ("[coin]\nhead = \"sigmoid\"\n", "head"),
        ("[coin.step]\nrec = \"l2\"\n", "rec"),
        ("extends = \"cpu-defualt\"\n", "extends"),
    ] {
        let text = format!("extends = \"cpu-default\"\n{text}");
        let text = text.replacen("extends = \"cpu-default\"\nextends", "extends", 1);
        let e = RunConfig::parse(&text, "test.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{text}: {e}");
    }
}
