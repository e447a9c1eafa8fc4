#!/usr/bin/env python3
"""The quality benchmark: one preset (and optional overrides, an "arm") over data sets and
seeds, one result row per run in OUT/results.jsonl, and the table of docs/results.md with the
median and minimum of each column. Called by scripts/quality.sh, which builds the binaries.

Data sets (every setting written here, so anyone can regenerate them):
  tuning set   builtin-777, builtin-778, builtin-779  the built-in phantom drawn with that seed
               small-4242                             seed 4242, 18 train / 6 test patients
               family-b                               `phantom` family B (below)
  held out     family-c                               `phantom` family C, for the final table only
               family-d                               `phantom` family D, for the final table only
                                                      (added once family C's classifier
                                                      trajectory had been looked at)

Modes: --steps N fixes the counterfactual stage at N steps and the classifier at a step limit
(decisions: results do not depend on the host's speed or on what runs beside them); without it
the runs are the preset's wall-clock runs (the final table: refused while another heavy process
runs, and a run whose step count falls more than 10 % below the --expected-steps its pass was
given is flagged; each row keeps that count, so a table of several passes flags each row
against its own).

--classifiers-from RUNS trains only the counterfactual stage, against the classifier an earlier
pass kept for the same data set and seed: arms that change only COIN then differ only in COIN.

Resumable: a run whose row exists is skipped; a run folder without a row is resumed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# `phantom` arguments of the families (seed, patients, slices, knobs).
FAMILIES = {
    "family-b": ["--seed", "5150", "--train", "20", "--test", "6", "--slices", "48",
                 "--slice-mm", "2.5", "--phase-mix", "1,2,1", "--kidney-scale", "0.85",
                 "--noise-scale", "1.3"],
    "family-c": ["--seed", "9001", "--train", "16", "--test", "8", "--slices", "32",
                 "--slice-mm", "4", "--phase-mix", "2,1,1", "--kidney-scale", "1.15",
                 "--noise-scale", "0.8"],
    "family-d": ["--seed", "60606", "--train", "18", "--test", "8", "--slices", "36",
                 "--slice-mm", "3.5", "--phase-mix", "1,1,2", "--kidney-scale", "0.95",
                 "--noise-scale", "1.15"],
}
TUNING = ["builtin-777", "builtin-778", "builtin-779", "small-4242", "family-b"]
HELD_OUT = ["family-c", "family-d"]
# The binaries (`--bin-dir`: a copy keeps a long benchmark on one build while the tree changes).
BIN = Path("target/release")
# What a data set changes in the configuration (the built-in phantom's) or where its data are.
BUILTIN_SEED = {"builtin-777": 777, "builtin-778": 778, "builtin-779": 779, "small-4242": 4242}


def config_text(preset, dataset, seed, steps, arm_toml):
    """The run's TOML: the preset, the data set's and the mode's keys, then the arm's."""
    parts = [f'extends = "{preset}"', f"seed = {seed}"]
    if steps:
        parts.append("total_budget_s = 0.0")
    body = "\n".join(parts) + "\n"
    tables = {}
    if dataset == "small-4242":
        tables.setdefault("data", []).extend(["phantom_train = 18", "phantom_test = 6"])
    if steps:
        tables.setdefault("classifier", []).extend(["budget_s = 0.0", "max_steps = 800"])
        tables.setdefault("coin", []).extend(["budget_s = 0.0", f"max_steps = {steps}"])
    for name, keys in tables.items():
        body += f"\n[{name}]\n" + "\n".join(keys) + "\n"
    if arm_toml:
        body = merge_toml(body, arm_toml)
    return body


def merge_toml(base, overlay):
    """`overlay`'s `[table] key = value` lines over `base`'s (both flat, one level of tables)."""
    def parse(text):
        out, table = {"": {}}, ""
        for line in text.splitlines():
            s = line.split("#", 1)[0].strip()
            if not s:
                continue
            if s.startswith("["):
                table = s.strip("[]").strip()
                out.setdefault(table, {})
            else:
                k, v = (x.strip() for x in s.split("=", 1))
                out[table][k] = v
        return out
    merged = parse(base)
    for t, kv in parse(overlay).items():
        merged.setdefault(t, {}).update(kv)
    text = "".join(f"{k} = {v}\n" for k, v in merged.pop("").items())
    for t, kv in merged.items():
        text += f"\n[{t}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items())
    return text


def heavy_processes():
    """Other processes using more than half a core (from `ps`), excluding this one's tree."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,pcpu,comm", "--no-headers"],
                         capture_output=True, text=True).stdout
    mine = {os.getpid(), os.getppid()}
    return [l.strip() for l in out.splitlines()
            if float(l.split()[2]) > 50.0 and int(l.split()[0]) not in mine]


