#!/usr/bin/env python3
"""The classifier's stopping rule, replayed (not a test). For each data set of the quality
benchmark: one classifier-only run with no stopping rule (`stop_at_accuracy = 0`, a fixed
step count, one thread, `keep_validations` so every validation's checkpoint stays), each
of them scored on the validation and test splits by
`examples/score_classifier_checkpoints.rs`, then stopping rules replayed over the scores: a
rule only reads the logged validations, so its pick and that pick's test accuracy are exact
without training again.

  scripts/classifier-replay.sh [--datasets builtin-777,...] [--steps 1400] [--out DIR]
                               [--budgets 640,840,1080] [--average W]

--budgets: classifier step budgets to replay (a wall-clock budget ends the stage at the first
validation at or after it: take the steps the host makes in that many seconds).
--average W: also score a running average of the checkpoints (the example's --average).
Resumable: a data set whose scores exist is not run again.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path

import quality

RULES = [(2, "2 in a row"), (3, "3 in a row")]


def config(dataset, steps):
    seed = quality.BUILTIN_SEED.get(dataset, 777)
    text = (f'extends = "cpu-default"\nseed = {seed}\ntotal_budget_s = 0.0\n\n[classifier]\n'
            f"budget_s = 0.0\nmax_steps = {steps}\nstop_at_accuracy = 0.0\n"
            "keep_validations = true\n\n"
            "[coin]\nbudget_s = 0.0\nmax_steps = 1\n")
    if dataset == "small-4242":
        text += "\n[data]\nphantom_train = 18\nphantom_test = 6\n"
    return text


def trajectory(args, root, dataset, average=None):
    name = f"{dataset}.jsonl" if average is None else f"{dataset}-average{average}.jsonl"
    scores = root / name
    if scores.exists():
        return [json.loads(l) for l in scores.read_text().splitlines()]
    run = root / "runs" / dataset
    kept = run / "classifier-validations"
    if not (run / "summary.json").exists():
        cfg = root / "configs" / f"{dataset}.toml"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        cfg.write_text(config(dataset, args.steps))
        cmd = [str(quality.BIN / "train"), "--config", str(cfg), "--out", str(run), "--force",
               "--threads", "1", "--stage", "classifier"]
        if dataset in quality.FAMILIES:
            cmd += ["--data", str(quality.ensure_family(root, dataset))]
        print(f"[{time.strftime('%H:%M:%S')}] {dataset}: {' '.join(cmd)}", flush=True)
        with open(root / f"{dataset}.out", "w") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    folders = sorted(str(d) for d in kept.glob("classifier-*"))
    cmd = [str(quality.BIN / "examples" / "score_classifier_checkpoints")]
    cmd += (["--average", str(average)] if average is not None else []) + folders
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    scores.write_text(out)
    return [json.loads(l) for l in out.splitlines()]


def step_of(r):
    return int(Path(r["checkpoint"]).name.split("-")[-1])


def replay(scores, budget, in_a_row, accuracy=0.98):
    """The stage's rule: the first validation ending `in_a_row` validations at or above
    `accuracy`, else the lowest validation loss among the validations up to the first one at
    or after `budget` steps."""
    seen, streak = [], 0
    for r in scores:
        seen.append(r)
        streak = streak + 1 if r["val_accuracy"] >= accuracy else 0
        if streak >= in_a_row:
            return r
        if step_of(r) >= budget:
            break
    return min(seen, key=lambda r: r["val_loss"])


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(quality.TUNING + quality.HELD_OUT))
    p.add_argument("--steps", type=int, default=1400)
    p.add_argument("--budgets", default="640,840,1080")
    p.add_argument("--average", type=float, default=None)
    p.add_argument("--out", default="runs/classifier-replay")
    p.add_argument("--bin-dir", default="target/release")
    args = p.parse_args()
    quality.BIN = Path(args.bin_dir)
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    budgets = [int(b) for b in args.budgets.split(",")]
    print("| data set | rule | " + " | ".join(f"≤ {b} steps: step, test acc." for b in budgets)
          + " |\n|---|---|" + "---:|" * len(budgets))
    for dataset in args.datasets.split(","):
        scores = trajectory(args, root, dataset)
        for k, rule in RULES:
            cells = [replay(scores, b, k) for b in budgets]
            print(f"| {dataset} | {rule} | "
                  + " | ".join(f"{step_of(r)}, {r['test_accuracy']:.3f}" for r in cells) + " |")
        if args.average is not None:
            avg = trajectory(args, root, dataset, args.average)
            line = ", ".join(f"{step_of(r)}: {r['test_accuracy']:.3f}" for r in avg
                             if step_of(r) % 160 == 0)
            print(f"| {dataset} | average {args.average}, test acc. by step | {line} |")


if __name__ == "__main__":
    main()
