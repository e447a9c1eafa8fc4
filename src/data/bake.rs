//! Synthetic tumours baked into a whole volume, for demonstrations and for checking `segment`
//! against a known answer: each axial kidney slice gets the paper's synthetic tumour (drawn
//! with its probability p, placed inside a kidney) in the windowed [−1, 1] space, and the change
//! is carried back into HU (`hu + Δ·(hi − lo)/2`), so voxels outside the tumour patch keep their exact
//! values. The label map gains the tumour as its own id.

use super::nifti::Volume;
use super::slices::{count_in_slice, cut, write_back};
use super::tumour::{insert, Outcome, TumourParams};
use super::window::Window;
use crate::rng::Rng;
use crate::{Error, Result};

/// A volume with baked tumours, its label map, and the slices that received one.
pub struct Baked {
    pub image: Volume,
    pub labels: Volume,
    pub slices: Vec<usize>,
}

/// Where and how tumours are baked.
#[derive(Clone, Debug)]
pub struct BakeCfg {
    /// The slicing axis and the kidney label ids whose slices may get a tumour.
    pub axis: usize,
    pub kidney: Vec<u32>,
    /// The window the tumour's [0, 1] intensity is defined in.
    pub window: Window,
    /// The paper's parameters (`spacing_mm` is taken from the volume).
    pub params: TumourParams,
    /// The label id written for tumour voxels.
    pub tumour_id: u8,
    pub seed: u64,
}

/// Bakes tumours into the slices of `image` that hold kidney voxels of `labels`.
pub fn bake_tumours(image: &Volume, labels: &Volume, cfg: &BakeCfg) -> Result<Baked> {
    let BakeCfg {
        axis,
        ref kidney,
        window,
        ref params,
        tumour_id,
        seed,
    } = *cfg;
    let (ra, ca) = super::slices::in_plane_axes(axis);
    let prm = TumourParams {
        spacing_mm: image.spacing[ra].min(image.spacing[ca]) as f64,
        ..*params
    };
    if image.dims != labels.dims {
        return Err(Error::Shape(format!(
            "bake: image dims {:?}, labels {:?}",
            image.dims, labels.dims
        )));
    }
    let (mut out, mut lab) = (image.clone(), labels.clone());
    let mut slices = Vec::new();
    let hu_per_unit = (window.hi - window.lo) / 2.0;
    for k in 0..image.dims[axis] {
        if count_in_slice(labels, axis, k, kidney) == 0 {
            continue;
        }
        let s = cut(image, axis, k, false, false, false)?;
        let l = cut(labels, axis, k, false, false, false)?;
        let mut x = s.data.clone();
        window.apply_all(&mut x);
        let kid: Vec<u8> = l
            .data
            .iter()
            .map(|&v| kidney.contains(&(v as u32)) as u8)
            .collect();
        let syn = insert(
            &x,
            &kid,
            s.rows,
            s.cols,
            &prm,
            &mut Rng::keyed(seed, &[k as u64]),
        )?;
        if syn.outcome != Outcome::Inserted {
            continue;
        }
        let hu: Vec<f32> = s
            .data
            .iter()
            .zip(x.iter().zip(&syn.image))
            .map(|(&h, (&a, &b))| h + (b - a) * hu_per_unit)
            .collect();
        write_back(&hu, &s.provenance, &mut out)?;
        let ids: Vec<f32> = l
            .data
            .iter()
            .zip(&syn.tumour)
            .map(|(&v, &t)| if t > 0 { tumour_id as f32 } else { v })
            .collect();
        write_back(&ids, &l.provenance, &mut lab)?;
        slices.push(k);
    }
    Ok(Baked {
        image: out,
        labels: lab,
        slices,
    })
}