def ensure_family(root, name):
    """Writes family `name` with `phantom` (kept when it is already there)."""
    out = root / "data" / name
    subprocess.run([str(BIN / "phantom"), "--out", str(out)] + FAMILIES[name],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def validation_records(run):
    """The counterfactual stage's validation lines by step (the last record of each step)."""
    seen = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        try:
            l = json.loads(line)
        except json.JSONDecodeError:
            continue
        if l.get("event") == "validation" and l.get("stage") == "counterfactual":
            seen[l["step"]] = l
    return [seen[k] for k in sorted(seen)]


def validations(run):
    """(step, validation IoU) of the counterfactual stage."""
    return [(l["step"], l["val_iou"]) for l in validation_records(run)]


def label_free_pick(run, gate=0.9):
    """The step the label-free selection (src/eval/segmentation.rs, label_free_score) picks
    from the logged validations, and the validation IoU there (None for runs that did not log
    the scores it reads)."""
    best = None
    for l in validation_records(run):
        flip, ca, cn = (l.get(k) for k in ("val_flip_abnormal", "val_changed_pixels_abnormal",
                                           "val_changed_pixels_normal"))
        if flip is None or ca is None:
            return None
        score = 2.0 - cn if flip >= gate and ca > cn else flip
        if best is None or score > best[0]:
            best = (score, l["step"], l.get("val_iou"))
    return None if best is None else (best[1], best[2])


def row_of(run, arm, dataset, seed, seconds):
    s = json.loads((run / "summary.json").read_text())
    records = {l["step"]: l for l in validation_records(run)}
    val = [(k, l["val_iou"]) for k, l in records.items()]
    chosen = s.get("coin_chosen_step")
    jumps = [abs(b[1] - a[1]) for a, b in zip(val, val[1:])]
    return {
        "arm": arm, "dataset": dataset, "seed": seed,
        "test_iou": s["test_iou"], "test_dice": s["test_dice"],
        "validity": s.get("counterfactual_validity"),
        "classifier_test_accuracy": s["classifier_accuracy"],
        "coin_steps": s["coin_steps"], "chosen_step": chosen,
        "val_iou_at_chosen": dict(val).get(chosen),
        # The 90 % interval over patients of that validation IoU (runs that logged it).
        "val_iou_patients_90": records.get(chosen, {}).get("val_iou_patients_90"),
        "test_iou_patients_90": s.get("test_iou_patients_90"),
        "val_iou_mean_jump": statistics.mean(jumps) if jumps else None,
        # How far validation IoU fell, summed over the validations where it fell (0: it never
        # went down): the oscillation, apart from the trend.
        "val_iou_drops": sum(max(0.0, a[1] - b[1]) for a, b in zip(val, val[1:])),
        # Every selection the run kept, scored on the test split (label-free beside val IoU).
        "selections": {x["select"]: {"step": x["step"], "test_iou": x["test_iou"]}
                       for x in s.get("selections", [])},
        "seconds": seconds, "cpu": s["cpu"], "simd": s["simd"], "commit": s.get("git_commit"),
    }


def run_one(args, root, arm_toml, dataset, seed):
    run = root / "runs" / args.arm / f"{dataset}-s{seed}"
    cfg_seed = BUILTIN_SEED.get(dataset, seed)
    text = config_text(args.preset, dataset, cfg_seed, args.steps, arm_toml)
    cfg = root / "configs" / args.arm / f"{dataset}-s{seed}.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text)
    cmd = [str(BIN / "train"), "--config", str(cfg), "--out", str(run),
           "--threads", str(args.threads)]
    if dataset in FAMILIES:
        cmd += ["--data", str(ensure_family(root, dataset))]
    if args.classifiers_from:
        # COIN alone against a classifier an earlier pass trained on the same data set.
        weights = Path(args.classifiers_from) / f"{dataset}-s{seed}" / "classifier.safetensors"
        cmd += ["--stage", "counterfactual", "--classifier", str(weights)]
    if (run / "checkpoints" / "latest").is_file():
        cmd.append("--resume")
    elif run.exists():
        cmd.append("--force")
    print(f"[{time.strftime('%H:%M:%S')}] {args.arm} {dataset} seed {cfg_seed}: {' '.join(cmd)}",
          flush=True)
    t = time.time()
    run.parent.mkdir(parents=True, exist_ok=True)
    with open(root / "runs" / args.arm / f"{dataset}-s{seed}.out", "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    return row_of(run, args.arm, dataset, cfg_seed, time.time() - t)


def table(rows, expected):
    """The Markdown table; `expected`: the COIN step count for rows that kept none."""
    cols = [("test IoU", "test_iou"), ("Dice", "test_dice"), ("validity", "validity"),
            ("classifier test acc.", "classifier_test_accuracy"), ("COIN steps", "coin_steps"),
            ("chosen step", "chosen_step"), ("val IoU at chosen", "val_iou_at_chosen"),
            ("val→test gap", None), ("mean |Δ val IoU|", "val_iou_mean_jump"),
            ("Σ val IoU drops", "val_iou_drops"),
            ("label-free: test IoU", "label-free"), ("label-free ÷ best-val-iou", "lf_ratio"),
            ("label-free pick: step", "pick_step"),
            ("val IoU there", "pick_val"),
            ("seconds", "seconds")]

    def value(r, key):
        if key in ("pick_step", "pick_val"):
            seed = r["seed"]
            pick = label_free_pick(Path(r["_root"]) / "runs" / r["arm"] / f"{r['dataset']}-s{seed}")
            return None if pick is None else pick[0 if key == "pick_step" else 1]
        if key == "label-free":
            return r.get("selections", {}).get("label-free", {}).get("test_iou")
        if key == "lf_ratio":
            sel = r.get("selections", {})
            lf = sel.get("label-free", {}).get("test_iou")
            best = sel.get("best-val-iou", {}).get("test_iou")
            return None if lf is None or not best else lf / best
        if key is None:
            v, t = r.get("val_iou_at_chosen"), r.get("test_iou")
            return None if v is None or t is None else v - t
        return r.get(key)

    def fmt(v, key):
        if v is None:
            return "–"
        if key in ("coin_steps", "chosen_step", "seconds", "pick_step"):
            return f"{v:.0f}"
        return f"{v:.3f}"

    lines = []
    for arm in sorted({r["arm"] for r in rows}):
        rs = [r for r in rows if r["arm"] == arm]
        lines.append(f"\n{arm}:\n")
        lines.append("| data set | seed | " + " | ".join(c for c, _ in cols) + " |")
        lines.append("|---|---|" + "---:|" * len(cols))
        for r in rs:
            flag = ""
            own = r.get("expected_steps", expected)
            if own and r["coin_steps"] < 0.9 * own:
                flag = " ⚠ steps < 90 % of expected"
            lines.append(f"| {r['dataset']}{flag} | {r['seed']} | "
                         + " | ".join(fmt(value(r, k), k) for _, k in cols) + " |")
        for name, f in (("median", statistics.median), ("minimum", min)):
            cells = []
            for _, k in cols:
                vs = [value(r, k) for r in rs if value(r, k) is not None]
                cells.append(fmt(f(vs), k) if vs else "–")
            lines.append(f"| **{name}** | | " + " | ".join(cells) + " |")
    hosts = {(r["cpu"], r["simd"]) for r in rows}
    lines.append("\nhost: " + "; ".join(f"{c} ({s})" for c, s in sorted(hosts)))
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu-default")
    p.add_argument("--arm", default=None, help="the rows' name (default: the preset's)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="a configuration override of this arm, e.g. coin.ema_decay=0.99")
    p.add_argument("--steps", type=int, default=0, help="fixed counterfactual steps (0: wall clock)")
    p.add_argument("--sets", choices=["tuning", "held-out", "all"], default="tuning")
    p.add_argument("--datasets", default="", help="a comma list instead of --sets' data sets")
    p.add_argument("--seeds", default="777", help="run seeds for the family data sets")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--expected-steps", type=int, default=0,
                   help="the host's expected COIN steps in the budget (wall-clock mode; kept "
                        "in each row of this pass)")
    p.add_argument("--out", default="runs/quality")
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--classifiers-from", default="", metavar="RUNS",
                   help="borrow each data set's classifier from RUNS/<data set>-s<seed>/ (an "
                        "earlier pass's runs/<arm>): COIN alone, every arm on the same classifier")
    p.add_argument("--bin-dir", default="target/release",
                   help="where train and phantom are (a copy keeps a long pass on one build)")
    args = p.parse_args()
    global BIN
    BIN = Path(args.bin_dir)
    args.arm = args.arm or args.preset
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    results = root / "results.jsonl"
    rows = [json.loads(l) for l in results.read_text().splitlines()] if results.exists() else []
    if not args.table_only:
        heavy = heavy_processes()
        if heavy and not args.steps:
            sys.exit("quality: another heavy process runs (wall-clock runs would be slowed):\n  "
                     + "\n  ".join(heavy))
        arm_toml = ""
        for s in args.set:
            key, value = s.split("=", 1)
            table_name, _, leaf = key.rpartition(".")
            arm_toml += (f"[{table_name}]\n" if table_name else "") + f"{leaf} = {value}\n"
        sets = {"tuning": TUNING, "held-out": HELD_OUT, "all": TUNING + HELD_OUT}[args.sets]
        if args.datasets:
            sets = args.datasets.split(",")
        for dataset in sets:
            seeds = [BUILTIN_SEED[dataset]] if dataset in BUILTIN_SEED else [
                int(s) for s in args.seeds.split(",")]
            for seed in seeds:
                if any(r["arm"] == args.arm and r["dataset"] == dataset and r["seed"] == seed
                       for r in rows):
                    continue
                row = run_one(args, root, arm_toml, dataset, seed)
                if args.expected_steps and not args.steps:
                    row["expected_steps"] = args.expected_steps
                rows.append(row)
                with open(results, "a") as f:
                    f.write(json.dumps(row) + "\n")
    for r in rows:
        r["_root"] = str(root)
    print(table(rows, args.expected_steps))


if __name__ == "__main__":
    main()
