//! `cargo run --release --bin train` — the project's main job.
//!
//! The COIN pipeline (classifier stage, counterfactual-inpainting stage) is not built yet. Until
//! it is, this binary fits the engine's built-in demo task — detecting a bright blob in noisy
//! 32×32 images with a small CNN — end to end on the engine (conv, batch norm, pooling, BCE,
//! Adam), and says so. Options: `--device cpu|reference|emu|cuda[:N]|auto`, `--steps N`, `--batch N`,
//! `--seed N`, `--out FILE` (a safetensors checkpoint, written atomically).

use coin::demo::blob_batch;
use coin::models::TinyCnn;
use coin::nn::Ctx;
use coin::optim::{Adam, AdamConfig};
use coin::{no_grad, ops, Device, Result, Tape};
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    device: Device,
    steps: u64,
    batch: usize,
    seed: u64,
    out: PathBuf,
}

fn parse() -> std::result::Result<Args, String> {
    let mut a = Args {
        device: Device::Cpu,
        steps: 300,
        batch: 32,
        seed: 777,
        out: PathBuf::from("runs/demo/model.safetensors"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--device" => {
                let v = val()?;
                a.device = if v == "auto" {
                    let p = coin::gpu::probe();
                    if let Some(w) = p.auto_warning() {
                        eprintln!("{w}");
                    }
                    p.auto_device()
                } else {
                    v.parse().map_err(|e: coin::Error| e.to_string())?
                }
            }
            "--steps" => a.steps = val()?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--batch" => a.batch = val()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--seed" => a.seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--out" => a.out = PathBuf::from(val()?),
            "-h" | "--help" => {
                println!("usage: train [--device cpu|reference|emu|cuda[:N]|auto] [--steps N] [--batch N] [--seed N] [--out FILE]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option '{other}' (see --help)")),
        }
    }
    if a.batch < 2 {
        return Err("--batch must be at least 2 (batch norm needs more than one sample)".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("train: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("train: {e}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> Result<()> {
    println!("coin train: the COIN pipeline is not implemented yet; fitting the engine's built-in");
    println!("demo task instead (blob / no blob in noisy 32×32 images, small CNN, BCE, Adam).");
    println!(
        "device {}, {} steps of batch {}, seed {}",
        a.device, a.steps, a.batch, a.seed
    );
    let size = 32;
    let mut model = TinyCnn::new(8, a.device, a.seed)?;
    let mut adam = Adam::new(
        &model.params,
        AdamConfig {
            lr: 3e-3,
            ..Default::default()
        },
    )?;
    let t0 = Instant::now();
    let mut avg = 0.0;
    for step in 0..a.steps {
        let b = blob_batch(a.seed, step, a.batch, size, a.device)?;
        let tape = Tape::new();
        let ctx = Ctx::train(&tape);
        let logits = model.forward(&b.images, &ctx)?;
        let loss = ops::loss::bce_with_logits(&logits, &b.labels)?;
        let value = loss.finite_scalar("classifier BCE loss")?;
        let wrt = model.params.tensors();
        let grads = tape.backward(&loss, &wrt.iter().collect::<Vec<_>>())?;
        model.params.zero_grad()?;
        model.params.accumulate(&grads)?;
        adam.step(&mut model.params)?;
        avg = if step == 0 {
            value
        } else {
            0.95 * avg + 0.05 * value
        };
        if step % 50 == 0 || step + 1 == a.steps {
            println!(
                "step {step:5}  loss {value:.4}  (running {avg:.4})  {:.1}s",
                t0.elapsed().as_secs_f64()
            );
        }
    }
    // Held-out evaluation with running BN statistics, no tape.
    let (mut correct, mut total) = (0usize, 0usize);
    for k in 0..8 {
        let b = blob_batch(a.seed ^ 0xe7a1, k, 64, size, a.device)?;
        let logits = no_grad(|| model.forward(&b.images, &Ctx::eval()))?;
        for (z, y) in logits.to_vec_f32().iter().zip(b.labels.to_vec_f32()) {
            correct += ((*z > 0.0) == (y > 0.5)) as usize;
            total += 1;
        }
    }
    println!(
        "held-out accuracy: {:.1}% on {total} images",
        100.0 * correct as f64 / total as f64
    );
    coin::io::save_groups(&a.out, &[&model.params])?;
    println!("checkpoint written to {}", a.out.display());
    Ok(())
}
