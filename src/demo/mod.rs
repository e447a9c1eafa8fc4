//! The built-in demo task that `cargo run --release --bin train` fits until the COIN pipeline
//! exists: detect a bright blob in noisy images — a miniature of the paper's synthetic-tumour
//! classifier stage, generated on the fly (no download).

mod blobs;

pub use blobs::{blob_batch, BlobBatch};
