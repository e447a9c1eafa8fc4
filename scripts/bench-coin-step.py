#!/usr/bin/env python3
"""The COIN training step in PyTorch at the CPU-scale configuration (128², widths ×0.25,
classifier base 64, batch 16), measured exactly as benches/coin_step.rs measures ours: one
warm-up 5-step D:G cycle (a G+D step, four D-only steps), then three timed cycles; then each
part of the step (1 warm-up + 3 timed runs). Prints one JSON object: times, FLOPs per step
(torch.utils.flop_counter), peak RSS. The networks are scripts/coin_parity.py's (the authors'
modules and names). Run by scripts/bench-coin-step.sh.

  .venv-pytorch/bin/python scripts/bench-coin-step.py THREADS
"""
import json
import os
import platform
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import coin_parity as cp  # noqa: E402

SIZE, BATCH, FREQ = 128, 16, 5


def main(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    cp.WIDTH, cp.BASE = 0.25, 64
    m = cp.Coin()
    f = m.classifier_f
    x = torch.tanh(0.5 * torch.randn(BATCH, 1, SIZE, SIZE))
    ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)
    step = cp.training_step(m, x, FREQ)

    def cycle():
        times = []
        for k in range(FREQ):
            t = time.perf_counter()
            step(k)
            times.append(time.perf_counter() - t)
        return times

    cycle()
    cycles = [cycle() for _ in range(3)]
    mean_step = sum(map(sum, cycles)) / (3 * FREQ)
    gd = sum(c[0] for c in cycles) / 3
    d_only = sum(sum(c[1:]) for c in cycles) / (3 * (FREQ - 1))

    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        cycle()
    flops_per_step = fc.get_total_flops() / FREQ

    def timed(fn):
        fn()
        ts = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return sum(ts) / 3

    c0 = torch.zeros(BATCH, dtype=torch.long)

    def cls_nograd():
        with torch.no_grad():
            f(x)

    def cls_grad():
        xi = x.clone().requires_grad_(True)
        f(xi).sum().backward()

    def disc_part():
        m.disc.zero_grad()
        x_cf = -x
        d = (F.binary_cross_entropy_with_logits(m.disc(x, c0), ones)
             + F.binary_cross_entropy_with_logits(m.disc(x_cf, c0), zeros)) / 2
        d.backward()

    def eg_part():
        m.enc.zero_grad(), m.gen.zero_grad()
        x_cf = m.gen(m.enc(x), c0, x)
        x_cc = m.gen(m.enc(x_cf), c0, x_cf)
        ((x - x_cf).abs().mean() + (x - x_cc).abs().mean()).backward()

    parts = {
        "classifier forward (no grad)": timed(cls_nograd),
        "classifier forward + input gradient": timed(cls_grad),
        "D forward x2 + backward": timed(disc_part),
        "E/G forward x2 + backward (cyclic)": timed(eg_part),
    }
    print(json.dumps({
        "impl": f"PyTorch {torch.__version__}",
        "isa": torch.backends.cpu.get_cpu_capability(),
        "threads": threads,
        "mean_step_s": mean_step,
        "gd_step_s": gd,
        "d_step_s": d_only,
        "flops_per_step": flops_per_step,
        "parts_s": parts,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "host": platform.processor() or platform.machine(),
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
