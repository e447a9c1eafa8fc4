//! Embedding lookup: rows of a table gathered by integer ids. Backward scatter-adds the output
//! gradient into the rows (a row used by several samples gets the sum, in sample order).
//!
//! Ids are i64, or class indices held in a float tensor (integral values: a class computed by
//! ops where the values are, such as COIN's bin of the classifier's p ≥ 0.5, conditions a
//! network without a read). Host ids are checked on the host; float ids already on a GPU
//! device are not read back — an invalid one gives a NaN row there.
//!
//! The host backends share this code: a gather is exact in any precision, and the scatter-add
//! runs sequentially in sample order, so it is deterministic. On the GPU devices the ids go to
//! the device as f32 (float ids stay where they are) and kernels/embedding.cu gathers and sums,
//! also in sample order.

mod gpu;

use super::{any_tracked, from_f64_like, gpu_or_try_reference, path_of, require_float, Path};
use crate::autograd::record;
use crate::{DType, Error, Result, Tensor};

/// The ids kept for backward: on the host, or (GPU) as int32 in device memory.
enum Ids {
    Host(Vec<i64>),
    Device(crate::gpu::DevBuf),
}

/// `table[ids]`: ids of any shape (i64, or integral values in a float tensor), table V×D →
/// output ids.shape × D.
pub fn embedding(ids: &Tensor, table: &Tensor) -> Result<Tensor> {
    require_float("embedding", table)?;
    if ids.dtype() == DType::U8 {
        return Err(Error::DType(
            "embedding: ids must be i64 or a float tensor of class indices, got u8".into(),
        ));
    }
    let (v, d) = table.shape().dims2("embedding")?;
    if v >= 1 << 24 {
        return Err(Error::Invalid(format!(
            "embedding: {v} rows; the GPU kernels index rows by f32 ids (below 2^24)"
        )));
    }
    // Float ids already in device memory stay there (checked by the kernel, not read back).
    let on_device = path_of(table) == Path::Gpu && path_of(ids) == Path::Gpu;
    let idv = if on_device {
        None
    } else {
        Some(host_ids(ids, v)?)
    };
    let mut shape = ids.dims().to_vec();
    shape.push(d);
    let host = |idv: Vec<i64>| {
        let tv = table.to_vec_f64();
        let mut out = Vec::with_capacity(idv.len() * d);
        for &i in &idv {
            out.extend_from_slice(&tv[i as usize * d..(i as usize + 1) * d]);
        }
        (from_f64_like(&out, shape.clone(), table), Ids::Host(idv))
    };
    let (y, kept) = match (path_of(table), idv) {
        (Path::Gpu, idv) => gpu_or_try_reference(
            gpu::forward(ids, idv.as_deref(), table, shape.clone())
                .map(|r| r.map(|(y, i)| (y, Ids::Device(i)))),
            || Ok(host(host_ids(ids, v)?)),
        )?,
        (_, idv) => host(idv.expect("host ids for the host paths")),
    };
    if !any_tracked(&[table]) {
        return Ok(y);
    }
    let like = table.detach();
    record(
        "embedding",
        &[table],
        y,
        Box::new(move |g, _| {
            let gt = match &kept {
                Ids::Device(ids) => gpu::backward(ids, g, [v, d])?,
                Ids::Host(idv) => {
                    let gv = g.to_vec_f64();
                    let mut gt = vec![0f64; v * d];
                    for (k, &i) in idv.iter().enumerate() {
                        for j in 0..d {
                            gt[i as usize * d + j] += gv[k * d + j];
                        }
                    }
                    from_f64_like(&gt, [v, d], &like)
                }
            };
            Ok(vec![Some(gt)])
        }),
    )
}

/// The ids as i64 on the host, each a row of a `v`-row table (float ids must be integral).
fn host_ids(ids: &Tensor, v: usize) -> Result<Vec<i64>> {
    let idv: Vec<i64> = if ids.dtype().is_float() {
        let f = ids.try_to_vec_f64()?;
        if let Some(bad) = f.iter().find(|x| x.fract() != 0.0 || !x.is_finite()) {
            return Err(Error::Invalid(format!(
                "embedding: id {bad} is not a row index"
            )));
        }
        f.iter().map(|&x| x as i64).collect()
    } else {
        ids.to_vec_i64()
    };
    if let Some(bad) = idv.iter().find(|&&i| i < 0 || i as usize >= v) {
        return Err(Error::Invalid(format!(
            "embedding: id {bad} is outside the table's {v} rows"
        )));
    }
    Ok(idv)
}
