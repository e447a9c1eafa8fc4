//! Embedding on the CUDA kernels (kernels/embedding.cu): the ids as f32 in device memory — a
//! float tensor's own buffer, or host i64 ids (checked there) copied over — kept for backward.

use crate::gpu::grid::{blocks, need, BLOCK};
use crate::gpu::{kernel_params, Args, DevBuf};
use crate::ops::elementwise::gpu::zeros;
use crate::{Result, Tensor};

kernel_params! {
    /// `EmbeddingParams` of kernels/embedding.cu.
    pub(crate) struct EmbeddingParams = "EmbeddingParams" {
        pub b: i64,
        pub v: i64,
        pub d: i64,
    }
}

/// The ids as the kernels read them: a float tensor's device values in place, or host i64 ids
/// (already checked) copied over as f32.
pub(super) fn device_ids(ids: &Tensor, host: Option<&[i64]>, table: &DevBuf) -> Result<DevBuf> {
    match host {
        Some(v) => table
            .gpu()
            .upload(&v.iter().map(|&i| i as f32).collect::<Vec<_>>()),
        None => ids.dev(),
    }
}

/// The gathered rows (shape `out`) and the ids on the device.
pub(super) fn forward(
    ids: &Tensor,
    host: Option<&[i64]>,
    table: &Tensor,
    out: Vec<usize>,
) -> Option<Result<(Tensor, DevBuf)>> {
    Some((|| {
        let tb = table.dev()?;
        let gpu = tb.gpu();
        let (v, d) = (table.dims()[0], table.dims()[1]);
        let idb = device_ids(ids, host, &tb)?;
        let b = idb.len();
        let p = EmbeddingParams {
            b: b as i64,
            v: v as i64,
            d: d as i64,
        };
        need("embedding table", &tb, v * d)?;
        let y = gpu.alloc_f32(b * d)?;
        let mut a = Args::new();
        a.buf(&idb).buf(&tb).buf(&y).params(&p);
        gpu.launch("embedding_fwd_f32", blocks(b * d), BLOCK, 0, &mut a)?;
        Ok((Tensor::from_dev(y, out, table.device())?, idb))
    })())
}

/// gt[r] = Σ over the ids equal to r of gy[i], for a [v, d] table.
pub(super) fn backward(ids: &DevBuf, g: &Tensor, [v, d]: [usize; 2]) -> Result<Tensor> {
    let gb = g.dev()?;
    let b = ids.len();
    need("embedding gy", &gb, b * d)?;
    let gt = zeros(gb.gpu(), v * d)?;
    let p = EmbeddingParams {
        b: b as i64,
        v: v as i64,
        d: d as i64,
    };
    let mut a = Args::new();
    a.buf(ids).buf(&gb).buf(&gt).params(&p);
    gb.gpu()
        .launch("embedding_bwd_f32", blocks(v * d), BLOCK, 0, &mut a)?;
    Tensor::from_dev(gt, vec![v, d], g.device())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameter_struct_mirrors_embedding_cu() {
        crate::gpu::check_mirror::<super::EmbeddingParams>().unwrap();
    }
}
