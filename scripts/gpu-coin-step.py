#!/usr/bin/env python3
"""The COIN step in PyTorch on a GPU at the paper's configuration (256², widths ×1, classifier
ResNet-18 base 64, batch 16, gen_update_freq 5), the side of scripts/gpu-check.sh's `step`
stage beside tests/coin_step.rs::paper_config_step_on_cuda_reads_only_what_it_logs: the same
networks and names (scripts/coin_parity.py), the same iteration, the same input. Runs FP32
(TF32 off, as our kernels) and then PyTorch's defaults (TF32 convolutions); each iteration's
seconds are printed as it finishes (synchronised), then the means over iterations 2.. and the
peak memory PyTorch allocated.

  python3 scripts/gpu-coin-step.py [ITERATIONS]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import coin_parity as cp  # noqa: E402

SIZE, BATCH, FREQ = 256, 16, 5


def run(mode, iterations):
    tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(3)
    cp.WIDTH, cp.BASE = 1.0, 64
    m = cp.Coin().cuda()
    x = torch.tanh(0.5 * torch.randn(BATCH, 1, SIZE, SIZE, device="cuda"))
    step = cp.training_step(m, x, FREQ)
    torch.cuda.reset_peak_memory_stats()
    times = {True: [], False: []}
    for k in range(iterations):
        torch.cuda.synchronize()
        t = time.perf_counter()
        step(k)
        torch.cuda.synchronize()
        secs = time.perf_counter() - t
        generator = k % FREQ == 0
        print(f"torch {mode} step {k} (generator: {str(generator).lower()}): {secs:.4f} s",
              flush=True)
        if k >= 2:
            times[generator].append(secs)
    for generator, ts in times.items():
        if ts:
            kind = "G+D" if generator else "D-only"
            print(f"torch {mode} paper-config {kind} step: mean {sum(ts) / len(ts):.4f} s "
                  f"over {len(ts)}", flush=True)
    peak = torch.cuda.max_memory_allocated() / 2**20
    print(f"torch {mode} peak memory allocated: {peak:.0f} MiB", flush=True)
    del m, x, step
    torch.cuda.empty_cache()


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"{torch.cuda.get_device_name()}", flush=True)
    for mode in ("fp32", "tf32"):
        run(mode, iterations)


if __name__ == "__main__":
    main()
