// The gathers of conv.cu's implicit GEMMs: one small Op struct per pass, as kernels/gemm_tile.cuh
// reads them (`column` once per block, `decompose_k` once per stage into the shared table,
// `a_src` / `b_src` per element: pointers, or null for a zero outside the image; `store` per
// output). Included by conv.cu after its `ConvGeom`.
//
// Split-K (gridDim.z > 1; forward, stride-1 backward-data, backward-weight): split z writes its
// partial sum to slice z of a workspace laid out like the output (the forward adds the bias in
// slice 0); a second kernel sums the slices in order into the output. With one split the
// output is written (forward, backward-weight) or accumulated into (backward-data) directly.
#pragma once

// Forward: A = W [cout × cin·k·k] (contiguous), B = im2col(x) [cin·k·k × n·ho·wo].
struct ConvFwdOp {
  const float *x, *wt, *bias;
  float* y;
  ConvGeom g;
  long long xb, yb;  // the column's sample offsets in x and y (y: in split z's slice)
  int ih0, iw0, q;   // its input origin and output pixel
  __device__ bool column(int nn) {
    int hw = g.ho * g.wo, b = nn / hw;
    q = nn % hw;
    ih0 = q / g.wo * g.stride - g.pad;
    iw0 = q % g.wo * g.stride - g.pad;
    xb = (long long)b * g.cin * g.h * g.w;
    yb = (long long)blockIdx.z * g.n * g.cout * hw + (long long)b * g.cout * hw;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (ci·h·w, kh, kw)
    int kk2 = g.k * g.k, r = kk % kk2;
    d[0] = kk / kk2 * g.h * g.w;
    d[1] = r / g.k;
    d[2] = r % g.k;
  }
  __device__ const float* a_src(int m, int kk, const int*) const {
    return wt + (long long)m * g.cin * g.k * g.k + kk;
  }
  __device__ const float* b_src(int, const int* d) const {
    int ih = ih0 + d[1], iw = iw0 + d[2];
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return nullptr;
    return x + xb + d[0] + ih * g.w + iw;
  }
  __device__ void store(int m, float v) const {
    y[yb + (long long)m * g.ho * g.wo + q] = v + (bias && blockIdx.z == 0 ? bias[m] : 0.0f);
  }
};

// Backward-data, stride 1: A = Wᵀ [cin × cout·k·k] (gathered), B = col(gy) [cout·k·k × n·h·w].
struct ConvBwdDataOp {
  const float *wt, *gy;
  float* gx;
  ConvGeom g;
  long long gyb, gxb;
  int ih, iw;
  __device__ bool column(int nn) {
    int hw = g.h * g.w, b = nn / hw, q = nn % hw;
    ih = q / g.w;
    iw = q % g.w;
    gyb = (long long)b * g.cout * g.ho * g.wo;
    gxb = (long long)blockIdx.z * g.n * g.cin * hw + (long long)b * g.cin * hw + q;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (co, kh, kw)
    int kk2 = g.k * g.k, r = kk % kk2;
    d[0] = kk / kk2;
    d[1] = r / g.k;
    d[2] = r % g.k;
  }
  __device__ const float* a_src(int m, int, const int* d) const {
    return wt + ((long long)d[0] * g.cin + m) * g.k * g.k + d[1] * g.k + d[2];
  }
  __device__ const float* b_src(int, const int* d) const {
    int oh = ih + g.pad - d[1], ow = iw + g.pad - d[2];
    if (oh < 0 || ow < 0 || oh >= g.ho || ow >= g.wo) return nullptr;
    return gy + gyb + ((long long)d[0] * g.ho + oh) * g.wo + ow;
  }
  __device__ void store(int m, float v) const {
    float* p = gx + gxb + (long long)m * g.h * g.w;
    if (gridDim.z > 1)
      *p = v;
    else
      *p += v;
  }
};

