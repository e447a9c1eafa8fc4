//! Named tensors to and from `.safetensors` files (f32, f64, i64, u8). Writes go to a temporary
//! file in the same folder, are synced, then renamed over the target: a crash never leaves a
//! half-written checkpoint.

use crate::tensor::Buffer;
use crate::{DType, Device, Error, Result, Tensor};
use safetensors::tensor::{Dtype as StDtype, TensorView};
use std::io::Write;
use std::path::Path;

fn st_dtype(d: DType) -> StDtype {
    match d {
        DType::F32 => StDtype::F32,
        DType::F64 => StDtype::F64,
        DType::I64 => StDtype::I64,
        DType::U8 => StDtype::U8,
    }
}

fn bytes_of(t: &Tensor) -> Result<Vec<u8>> {
    Ok(match &t.try_read_buffer()? {
        Buffer::F32(v) => bytemuck::cast_slice(v).to_vec(),
        Buffer::F64(v) => bytemuck::cast_slice(v).to_vec(),
        Buffer::I64(v) => bytemuck::cast_slice(v).to_vec(),
        Buffer::U8(v) => v.clone(),
        Buffer::Gpu(_) | Buffer::GpuMask(_) => unreachable!("read_buffer returns host values"),
    })
}

/// Writes `tensors` to `path` atomically.
pub fn save_tensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    save_tensors_with_metadata(path, tensors, None)
}

/// [`save_tensors`] with the file's `__metadata__` string map.
pub fn save_tensors_with_metadata(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<()> {
    let data: Vec<(String, Vec<u8>, DType, Vec<usize>)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), bytes_of(t)?, t.dtype(), t.dims().to_vec())))
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, b, d, s)| {
            TensorView::new(st_dtype(*d), s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Format(format!("{n}: {e}")))
        })
        .collect::<Result<_>>()?;
    let bytes =
        safetensors::serialize(views, &metadata).map_err(|e| Error::Format(e.to_string()))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("tensors"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads every tensor of a `.safetensors` file onto `device`, in file order.
pub fn load_tensors(path: &Path, device: Device) -> Result<Vec<(String, Tensor)>> {
    Ok(load_tensors_with_metadata(path, device)?.0)
}

/// A safetensors file's `__metadata__`: a string map.
pub type Metadata = std::collections::HashMap<String, String>;

/// [`load_tensors`] and the file's `__metadata__` string map (empty when it has none).
pub fn load_tensors_with_metadata(
    path: &Path,
    device: Device,
) -> Result<(Vec<(String, Tensor)>, Metadata)> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        Error::Format(format!(
            "{}: not a valid safetensors file: {e}",
            path.display()
        ))
    })?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::Format(format!(
            "{}: not a valid safetensors file: {e}",
            path.display()
        ))
    })?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let d = view.data();
        let buf = match view.dtype() {
            StDtype::F32 => Buffer::F32(
                d.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            StDtype::F64 => Buffer::F64(
                d.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            StDtype::I64 => Buffer::I64(
                d.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
            ),
            StDtype::U8 => Buffer::U8(d.to_vec()),
            other => {
                return Err(Error::Format(format!(
                    "{}: tensor {name} has unsupported dtype {other:?}",
                    path.display()
                )))
            }
        };
        out.push((name, Tensor::from_buffer(buf, shape, device)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, metadata))
}
