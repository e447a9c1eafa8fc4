#!/usr/bin/env python3
"""Does a split's 90 % interval over patients hold what other patients score? (Not a test.)

Reads the per-patient scores `scripts/split_noise.py` keeps (`per-patient-*.json`: one fixed
model, every patient under several tumour draws) and, per draw, computes the validation
split's interval two ways — the one runs report (pooled IoU ± Student's t(n − 1) times the
leave-one-patient-out jackknife's standard error: src/eval/patients.rs) and a percentile
bootstrap over the same patients — then counts how often each holds the IoU of all the
phantom's scored patients and the IoU of the run's test patients.

  scripts/interval_check.py runs/split-noise-*/per-patient-final.json
"""

import json
import math
import random
import sys

T95 = [6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812]


def pooled(cases):
    tp = sum(c["tp"] for c in cases)
    return tp / max(tp + sum(c["fp"] + c["fn"] for c in cases), 1)


def jackknife_t(cases):
    n, all_ = len(cases), pooled(cases)
    loo = [pooled(cases[:i] + cases[i + 1:]) for i in range(n)]
    mean = sum(loo) / n
    half = T95[n - 2] * math.sqrt((n - 1) / n * sum((v - mean) ** 2 for v in loo))
    return max(0.0, all_ - half), min(1.0, all_ + half)


def bootstrap(cases, resamples=2000, seed=1):
    rng, n = random.Random(seed), len(cases)
    v = sorted(pooled([cases[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples))
    return v[round(0.05 * (resamples - 1))], v[round(0.95 * (resamples - 1))]


def main(paths):
    held = {"jackknife-t": [0, 0], "bootstrap": [0, 0]}
    cases = 0
    print("| file | draw | validation IoU | jackknife-t | bootstrap | all patients | test |")
    print("|---|---:|---:|---|---|---:|---:|")
    for path in paths:
        rows = json.load(open(path))
        for d in sorted({r["draw"] for r in rows}):
            drawn = [r for r in rows if r["draw"] == d]
            val = [r for r in drawn if r["split"] == "validation"]
            test = [r for r in drawn if r["split"] == "test"]
            everyone, test_iou = pooled(drawn), pooled(test)
            cells = []
            for name, f in (("jackknife-t", jackknife_t), ("bootstrap", bootstrap)):
                lo, hi = f(val)
                held[name][0] += lo <= everyone <= hi
                held[name][1] += lo <= test_iou <= hi
                cells.append(f"{lo:.3f}–{hi:.3f}")
            cases += 1
            print(f"| {path} | {d} | {pooled(val):.3f} | {cells[0]} | {cells[1]} | "
                  f"{everyone:.3f} ({len(drawn)}) | {test_iou:.3f} |")
    for name, (a, t) in held.items():
        print(f"{name}: held all patients' IoU in {a} of {cases}, the test IoU in {t}")


if __name__ == "__main__":
    main(sys.argv[1:])
