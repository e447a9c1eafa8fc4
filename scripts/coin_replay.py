#!/usr/bin/env python3
"""The counterfactual stage's selection rule, replayed (not a test). For each data set of the
quality benchmark: one counterfactual-only run at a fixed step count against the classifier an
earlier pass kept (`--classifiers-from`), validating every `--eval-every` steps with
`coin.keep_validations` so every validation's networks stay; each of them scored on the test
split by `evaluate`; then selection rules replayed over the logged validation IoUs. A rule only
reads the validations, so its pick, that pick's test IoU and its validation→test gap are exact
without training again. Rules over every other validation select on half of the same run's
validations. That is not exactly a run that validates half as often: every forward, validation
included, runs one power iteration of the spectral-norm layers (as the authors' code does), so
the validation at step 100 nudges the `u` vectors and the trajectory after it differs a little
(seed 777: validation IoU 0.065 at step 200 here, 0.045 validating every 200; one thread or
two gave the same 0.045).

  scripts/coin_replay.py --classifiers-from RUNS [--datasets builtin-777,...] [--steps 1300]
                         [--eval-every 100] [--out DIR] [--bin-dir DIR] [--parallel 2]

Resumable: a finished run is not trained again and a scored checkpoint is not scored again.
"""

import argparse
import concurrent.futures
import json
import statistics
import subprocess
import time
from pathlib import Path

import quality


def train(args, root, dataset):
    """The data set's counterfactual-only run (skipped when its summary exists)."""
    seed = quality.BUILTIN_SEED.get(dataset, 777)
    run = root / "runs" / args.arm / f"{dataset}-s{seed}"
    if (run / "summary.json").exists():
        return run
    arm = f"[coin]\neval_every = {args.eval_every}\nkeep_validations = true\n"
    one = argparse.Namespace(arm=args.arm, preset="cpu-default", steps=args.steps,
                             threads=1, classifiers_from=args.classifiers_from)
    quality.run_one(one, root, arm, dataset, seed)
    return run


def score(run, folder, out):
    """COIN's test IoU and (tp, fp, fn) with the networks of checkpoint `folder`."""
    report = out / "report.json"
    if not report.exists():
        subprocess.run([str(quality.BIN / "evaluate"), "--model", str(run), "--checkpoint",
                        str(folder), "--out", str(out), "--baselines", "none", "--force",
                        "--threads", "1"], check=True, stdout=subprocess.DEVNULL)
    coin = json.loads(report.read_text())[0]  # the first row: COIN at the run's threshold
    return coin["iou"]


def trajectory(args, root, dataset):
    """[(step, validation IoU, test IoU)] of the data set's run, every validation."""
    run = train(args, root, dataset)
    val = dict(quality.validations(run))
    kept = sorted((run / "coin-validations").glob("counterfactual-*"))
    out = root / "scores" / dataset
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        tests = pool.map(lambda f: score(run, f, out / f.name), kept)
        steps = [int(f.name.split("-")[-1]) for f in kept]
        return [(s, val[s], t) for s, t in zip(steps, tests)]


def best(vals):
    """The first index with the highest value (the stage keeps the first best)."""
    return max(range(len(vals)), key=lambda i: (vals[i], -i))


def window_mean(vals, width):
    """Each validation's IoU averaged with its neighbours, `width` centred (fewer at the ends)."""
    h = width // 2
    return [statistics.mean(vals[max(0, i - h):i + h + 1]) for i in range(len(vals))]


def trailing_mean(vals, width):
    """Each validation's IoU averaged with the `width - 1` before it (fewer at the start)."""
    return [statistics.mean(vals[max(0, i - width + 1):i + 1]) for i in range(len(vals))]


RULES = {
    "best": lambda v: best(v),
    "mean of 3": lambda v: best(window_mean(v, 3)),
    "mean of 5": lambda v: best(window_mean(v, 5)),
    "trailing mean of 2": lambda v: best(trailing_mean(v, 2)),
    "trailing mean of 3": lambda v: best(trailing_mean(v, 3)),
    "last": lambda v: len(v) - 1,
}


def replay(points, every):
    """Each rule's (step, val IoU, test IoU) over the validations at multiples of `every`
    steps and the last."""
    last = points[-1][0]
    pts = [p for p in points if p[0] % every == 0 or p[0] == last]
    vals = [p[1] for p in pts]
    return {name: pts[rule(vals)] for name, rule in RULES.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(quality.TUNING))
    p.add_argument("--classifiers-from", required=True, metavar="RUNS")
    p.add_argument("--steps", type=int, default=1300)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--arm", default="replay")
    p.add_argument("--out", default="runs/coin-replay")
    p.add_argument("--bin-dir", default="target/release")
    p.add_argument("--offset-from", type=int, default=400,
                   help="the first step of the validation − test offset's statistics")
    p.add_argument("--parallel", type=int, default=2, help="runs (and scorings) side by side")
    args = p.parse_args()
    quality.BIN = Path(args.bin_dir)
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    datasets = args.datasets.split(",")
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda d: train(args, root, d), datasets))
    print(f"[{time.strftime('%H:%M:%S')}] scoring", flush=True)
    curves = {d: trajectory(args, root, d) for d in datasets}
    for d, pts in curves.items():
        print(f"{d}: " + ", ".join(f"{s}: {v:.3f}/{t:.3f}" for s, v, t in pts))
    print(f"\nvalidation − test IoU at each validation from step {args.offset_from} on\n")
    print("| data set | mean | min | max | correlation of val and test over the steps |")
    print("|---|---:|---:|---:|---:|")
    for d, pts in curves.items():
        late = [(v, t) for s, v, t in pts if s >= args.offset_from]
        diffs = [v - t for v, t in late]
        corr = statistics.correlation([v for v, _ in late], [t for _, t in late])
        print(f"| {d} | {statistics.mean(diffs):+.3f} | {min(diffs):+.3f} | {max(diffs):+.3f}"
              f" | {corr:.2f} |")
    for every in sorted({args.eval_every, 2 * args.eval_every}):
        print(f"\nvalidations every {every} steps: pick step, val IoU, test IoU, gap\n")
        print("| rule | " + " | ".join(datasets) + " | median test / gap | min test |")
        print("|---|" + "---|" * len(datasets) + "---:|---:|")
        for name in RULES:
            picks = [replay(curves[d], every)[name] for d in datasets]
            cells = [f"{s}, {v:.3f}, {t:.3f}, {v - t:+.3f}" for s, v, t in picks]
            tests = [t for _, _, t in picks]
            gaps = [v - t for _, v, t in picks]
            print(f"| {name} | " + " | ".join(cells)
                  + f" | {statistics.median(tests):.3f} / {statistics.median(gaps):+.3f}"
                  + f" | {min(tests):.3f} |")


if __name__ == "__main__":
    main()
