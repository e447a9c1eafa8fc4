//! Embedding lookup: rows of a table gathered by integer ids. Backward scatter-adds the output
//! gradient into the rows (a row used by several samples gets the sum, in sample order).
//!
//! The host backends share this code: a gather is exact in any precision, and the scatter-add
//! runs sequentially in sample order, so it is deterministic. On the GPU devices the ids (checked
//! on the host) go to the device as int32 and kernels/embedding.cu gathers and sums, also in
//! sample order.

mod gpu;

use super::{any_tracked, from_f64_like, gpu_or_reference, path_of, require_float, Path};
use crate::autograd::record;
use crate::{DType, Error, Result, Tensor};

/// The ids kept for backward: on the host, or (GPU) as int32 in device memory.
enum Ids {
    Host(Vec<i64>),
    Device(crate::gpu::DevBuf),
}

/// `table[ids]`: ids of any shape (i64), table V×D → output ids.shape × D.
pub fn embedding(ids: &Tensor, table: &Tensor) -> Result<Tensor> {
    require_float("embedding", table)?;
    if ids.dtype() != DType::I64 {
        return Err(Error::DType(format!(
            "embedding: ids must be i64, got {}",
            ids.dtype()
        )));
    }
    let (v, d) = table.shape().dims2("embedding")?;
    let idv = ids.to_vec_i64();
    if let Some(bad) = idv.iter().find(|&&i| i < 0 || i as usize >= v) {
        return Err(Error::Invalid(format!(
            "embedding: id {bad} is outside the table's {v} rows"
        )));
    }
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
    let (y, kept) = match path_of(table) {
        Path::Gpu => gpu_or_reference(
            gpu::forward(&idv, table, shape.clone()).map(|r| r.map(|(y, i)| (y, Ids::Device(i)))),
            || host(idv.clone()),
        )?,
        Path::Cpu | Path::Reference => host(idv),
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