// Backward-data, stride s > 1, as s² sub-convolutions (blockIdx.z = phase (a, c)): the input
// pixels (a + s·i, c + s·j) receive only the taps kh ≡ (a + pad) mod s, kw ≡ (c + pad) mod s —
// kh = kh0 + s·t reaches them from oh = i + oh_off − t — so no tap multiplies a zero of the
// dilated gradient. A = Wᵀ over the phase's taps [cin × cout·nkh·nkw], B its gradient columns
// [cout·nkh·nkw × n·hp·wp]; gx +=.
struct ConvBwdDataPhaseOp {
  const float *wt, *gy;
  float* gx;
  ConvGeom g;
  int a, c, hp, wp, kh0, kw0, nkh, nkw, oh_off, ow_off;  // the phase
  long long gyb, gxb;
  int i, j;
  __device__ void phase(int z) {
    int s = g.stride;
    a = z / s;
    c = z % s;
    hp = a < g.h ? (g.h - a + s - 1) / s : 0;
    wp = c < g.w ? (g.w - c + s - 1) / s : 0;
    kh0 = (a + g.pad) % s;
    kw0 = (c + g.pad) % s;
    nkh = kh0 < g.k ? (g.k - kh0 + s - 1) / s : 0;
    nkw = kw0 < g.k ? (g.k - kw0 + s - 1) / s : 0;
    oh_off = (a + g.pad - kh0) / s;
    ow_off = (c + g.pad - kw0) / s;
  }
  __device__ int columns() const { return g.n * hp * wp; }
  __device__ int depth() const { return g.cout * nkh * nkw; }
  __device__ bool column(int nn) {
    int pp = hp * wp, b = nn / pp, q = nn % pp;
    i = q / wp;
    j = q % wp;
    gyb = (long long)b * g.cout * g.ho * g.wo;
    gxb = (long long)b * g.cin * g.h * g.w + (long long)(a + g.stride * i) * g.w + c + g.stride * j;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (co, t, u)
    int taps = nkh * nkw, r = kk % taps;
    d[0] = kk / taps;
    d[1] = r / nkw;
    d[2] = r % nkw;
  }
  __device__ const float* a_src(int m, int, const int* d) const {
    int kh = kh0 + g.stride * d[1], kw = kw0 + g.stride * d[2];
    return wt + ((long long)d[0] * g.cin + m) * g.k * g.k + kh * g.k + kw;
  }
  __device__ const float* b_src(int, const int* d) const {
    int oh = i + oh_off - d[1], ow = j + ow_off - d[2];
    if (oh < 0 || ow < 0 || oh >= g.ho || ow >= g.wo) return nullptr;
    return gy + gyb + ((long long)d[0] * g.ho + oh) * g.wo + ow;
  }
  __device__ void store(int m, float v) const { gx[gxb + (long long)m * g.h * g.w] += v; }
};

// Backward-weight: A = gy [cout × n·ho·wo], B = im2col(x)ᵀ [n·ho·wo × cin·k·k]; split z into
// slice z of the workspace.
struct ConvBwdWeightOp {
  const float *x, *gy;
  float* ws;
  ConvGeom g;
  long long out;  // the column's offset in this split's workspace
  int cplane, kh, kw;
  __device__ bool column(int nn) {
    int kk2 = g.k * g.k, r = nn % kk2;
    cplane = nn / kk2 * g.h * g.w;
    kh = r / g.k - g.pad;
    kw = r % g.k - g.pad;
    out = (long long)blockIdx.z * g.cout * g.cin * kk2 + nn;
    return true;
  }
  __device__ void decompose_k(int kk, int* d) const {  // (b, oh, ow)
    int hw = g.ho * g.wo, q = kk % hw;
    d[0] = kk / hw;
    d[1] = q / g.wo;
    d[2] = q % g.wo;
  }
  __device__ const float* a_src(int m, int, const int* d) const {
    return gy + (((long long)d[0] * g.cout + m) * g.ho + d[1]) * g.wo + d[2];
  }
  __device__ const float* b_src(int, const int* d) const {
    int ih = d[1] * g.stride + kh, iw = d[2] * g.stride + kw;
    if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) return nullptr;
    return x + (long long)d[0] * g.cin * g.h * g.w + cplane + ih * g.w + iw;
  }
  __device__ void store(int m, float v) const {
    ws[out + (long long)m * g.cin * g.k * g.k] = v;
  }
};
