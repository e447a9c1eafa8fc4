// Embedding lookup, f32 table [V, D], ids [B] held as f32 (exact integers below 2^24: ids
// uploaded from the host, or classes computed on the device). Forward: y[i, d] = table[ids[i],
// d], one element per thread; an id that is not a row's index (fractional, negative, ≥ V, NaN)
// gives a NaN row, since the host cannot check device ids without reading them. Backward:
// gt[r, d] += Σ_{i: ids[i] = r} gy[i, d], one table element per thread scanning the ids in
// order — deterministic, no atomics (V·B work: the class embeddings of COIN have V = 2).
#include "common.cuh"

// b ids into a [v, d] table.
struct EmbeddingParams {
  long long b, v, d;
};

extern "C" __global__ void __launch_bounds__(256) embedding_fwd_f32(const float* ids, const float* table, float* y, EmbeddingParams p) {
  long long b = p.b, d = p.d;
  COIN_GRID_LOOP(i, b * d) {
    float id = ids[i / d];
    bool row = id >= 0.0f && id < (float)p.v && id == floorf(id);
    y[i] = row ? table[(long long)id * d + i % d] : __int_as_float(0x7fffffff);
  }
}

extern "C" __global__ void __launch_bounds__(256) embedding_bwd_f32(const float* ids, const float* gy, float* gt, EmbeddingParams p) {
  long long b = p.b, v = p.v, d = p.d;
  COIN_GRID_LOOP(j, v * d) {
    long long r = j / d, c = j % d;
    float acc = 0.0f;
    for (long long i = 0; i < b; ++i)
      if (ids[i] == (float)r) acc += gy[i * d + c];
    gt[j] += acc;
  }
}
