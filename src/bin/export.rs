//! `cargo run --release --bin export -- --model RUN [--checkpoint final|last|DIR] --out MODEL.coin`
//!
//! Writes what `segment` needs from a trained run as one file to hand a colleague: the encoder
//! and generator (the moving average when the run kept one) and the classifier, with the
//! configuration, preprocessing, summary, versions and a model card (also written beside it as
//! `MODEL.md`). `segment --model MODEL.coin` and `evaluate --model MODEL.coin --data DIR` read it.

use clap::Parser;
use coin::cli::{Failure, ModelArgs};
use coin::train::{bundle_card, export_bundle};
use coin::Device;
use std::path::PathBuf;

/// Export a trained run's model as one bundle file (safetensors with metadata and a model card).
#[derive(Parser, Debug)]
#[command(version, about, long_about, after_help = coin::cli::EXIT_CODES_HELP)]
struct Args {
    #[command(flatten)]
    trained: ModelArgs,
    /// The bundle file to write (e.g. model.coin).
    #[arg(long)]
    out: PathBuf,
    /// Overwrite an existing --out.
    #[arg(long)]
    force: bool,
}

fn main() {
    let a = Args::parse();
    coin::cli::main("export", || real_main(&a))
}

fn real_main(a: &Args) -> Result<(), Failure> {
    if a.out.exists() && !a.force {
        return Err(Failure::usage(format!(
            "{} exists (pass --force to overwrite)",
            a.out.display()
        )));
    }
    if a.out.is_dir() {
        return Err(Failure::usage(format!(
            "--out {} is a folder; give a file name such as model.coin",
            a.out.display()
        )));
    }
    let model = a.trained.open(Device::Cpu)?;
    let bytes = export_bundle(&model, &a.out)?;
    let card = a.out.with_extension("md");
    coin::io::checkpoint::write_atomic(&card, bundle_card(&a.out)?.as_bytes())?;
    println!(
        "exported {} (checkpoint {}, step {}{}) → {} ({:.1} MB), model card {}",
        a.trained.model.display(),
        model.checkpoint.display(),
        model.step,
        if model.averaged {
            ", moving average"
        } else {
            ""
        },
        a.out.display(),
        bytes as f64 / 1e6,
        card.display()
    );
    Ok(())
}
