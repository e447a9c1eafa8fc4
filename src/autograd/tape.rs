//! The tape: a list of recorded ops, each with its inputs' ids and a backward closure.

use super::grad_mode::is_grad_enabled;
use crate::tensor::TensorId;
use crate::{ops, Error, Result, Tensor};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// A backward rule: given the gradient of the op's output and, per input, whether that input
/// needs a gradient, returns the inputs' gradients (`None` where not needed). Saved activations
/// live in the closure (untracked), so they are freed when the closure is consumed.
pub(crate) type BackwardFn =
    Box<dyn FnOnce(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + 'static>;

struct Entry {
    op: &'static str,
    inputs: Vec<TensorId>,
    output: TensorId,
    backward: BackwardFn,
}

#[derive(Default)]
struct TapeInner {
    entries: Vec<Entry>,
}

/// An explicit autodiff tape. Cloning shares it.
#[derive(Clone, Default)]
pub struct Tape(Arc<Mutex<TapeInner>>);

impl Tape {
    pub fn new() -> Tape {
        Tape::default()
    }

    /// The same tensor (same id, same storage) with its uses recorded on this tape.
    pub fn track(&self, t: &Tensor) -> Tensor {
        t.with_tape(Some(self.clone()))
    }

    /// Number of recorded ops.
    pub fn len(&self) -> usize {
        self.0.lock().expect("tape lock").entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn same(&self, other: &Tape) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Back-propagates from a one-element `loss`, returning gradients for the tensors in `wrt`
    /// only. Consumes the tape's entries.
    pub fn backward(&self, loss: &Tensor, wrt: &[&Tensor]) -> Result<Gradients> {
        if loss.numel() != 1 {
            return Err(Error::Shape(format!(
                "backward needs a one-element loss, got shape {} (use backward_with to seed a \
                 gradient of that shape)",
                loss.shape()
            )));
        }
        let seed = Tensor::ones(loss.shape().clone(), loss.dtype(), loss.device());
        self.backward_with(loss, seed, wrt)
    }

    /// Back-propagates `seed` (the gradient of some scalar with respect to `output`).
    pub fn backward_with(
        &self,
        output: &Tensor,
        seed: Tensor,
        wrt: &[&Tensor],
    ) -> Result<Gradients> {
        if seed.shape() != output.shape() {
            return Err(Error::Shape(format!(
                "backward seed shape {} does not match output shape {}",
                seed.shape(),
                output.shape()
            )));
        }
        match output.tape() {
            Some(t) if t.same(self) => {}
            _ => {
                return Err(Error::Invalid(
                    "backward: the output was not recorded on this tape (was it computed under \
                     no_grad, detached, or from untracked inputs?)"
                        .into(),
                ))
            }
        }
        let entries = std::mem::take(&mut self.0.lock().expect("tape lock").entries);
        let wanted: HashSet<TensorId> = wrt.iter().map(|t| t.id()).collect();

        // Forward sweep: which tensors lie downstream of a wanted one.
        let mut live: HashSet<TensorId> = wanted.clone();
        for e in &entries {
            if e.inputs.iter().any(|i| live.contains(i)) {
                live.insert(e.output);
            }
        }

        let mut grads: HashMap<TensorId, Tensor> = HashMap::new();
        grads.insert(output.id(), seed.detach());
        let mut entries = entries;
        while let Some(e) = entries.pop() {
            if !live.contains(&e.output) {
                continue;
            }
            let g = if wanted.contains(&e.output) {
                grads.get(&e.output).cloned()
            } else {
                grads.remove(&e.output)
            };
            let Some(g) = g else { continue };
            let needs: Vec<bool> = e.inputs.iter().map(|i| live.contains(i)).collect();
            if !needs.iter().any(|&n| n) {
                continue;
            }
            let op = e.op;
            let input_grads = (e.backward)(&g, &needs)
                .map_err(|err| Error::Invalid(format!("backward of {op}: {err}")))?;
            for ((id, need), gi) in e.inputs.iter().zip(&needs).zip(input_grads) {
                if let (true, Some(gi)) = (*need, gi) {
                    accumulate(&mut grads, *id, gi)?;
                }
            }
        }
        grads.retain(|id, _| wanted.contains(id));
        Ok(Gradients(grads))
    }
}

fn accumulate(grads: &mut HashMap<TensorId, Tensor>, id: TensorId, g: Tensor) -> Result<()> {
    let g = g.detach();
    match grads.remove(&id) {
        Some(prev) => {
            let sum = ops::add(&prev, &g)?;
            grads.insert(id, sum);
        }
        None => {
            grads.insert(id, g);
        }
    }
    Ok(())
}

/// Gradients by tensor id, as returned by [`Tape::backward`].
#[derive(Default, Debug)]
pub struct Gradients(HashMap<TensorId, Tensor>);

impl Gradients {
    /// The gradient of `t`, if it was asked for and reached by the loss.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.0.get(&t.id())
    }
    pub fn get_id(&self, id: TensorId) -> Option<&Tensor> {
        self.0.get(&id)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Records an op: if grad mode is on and any input is tracked, appends an entry to that tape
/// and returns `output` tracked on it; otherwise returns `output` untracked and drops the rule.
pub(crate) fn record(
    op: &'static str,
    inputs: &[&Tensor],
    output: Tensor,
    backward: BackwardFn,
) -> Result<Tensor> {
    if !is_grad_enabled() {
        return Ok(output);
    }
    let mut tape: Option<&Tape> = None;
    for t in inputs {
        if let Some(tt) = t.tape() {
            match tape {
                None => tape = Some(tt),
                Some(prev) if prev.same(tt) => {}
                Some(_) => {
                    return Err(Error::Invalid(format!(
                        "{op}: inputs are tracked on two different tapes"
                    )))
                }
            }
        }
    }
    let Some(tape) = tape else { return Ok(output) };
    let out = output.with_tape(Some(tape.clone()));
    tape.0.lock().expect("tape lock").entries.push(Entry {
        op,
        inputs: inputs.iter().map(|t| t.id()).collect(),
        output: out.id(),
        backward,
    });
    Ok(out)
}
