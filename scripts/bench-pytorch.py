"""Times the benchmark shapes of benches/shapes.rs in PyTorch on this machine's CPU (same thread
count as rayon: all cores unless RAYON_NUM_THREADS is set), printing one JSON object
{"op/shape": seconds_median}. Run through scripts/bench-compare.sh, which puts these beside the
criterion numbers of the same run.
"""
import json
import os
import re
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(__file__), "..")
threads = int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count()))
torch.set_num_threads(threads)
torch.manual_seed(0)


def shapes():
    src = open(os.path.join(ROOT, "benches", "shapes.rs")).read()
    num = r",\s*(\d+)"
    convs = re.findall(r'\(\s*"(\w+)"' + num * 8 + r",\s*(true|false)\s*,?\s*\)", src)
    planes = re.findall(r'\(\s*"(\w+)"' + num * 4 + r"\s*,?\s*\)", src)
    return convs, planes


def timeit(f, min_time=1.0, min_runs=5):
    f()
    f()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    convs, planes = shapes()
    out = {}
    with torch.no_grad():
        for name, n, cin, cout, h, w, k, s, p, bias in convs:
            n, cin, cout, h, w, k, s, p = map(int, (n, cin, cout, h, w, k, s, p))
            x = torch.randn(n, cin, h, w)
            wt = torch.randn(cout, cin, k, k)
            b = torch.randn(cout) if bias == "true" else None
            y = F.conv2d(x, wt, b, s, p)
            dy = torch.randn_like(y)
            out[f"conv2d/fwd/{name}"] = timeit(lambda: F.conv2d(x, wt, b, s, p))
            out[f"conv2d/bwd_data/{name}"] = timeit(
                lambda: torch.ops.aten.convolution_backward(dy, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, [True, False, False]))
            out[f"conv2d/bwd_weight/{name}"] = timeit(
                lambda: torch.ops.aten.convolution_backward(dy, x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1, [False, True, False]))
            print(name, file=sys.stderr)
    for name, n, c, h, w in planes:
        n, c, h, w = map(int, (n, c, h, w))
        x = torch.randn(n, c, h, w)
        g, bt = torch.randn(c), torch.randn(c)
        with torch.no_grad():
            out[f"memory/memcpy/{name}"] = timeit(lambda: x.clone())
            out[f"memory/batch_norm_train_fwd/{name}"] = timeit(lambda: F.batch_norm(x, None, None, g, bt, True, 0.1, 1e-5))
            out[f"memory/relu/{name}"] = timeit(lambda: F.relu(x))
            out[f"memory/upsample_nearest2/{name}"] = timeit(lambda: F.interpolate(x, scale_factor=2, mode="nearest"))
            out[f"memory/upsample_bilinear2_ac/{name}"] = timeit(
                lambda: F.interpolate(x, size=(2 * h, 2 * w), mode="bilinear", align_corners=True))
            out[f"memory/avg_pool2/{name}"] = timeit(lambda: F.avg_pool2d(x, 2))
        xr = x.clone().requires_grad_(True)

        def fwd_bwd():
            y = F.batch_norm(xr, None, None, g, bt, True, 0.1, 1e-5)
            (gx,) = torch.autograd.grad(y.sum(), xr)
            return gx

        out[f"memory/batch_norm_train_fwd_bwd/{name}"] = timeit(fwd_bwd)
    out["_meta"] = {"torch": torch.__version__, "threads": threads}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
