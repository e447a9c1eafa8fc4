//! The op × shape table every backend test runs (the idea of ggml's test-backend-ops): each case
//! names an op, its inputs (shape, value range, whether a gradient is checked) and a closure,
//! and may name the PyTorch fixture (tests/fixtures/<name>.safetensors) that checks the same
//! closure on PyTorch's inputs and outputs. One builder per op family, in `cases/<family>.rs`.

mod composite;
mod conv;
mod elementwise;
mod embedding;
mod linear;
mod loss;
mod norm;
mod pool;
mod reduce;
mod resample;
mod shape;

pub use coin::ops::{self, Conv2dParams};
pub use coin::{DType, Result, Tensor};

pub struct Input {
    pub shape: Vec<usize>,
    pub lo: f64,
    pub hi: f64,
    pub grad: bool,
}

fn inp(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        lo: -2.0,
        hi: 2.0,
        grad: true,
    }
}
fn pos(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        lo: 0.5,
        hi: 2.0,
        grad: true,
    }
}
fn prob(shape: &[usize]) -> Input {
    Input {
        shape: shape.to_vec(),
        lo: 0.02,
        hi: 0.98,
        grad: true,
    }
}

pub type OpFn = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

pub struct Case {
    pub name: String,
    pub inputs: Vec<Input>,
    pub f: OpFn,
    /// Reductions and convolutions sum in different orders on each backend.
    pub reduction: bool,
    /// Small enough for finite differences (large cases only run CPU vs reference).
    pub gradcheck: bool,
    /// The PyTorch fixture that runs this closure on PyTorch's inputs (`pytorch_fixtures.rs`).
    pub fixture: Option<&'static str>,
}

/// Names the PyTorch fixture of each (case, fixture) pair; a name not in `cases` panics.
fn tag_fixtures(cases: &mut [Case], pairs: &[(&str, &'static str)]) {
    for &(name, fixture) in pairs {
        let c = cases
            .iter_mut()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case named {name:?} for fixture {fixture}"));
        c.fixture = Some(fixture);
    }
}

fn case(
    name: &str,
    inputs: Vec<Input>,
    reduction: bool,
    f: impl Fn(&[Tensor]) -> Result<Tensor> + 'static,
) -> Case {
    Case {
        name: name.to_string(),
        inputs,
        f: Box::new(f),
        reduction,
        gradcheck: true,
        fixture: None,
    }
}

fn ids(like: &Tensor, v: &[i64]) -> Tensor {
    Tensor::from_i64(v.to_vec(), [v.len()], like.device()).unwrap()
}

/// Every case, family by family (the order fixes each case's input seed).
pub fn all_cases() -> Vec<Case> {
    [
        elementwise::cases(),
        reduce::cases(),
        shape::cases(),
        conv::cases(),
        norm::cases(),
        pool::cases(),
        resample::cases(),
        linear::cases(),
        embedding::cases(),
        loss::cases(),
        composite::cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn bn_state(x: &Tensor, c: usize) -> ops::BatchNormState {
    ops::BatchNormState {
        running_mean: Tensor::zeros([c], x.dtype(), x.device()),
        running_var: Tensor::ones([c], x.dtype(), x.device()),
        num_batches_tracked: 0,
    }
}

pub fn make_inputs(case: &Case, seed: u64, dtype: DType, dev: coin::Device) -> Vec<Tensor> {
    let mut rng = coin::rng::Rng::new(seed);
    case.inputs
        .iter()
        .map(|i| crate::common::uniform(&mut rng, &i.shape, i.lo, i.hi, dtype, dev))
        .collect()
}
