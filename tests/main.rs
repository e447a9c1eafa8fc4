//! The engine's test suite: one binary (fast to build), one module per testing layer.

mod cases;
mod coin_nets;
mod coin_step;
mod common;

mod architecture;
mod attribution;
mod augment;
mod autograd;
mod backends;
mod bad_input;
mod cli;
mod data_window;
mod dataset;
mod docs;
mod evaluate;
mod gpu;
mod gpu_check;
mod gpu_train;
mod gradcheck;
mod layout;
mod loader;
mod model_api;
mod nifti;
mod nn;
mod phantom;
mod pytorch_fixtures;
mod reference_values;
mod run_state;
mod sample_data;
mod segment;
mod segment_path;
mod slices;
mod storage;
mod train_pipeline;
mod tumour;
