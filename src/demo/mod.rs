//! A tiny task for the engine's model-level tests: detect a bright blob in noisy images — a
//! miniature of the paper's synthetic-tumour classifier stage, generated on the fly.

mod blobs;

pub use blobs::{blob_batch, BlobBatch};
