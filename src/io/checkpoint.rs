//! Checkpoint folders: `DIR/<name>/weights.safetensors` (every named tensor of the groups —
//! parameters and buffers under the authors' names), any further groups in files of their own
//! (the averaged networks), `optim.safetensors` (each optimizer's
//! moments as `optim.<group>.m` / `.v`) and `state.json` (whatever the caller records: stage,
//! step, configuration, preprocessing). A folder is written whole under a temporary name and
//! renamed; then `DIR/latest` (the folder's name) is replaced atomically. Older folders beyond
//! the newest `keep` are removed.

use super::{load_groups, load_tensors, save_groups, save_tensors};
use crate::nn::ParamGroup;
use crate::optim::Adam;
use crate::{Device, Error, Result, Tensor};
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Writes checkpoint `name` under `dir` (with each `(file, group)` of `extra` in a file of its
/// own) and points `dir/latest` at it.
pub fn save_checkpoint(
    dir: &Path,
    name: &str,
    groups: &[(&ParamGroup, Option<&Adam>)],
    extra: &[(&str, &ParamGroup)],
    state: &serde_json::Value,
    keep: usize,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let gs: Vec<&ParamGroup> = groups.iter().map(|(g, _)| *g).collect();
    save_groups(&tmp.join("weights.safetensors"), &gs)?;
    for (file, g) in extra {
        save_groups(&tmp.join(file), &[g])?;
    }
    let mut optim = Vec::new();
    for (g, opt) in groups {
        if let Some(o) = opt {
            let (m, v) = o.moments()?;
            let n = m.len();
            optim.push((
                format!("optim.{}.m", g.name()),
                Tensor::from_f32(m, [n], Device::Cpu)?,
            ));
            optim.push((
                format!("optim.{}.v", g.name()),
                Tensor::from_f32(v, [n], Device::Cpu)?,
            ));
            optim.push((
                format!("optim.{}.step", g.name()),
                Tensor::from_i64(vec![o.step as i64], Vec::<usize>::new(), Device::Cpu)?,
            ));
        }
    }
    save_tensors(&tmp.join("optim.safetensors"), &optim)?;
    let text = serde_json::to_vec_pretty(state).map_err(|e| Error::Format(e.to_string()))?;
    write_atomic(&tmp.join("state.json"), &text)?;
    let final_dir = dir.join(name);
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir)?;
    write_atomic(&dir.join("latest"), name.as_bytes())?;
    prune(dir, name, keep)?;
    Ok(final_dir)
}

fn prune(dir: &Path, newest: &str, keep: usize) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("state.json").is_file())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    names.sort();
    let keep = keep.max(1);
    if names.len() > keep {
        for n in &names[..names.len() - keep] {
            if n != newest {
                std::fs::remove_dir_all(dir.join(n))?;
            }
        }
    }
    Ok(())
}

/// The folder `dir/latest` names, if any.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<PathBuf>> {
    let p = dir.join("latest");
    if !p.is_file() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&p)?;
    let folder = dir.join(name.trim());
    if !folder.join("state.json").is_file() {
        return Err(Error::Format(format!(
            "{}: names checkpoint {}, which is missing or incomplete",
            p.display(),
            folder.display()
        )));
    }
    Ok(Some(folder))
}

/// Reads a checkpoint folder into `groups` (strictly by name) and their optimizers, returning
/// its state.
pub fn load_checkpoint(
    folder: &Path,
    groups: &mut [(&ParamGroup, Option<&mut Adam>)],
) -> Result<serde_json::Value> {
    let text = std::fs::read(folder.join("state.json"))?;
    let state: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::Format(format!("{}: {e}", folder.join("state.json").display())))?;
    let gs: Vec<&ParamGroup> = groups.iter().map(|(g, _)| *g).collect();
    load_groups(&folder.join("weights.safetensors"), &gs)?;
    let optim = load_tensors(&folder.join("optim.safetensors"), Device::Cpu)?;
    let find = |n: &str| {
        optim
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| {
                Error::Format(format!(
                    "{}: no {n}",
                    folder.join("optim.safetensors").display()
                ))
            })
    };
    for (g, opt) in groups.iter_mut() {
        if let Some(o) = opt {
            let m = find(&format!("optim.{}.m", g.name()))?.try_to_vec_f32()?;
            let v = find(&format!("optim.{}.v", g.name()))?.try_to_vec_f32()?;
            let step = find(&format!("optim.{}.step", g.name()))?.to_scalar()? as u64;
            o.restore(step, m, v)?;
        }
    }
    Ok(state)
}
