//! 2-D convolution (cross-correlation, as PyTorch), NCHW input, OIHW weight, optional bias;
//! any kernel size, stride and zero padding. Backward: data, weight and bias.

mod cpu;
mod direct;
mod gpu;
mod phases;
mod reference;
pub(crate) mod simd;
mod wgrad_lanes;
mod wgrad_outer;

use super::{any_tracked, gpu_or_reference, path_of, require_float, require_same, Path};

use crate::autograd::record;
use crate::{Error, Result, Tensor};

/// Stride and zero padding, (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl Conv2dParams {
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: (stride, stride),
            padding: (padding, padding),
        }
    }
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams::new(1, 0)
    }
}

/// Every size of one convolution problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub ho: usize,
    pub wo: usize,
}

impl ConvGeom {
    pub(crate) fn new(x: &[usize], w: &[usize], p: Conv2dParams) -> Result<ConvGeom> {
        let [n, cin, h, wd] = x[..] else {
            return Err(Error::Shape(format!(
                "conv2d: input must be NCHW (4-D), got {x:?}"
            )));
        };
        let [cout, wcin, kh, kw] = w[..] else {
            return Err(Error::Shape(format!(
                "conv2d: weight must be OIHW (4-D), got {w:?}"
            )));
        };
        if wcin != cin {
            return Err(Error::Shape(format!(
                "conv2d: input {x:?} has {cin} channels but weight {w:?} expects {wcin}"
            )));
        }
        let (sh, sw) = p.stride;
        let (ph, pw) = p.padding;
        if sh == 0 || sw == 0 {
            return Err(Error::Invalid("conv2d: stride must be at least 1".into()));
        }
        if n == 0 || cin == 0 || cout == 0 || kh == 0 || kw == 0 {
            return Err(Error::Shape(format!(
                "conv2d: zero-sized input {x:?} or weight {w:?}"
            )));
        }
        if h + 2 * ph < kh || wd + 2 * pw < kw {
            return Err(Error::Shape(format!(
                "conv2d: kernel {kh}×{kw} is larger than the padded input {}×{} (input {x:?}, \
                 padding {ph},{pw})",
                h + 2 * ph,
                wd + 2 * pw
            )));
        }
        let ho = (h + 2 * ph - kh) / sh + 1;
        let wo = (wd + 2 * pw - kw) / sw + 1;
        Ok(ConvGeom {
            n,
            cin,
            h,
            w: wd,
            cout,
            kh,
            kw,
            sh,
            sw,
            ph,
            pw,
            ho,
            wo,
        })
    }
    pub fn out_dims(&self) -> [usize; 4] {
        [self.n, self.cout, self.ho, self.wo]
    }
}

/// `y = conv2d(x, w) + b`. x: N×Cin×H×W, w: Cout×Cin×Kh×Kw, b: Cout.
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: Conv2dParams) -> Result<Tensor> {
    require_float("conv2d", x)?;
    require_float("conv2d", w)?;
    require_same("conv2d", x, w)?;
    let g = ConvGeom::new(x.dims(), w.dims(), p)?;
    if let Some(b) = b {
        require_same("conv2d", x, b)?;
        if b.dims() != [g.cout] {
            return Err(Error::Shape(format!(
                "conv2d: bias must have shape [{}], got {}",
                g.cout,
                b.shape()
            )));
        }
    }
    let y = match path_of(x) {
        Path::Cpu => cpu::forward(x, w, b, &g),
        Path::Gpu => gpu_or_reference(gpu::forward(x, w, b, &g), || {
            reference::forward(x, w, b, &g)
        })?,
        Path::Reference => reference::forward(x, w, b, &g),
    };
    let mut inputs = vec![x, w];
    inputs.extend(b);
    if !any_tracked(&inputs) {
        return Ok(y);
    }
    let (xs, ws) = (x.detach(), w.detach());
    let has_bias = b.is_some();
    record(
        "conv2d",
        &inputs,
        y,
        Box::new(move |gy, needs| {
            let dx = needs[0]
                .then(|| backward_data_on(gy, &ws, &g))
                .transpose()?;
            let dw = needs[1]
                .then(|| backward_weight_on(gy, &xs, &g))
                .transpose()?;
            let mut out = vec![dx, dw];
            if has_bias {
                out.push(if needs[2] {
                    Some(super::sum(gy, &[0, 2, 3], false)?)
                } else {
                    None
                });
            }
            Ok(out)
        }),
    )
}

/// The input gradient of `conv2d` alone: `dx` for output gradient `dy` (shape of the conv's
/// output), weight `w` and the input's dims. Not recorded (a backward building block, public for
/// benchmarks and other backends' tests).
pub fn conv2d_backward_data(
    dy: &Tensor,
    w: &Tensor,
    x_dims: [usize; 4],
    p: Conv2dParams,
) -> Result<Tensor> {
    require_same("conv2d_backward_data", dy, w)?;
    let g = ConvGeom::new(&x_dims, w.dims(), p)?;
    check_dy(dy, &g)?;
    backward_data_on(dy, w, &g)
}

/// The input gradient on `dy`'s backend (GPU geometries the kernels lack: the reference).
fn backward_data_on(dy: &Tensor, w: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    Ok(match path_of(dy) {
        Path::Cpu => cpu::backward_data(dy, w, g),
        Path::Gpu => gpu_or_reference(gpu::backward_data(dy, w, g), || {
            reference::backward_data(dy, w, g)
        })?,
        Path::Reference => reference::backward_data(dy, w, g),
    })
}

/// The weight gradient of `conv2d` alone: `dw` for output gradient `dy`, input `x` and the
/// weight's dims. Not recorded.
pub fn conv2d_backward_weight(
    dy: &Tensor,
    x: &Tensor,
    w_dims: [usize; 4],
    p: Conv2dParams,
) -> Result<Tensor> {
    require_same("conv2d_backward_weight", dy, x)?;
    let g = ConvGeom::new(x.dims(), &w_dims, p)?;
    check_dy(dy, &g)?;
    backward_weight_on(dy, x, &g)
}

/// The weight gradient on `dy`'s backend (GPU geometries the kernels lack: the reference).
fn backward_weight_on(dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    Ok(match path_of(dy) {
        Path::Cpu => cpu::backward_weight(dy, x, g),
        Path::Gpu => gpu_or_reference(gpu::backward_weight(dy, x, g), || {
            reference::backward_weight(dy, x, g)
        })?,
        Path::Reference => reference::backward_weight(dy, x, g),
    })
}

fn check_dy(dy: &Tensor, g: &ConvGeom) -> Result<()> {
    if dy.dims() != g.out_dims() {
        return Err(Error::Shape(format!(
            "conv2d backward: output gradient {} should have shape {:?}",
            dy.shape(),
            g.out_dims()
        )));
    }
    Ok(())
}

/// The instruction set the CPU convolution kernels run with on this host: `"avx512"`,
/// `"avx2"` or `"portable"`.
pub fn simd_path() -> &'static str {
    match simd::simd() {
        simd::Simd::Avx512 => "avx512",
        simd::Simd::Avx2 => "avx2",
        simd::Simd::Portable => "portable",
    }
}
