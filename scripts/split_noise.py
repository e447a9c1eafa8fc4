#!/usr/bin/env python3
"""How much of a validation→test gap the choice of patients and tumour draws alone makes.

One trained run, its model fixed, scored patient by patient: the run's validation patients,
its test patients and more patients drawn from the same phantom (`--extra`), each under
`--draws` draws of the fixed synthetic tumours. From the per-patient confusions (pooled IoU
is pooled over pixels, so groups are pooled, not averaged) it prints:
  - the pooled IoU of the run's validation patients and of its test patients, per draw;
  - the spread (standard deviation) of the pooled IoU of random k-patient groups;
  - the spread of the difference between a k-patient group and a disjoint group of the test
    split's size: the gap a model would show with nothing selected, from the split alone.
The model is the run's `final` one (or `--checkpoint`); no training. Not a test: a measurement for the quality
benchmark (docs/results.md).

  scripts/split_noise.py --run RUN --phantom "--seed 777 --train 24 --test 8 --slices 40" \
      --extra 32 --draws 2 --out runs/split-noise-777
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path


def phantom_counts(args):
    """(train, test) patient counts of a `phantom` argument list."""
    def value(flag, default):
        return int(args[args.index(flag) + 1]) if flag in args else default
    return value("--train", 4), value("--test", 2)


def with_test_count(args, n):
    out = list(args)
    if "--test" in out:
        out[out.index("--test") + 1] = str(n)
    else:
        out += ["--test", str(n)]
    return out


def validation_patients(run):
    """The run's validation patients, as its summary.json names them."""
    names = json.loads((run / "summary.json").read_text()).get("validation_patients")
    if not names:
        sys.exit(f"{run}/summary.json names no validation patients (a run of an older build, "
                 "or one without a validation split)")
    return names


def case_folder(root, data, patient, train_pair):
    """A data folder whose test split is `patient` alone (two training patients beside it:
    the loader needs a training split, which `evaluate` does not score)."""
    folder = root / patient
    if folder.exists():
        return folder
    for sub in ["train", "test", "nnUNet_predictions"]:
        (folder / sub).mkdir(parents=True)
    for name, split in [(t, "train") for t in train_pair] + [(patient, "test")]:
        src = next((data / s / f"{name}.nii.gz" for s in ["train", "test"]
                    if (data / s / f"{name}.nii.gz").exists()))
        (folder / split / f"{name}.nii.gz").symlink_to(src.resolve())
        (folder / "nnUNet_predictions" / f"{name}.nii.gz").symlink_to(
            (data / "nnUNet_predictions" / f"{name}.nii.gz").resolve())
    return folder


def tumour_seed(run, draw):
    """The seed whose test tumours draw `draw` scores: the run's own (draw 0), else moved by
    1000 per draw (`evaluate --tumour-seed`)."""
    seed = tomllib.loads((run / "config.toml").read_text())["seed"]
    return seed + 1000 * draw


def score(bin_dir, model, checkpoint, data, out, seed):
    """(tp, fp, fn) of COIN on `data`'s test split, its tumours drawn as seed `seed` draws them."""
    report = out / "report.json"
    if not report.exists():
        subprocess.run([str(bin_dir / "evaluate"), "--model", str(model), "--data", str(data),
                        "--checkpoint", checkpoint, "--tumour-seed", str(seed),
                        "--out", str(out), "--baselines", "none", "--force"],
                       check=True, stdout=subprocess.DEVNULL)
    coin = json.loads(report.read_text())[0]  # the first row: COIN at the run's threshold
    c = coin["confusion"]
    return c["tp"], c["fp"], c["fn_"]


def iou(cases):
    tp = sum(c[0] for c in cases)
    fp = sum(c[1] for c in cases)
    fn = sum(c[2] for c in cases)
    return tp / max(tp + fp + fn, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path)
    p.add_argument("--phantom", required=True, help="the `phantom` arguments of the run's data")
    p.add_argument("--extra", type=int, default=32, help="more test patients from the same phantom")
    p.add_argument("--draws", type=int, default=2)
    p.add_argument("--checkpoint", default="final",
                   help="the model: `final`, `last` or a checkpoint folder name under the run")
    p.add_argument("--groups", type=int, default=2000, help="random groups per size")
    p.add_argument("--bin-dir", type=Path, default=Path("target/release"))
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    base = a.phantom.split()
    n_train, n_test = phantom_counts(base)
    data = a.out / "data"
    subprocess.run([str(a.bin_dir / "phantom"), "--out", str(data)]
                   + with_test_count(base, n_test + a.extra), check=True, stdout=subprocess.DEVNULL)
    val = validation_patients(a.run)
    name = lambda i: f"patient_{i:03}"
    test = [name(i) for i in range(n_train, n_train + n_test)]
    extra = [name(i) for i in range(n_train + n_test, n_train + n_test + a.extra)]
    pair = [name(i) for i in range(n_train) if name(i) not in val][:2]
    scores = {}
    for d in range(a.draws):
        model, seed = a.run, tumour_seed(a.run, d)
        for pat in val + test + extra:
            folder = case_folder(a.out / "cases", data, pat, pair)
            ck = a.checkpoint
            if ck not in ("final", "last"):
                ck = str(next(model.glob(f"*/{ck}")))
            scores[(d, pat)] = score(a.bin_dir, model, ck, folder,
                                     a.out / "eval" / ck.rsplit("/", 1)[-1] / f"draw{d}" / pat,
                                     seed)
            print(f"draw {d} {pat}: IoU {iou([scores[(d, pat)]]):.3f}", flush=True)
    (a.out / f"per-patient-{a.checkpoint}.json").write_text(json.dumps(
        [{"draw": d, "patient": pat, "tp": s[0], "fp": s[1], "fn": s[2],
          "split": "validation" if pat in val else "test" if pat in test else "extra"}
         for (d, pat), s in scores.items()], indent=1))
    summarise(a, scores, val, test, extra)


def summarise(a, scores, val, test, extra):
    pool = test + extra
    rng = random.Random(1)
    print(f"\nvalidation patients {len(val)}, test patients {len(test)}, pool {len(pool)}")
    for d in range(a.draws):
        s = lambda pats: iou([scores[(d, q)] for q in pats])
        print(f"draw {d}: validation {s(val):.3f}, test {s(test):.3f}, "
              f"validation − test {s(val) - s(test):+.3f}, all {len(pool)} {s(pool):.3f}")
    both = lambda pats, d: iou([scores[(d, q)] for q in pats])
    print("\nk   sd(IoU of k patients)   sd(k-patient − disjoint test-size group)   sd(draw 0 − draw 1, same k)")
    for k in range(3, min(9, len(pool) - len(test) + 1)):
        ious, diffs, draws = [], [], []
        for _ in range(a.groups):
            pick = rng.sample(pool, k + len(test))
            g, t = pick[:k], pick[k:]
            d = rng.randrange(a.draws)
            ious.append(both(g, d))
            diffs.append(both(g, d) - both(t, d))
            if a.draws > 1:
                draws.append(both(g, 0) - both(g, 1))
        sd_draw = f"{statistics.stdev(draws):.3f}" if draws else "-"
        print(f"{k}   {statistics.stdev(ious):.3f}   {statistics.stdev(diffs):.3f}   {sd_draw}")


if __name__ == "__main__":
    main()
