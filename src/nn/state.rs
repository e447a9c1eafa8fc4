//! A set of parameter groups as one `state_dict`: every parameter and buffer by name, and a
//! strict load that refuses a missing name, an extra name, or a shape or dtype mismatch,
//! naming each.

use super::ParamGroup;
use crate::{DType, Error, Result, Tensor};
use std::collections::BTreeMap;

/// Every named tensor of `groups` (parameters, then buffers, group by group).
pub fn named_tensors(groups: &[&ParamGroup]) -> Vec<(String, Tensor)> {
    groups.iter().flat_map(|g| g.named_tensors()).collect()
}

/// Loads `tensors` into `groups`: names must match exactly both ways, each with the same shape
/// and dtype (f32 parameters and float buffers, i64 `num_batches_tracked`). Every problem is
/// reported at once, and nothing is changed unless every check passes.
pub fn load_named(groups: &[&ParamGroup], tensors: Vec<(String, Tensor)>) -> Result<()> {
    let mut given: BTreeMap<String, Tensor> = BTreeMap::new();
    let mut problems = Vec::new();
    for (n, t) in tensors {
        if given.insert(n.clone(), t).is_some() {
            problems.push(format!("{n}: given twice"));
        }
    }
    enum Target<'a> {
        Param(super::Param),
        Buffer(&'a super::BufferHandle),
    }
    let mut targets: Vec<(String, Target, Vec<usize>, DType)> = Vec::new();
    for g in groups {
        for p in g.params() {
            let dims = p.shape().dims().to_vec();
            targets.push((p.name().to_string(), Target::Param(p), dims, DType::F32));
        }
        for b in g.buffers() {
            let v = b.get();
            targets.push((
                b.name().to_string(),
                Target::Buffer(b),
                v.dims().to_vec(),
                v.dtype(),
            ));
        }
    }
    let mut plan = Vec::new();
    for (name, target, dims, dtype) in targets {
        match given.remove(&name) {
            None => problems.push(format!("{name}: missing ({dtype} {dims:?} expected)")),
            Some(t) if t.dims() != dims.as_slice() || t.dtype() != dtype => problems.push(format!(
                "{name}: expected {dtype} {dims:?}, found {} {:?}",
                t.dtype(),
                t.dims()
            )),
            Some(t) => plan.push((target, t)),
        }
    }
    for name in given.keys() {
        problems.push(format!("{name}: not a tensor of this model (extra)"));
    }
    if !problems.is_empty() {
        return Err(Error::Format(format!(
            "checkpoint does not match the model ({} problem{}): {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("; ")
        )));
    }
    for (target, t) in plan {
        match target {
            Target::Param(p) => p.set(&t.try_to_vec_f32()?)?,
            Target::Buffer(b) => b.set(t)?,
        }
    }
    Ok(())
}
