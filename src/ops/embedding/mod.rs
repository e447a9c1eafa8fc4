//! Embedding lookup: rows of a table gathered by integer ids. Backward scatter-adds the output
//! gradient into the rows (a row used by several samples gets the sum, in sample order).
//!
//! The host backends share this code: a gather is exact in any precision, and the scatter-add
//! runs sequentially in sample order, so it is deterministic. On the GPU devices the ids (checked
//! on the host) go to the device as int32 and kernels/embedding.cu gathers and sums, also in
//! sample order.

use super::{any_tracked, from_f64_like, path_of, require_float, Path};
use crate::autograd::record;
use crate::gpu::kernels as k;
use crate::{DType, Error, Result, Tensor};

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
    if path_of(table) == Path::Gpu {
        return gpu_embedding(ids, &idv, table, v, d);
    }
    let tv = table.to_vec_f64();
    let mut out = Vec::with_capacity(idv.len() * d);
    for &i in &idv {
        out.extend_from_slice(&tv[i as usize * d..(i as usize + 1) * d]);
    }
    let mut shape = ids.dims().to_vec();
    shape.push(d);
    let y = from_f64_like(&out, shape, table);
    if !any_tracked(&[table]) {
        return Ok(y);
    }
    let like = table.detach();
    record(
        "embedding",
        &[table],
        y,
        Box::new(move |g, _| {
            let gv = g.to_vec_f64();
            let mut gt = vec![0f64; v * d];
            for (k, &i) in idv.iter().enumerate() {
                for j in 0..d {
                    gt[i as usize * d + j] += gv[k * d + j];
                }
            }
            Ok(vec![Some(from_f64_like(&gt, [v, d], &like))])
        }),
    )
}

fn gpu_embedding(ids: &Tensor, idv: &[i64], table: &Tensor, v: usize, d: usize) -> Result<Tensor> {
    let tb = table.dev()?;
    let gpu = tb.gpu().clone();
    let id32: Vec<i32> = idv.iter().map(|&i| i as i32).collect();
    let idb = gpu.upload_i32(&id32)?;
    let b = id32.len();
    let y = gpu.alloc_f32(b * d)?;
    k::embedding_fwd(&gpu, &idb, &tb, &y, b, d)?;
    let mut shape = ids.dims().to_vec();
    shape.push(d);
    let y = Tensor::from_dev(y, shape, table.device())?;
    if !any_tracked(&[table]) {
        return Ok(y);
    }
    let dev = table.device();
    record(
        "embedding",
        &[table],
        y,
        Box::new(move |g, _| {
            let gb = g.dev()?;
            let gt = gpu.alloc_f32(v * d)?;
            k::fill(&gpu, &gt, v * d, 0.0)?;
            k::embedding_bwd(&gpu, &idb, &gb, &gt, [b, v, d])?;
            Ok(vec![Some(Tensor::from_dev(gt, vec![v, d], dev)?)])
        }),
    )
}
