#!/usr/bin/env python3
"""summary.md of scripts/gpu-check.sh, rewritten after every stage from what the stages wrote so
far: the answers first (op mismatches, the first failing test, sanitizer errors, ours against
PyTorch per shape, seconds per COIN step, peak memory, how far training got), then the build
and the machine, then the stage table and the kernel table.

  python3 scripts/gpu_summary.py summary OUT SCRATCH    # writes OUT/summary.md
  python3 scripts/gpu_summary.py train-digest RUN_DIR   # lines appended to train.txt
"""
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_table  # noqa: E402


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def facts(path):
    """key: value lines, in order."""
    out = {}
    for line in read(path).splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k.strip()] = v.strip()
    return out


def stages(scratch):
    rows = []
    for line in read(os.path.join(scratch, "stages.tsv")).splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            rows.append(dict(zip(["name", "rc", "seconds", "limit", "reason"], parts)))
    return rows


def mismatch_answer(smoke, ran):
    found = re.findall(r"^mismatch: (.*)$", smoke, re.M)
    if found:
        return f"**yes**, {len(found)}; first: {found[0]}"
    if re.search(r"test backends::cuda_gpu_ops_match_reference\S* \.\.\. ok", smoke):
        return "no (every op-table case, forward and backward, within tolerance on cuda:0)"
    if not ran:
        return "not checked (the ops stage did not run)"
    why = first_panic(smoke)
    return f"not known: the op table did not finish{': ' + why if why else ''}"


def first_panic(text):
    m = re.search(r"panicked at ([^\n]*)\n([^\n]*)", text)
    return f"{m.group(2).strip()} ({m.group(1).strip()})" if m else ""


def failing_test(files):
    for name, text in files:
        m = re.search(r"^test (\S+) \.\.\. FAILED", text, re.M)
        if m:
            test = m.group(1)
            block = text[text.find(f"---- {test} stdout ----"):] if f"---- {test} stdout ----" in text else text
            why = first_panic(block)
            return f"**{test}** ({name}){': ' + why if why else ''}"
        m = re.search(r"^error: test failed|panicked at", text, re.M)
        if m:
            return f"in {name}: {first_panic(text) or 'see ' + name}"
    return "none" if any(t for _, t in files) else "no test ran"


def sanitizer_answer(text):
    if not text:
        return "not run"
    out = []
    for tool in ["memcheck", "racecheck", "initcheck", "synccheck"]:
        sec = re.search(rf"^== san-{tool} [^\n]*\n(.*?)(?=^== san-|\Z)", text, re.M | re.S)
        if not sec:
            continue
        body = sec.group(1)
        m = re.search(r"ERROR SUMMARY: (\d+) error", body)
        hazards = re.search(r"RACECHECK SUMMARY: (\d+) hazard", body)
        if m:
            out.append(f"{tool} {m.group(1)} errors" + (f", {hazards.group(1)} hazards" if hazards else ""))
        else:
            last = [line for line in body.splitlines() if line.strip()][-1:] or ["no output"]
            out.append(f"{tool}: no summary ({last[0][:120]})")
    if "skipped" in text and not out:
        return text.strip().splitlines()[0]
    return "; ".join(out) or "not run"


def step_answer(step):
    ours = {(kind, prec): secs for kind, prec, secs in
            re.findall(r"paper-config (G\+D|D-only) step on cuda:0 \((fp32|tf32)\): mean ([\d.]+) s", step)}
    torch = {}
    for mode, kind, secs in re.findall(r"torch (fp32|tf32) paper-config (G\+D|D-only) step: mean ([\d.]+) s", step):
        torch[(mode, kind)] = secs
    iters = re.findall(r"^step (\d+) \(generator: (\w+), \w+\): ([\d.]+) s", step, re.M)
    if not ours and not torch and not iters:
        return "not measured"
    parts = []
    for kind in ["G+D", "D-only"]:
        o, of = ours.get((kind, "tf32")), ours.get((kind, "fp32"))
        t32, tt = torch.get(("fp32", kind)), torch.get(("tf32", kind))
        txt = (f"{kind}: ours TF32 {o or '—'} s, FP32 {of or '—'} s; "
               f"PyTorch TF32 {tt or '—'} s, FP32 {t32 or '—'} s")
        if o and tt:
            txt += f" (PyTorch TF32 ÷ ours TF32 {float(tt) / float(o):.2f})"
        if of and t32:
            txt += f" (PyTorch FP32 ÷ ours FP32 {float(t32) / float(of):.2f})"
        parts.append(txt)
    if not ours and iters:
        parts.append(f"ours: {len(iters)} iterations finished, last {iters[-1][2]} s (no mean: cut short)")
    counts = re.search(r"^counts (ok|MISMATCH)[^\n]*", step, re.M)
    if counts:
        parts.append(f"reads/writes/fallbacks/allocations once warm: {counts.group(0)[7:]}")
    return "; ".join(parts)


def memory_answer(step, train):
    parts = []
    for label, text in [("step", step), ("train", train)]:
        m = re.search(r"^peak GPU memory used \(nvidia-smi\): (\d+) MiB", text, re.M)
        if m:
            parts.append(f"{label} {m.group(1)} MiB (nvidia-smi, whole device)")
    for mode, mib in re.findall(r"torch (fp32|tf32) peak memory allocated: (\d+) MiB", step):
        parts.append(f"PyTorch step {mode} {mib} MiB allocated")
    return "; ".join(parts) or "not measured"


def kernel_answer(scratch, out):
    pt = gpu_table.load_pytorch(os.path.join(out, "pytorch.json"))
    rows = gpu_table.rows(os.path.join(scratch, "criterion"), pt)
    mine = [r for r in rows if r["ours"] is not None]
    if not mine:
        return "not measured"
    txt = [f"{len(mine)} kernels measured"]
    for mode in ["fp32", "tf32"]:
        ratios = [r[f"torch_{mode}"] / r["ours"] for r in mine if r[f"torch_{mode}"]]
        if ratios:
            faster = sum(x >= 1 for x in ratios)
            txt.append(f"vs PyTorch {mode.upper()}: median ratio {statistics.median(ratios):.2f} "
                       f"(PyTorch ÷ ours; ours faster on {faster} of {len(ratios)}), "
                       f"worst {min(ratios):.2f}")
    return "; ".join(txt) + " (table below)"


def train_answer(train):
    m = re.findall(r"^train: (.*)$", train, re.M)
    return "; ".join(m) if m else "not run"


def summary(out, scratch):
    files = {n: read(os.path.join(out, n)) for n in
             ["smoke.txt", "suite.txt", "sanitizer.txt", "bench.txt", "step.txt", "train.txt"]}
    rows = stages(scratch)
    ran = {r["name"] for r in rows}
    f = facts(os.path.join(scratch, "facts.txt"))
    stop = read(os.path.join(scratch, "stop.txt")).strip()
    lines = ["# GPU check", ""]
    if stop:
        lines += [f"**Stopped early: {stop}**", ""]
    lines += [
        "## Answers", "",
        f"- ops mismatch (op table on cuda:0 against the reference): {mismatch_answer(files['smoke.txt'], 'ops' in ran)}",
        f"- first failing test: {failing_test([(n, files[n]) for n in ['smoke.txt', 'suite.txt', 'step.txt']])}",
        f"- sanitizers (COIN_GPU_CACHE=off): {sanitizer_answer(files['sanitizer.txt'])}",
        f"- kernels, ours against PyTorch per shape: {kernel_answer(scratch, out)}",
        f"- seconds per COIN step (256², widths ×1, batch 16): {step_answer(files['step.txt'])}",
        f"- peak GPU memory: {memory_answer(files['step.txt'], files['train.txt'])}",
        f"- training (gpu-check preset): {train_answer(files['train.txt'])}",
        "", "## Build and machine", "",
    ]
    lines += [f"- {k}: {v}" for k, v in f.items()] or ["- (not probed)"]
    lines += ["", "## Stages", "", "| stage | exit | seconds | limit | reason |", "|---|---:|---:|---:|---|"]
    lines += [f"| {r['name']} | {r['rc']} | {r['seconds']} | {r['limit']} | {r['reason']} |" for r in rows]
    lines += ["", "Exit 124: the stage reached its time limit (what it wrote before is kept).", ""]
    lines += ["## Kernels", "", gpu_table.markdown(os.path.join(scratch, "criterion"),
                                                   gpu_table.load_pytorch(os.path.join(out, "pytorch.json")))]
    tmp = os.path.join(out, ".summary.md.tmp")
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(out, "summary.md"))


def train_digest(run_dir):
    """How far a gpu-check training run got, from its log.jsonl."""
    log = []
    for line in read(os.path.join(run_dir, "log.jsonl")).splitlines():
        try:
            log.append(json.loads(line))
        except ValueError:
            pass
    by_stage = {}
    for entry in log:
        if "step" in entry and "t" in entry and "event" not in entry:
            by_stage.setdefault(entry.get("stage"), []).append((entry["step"], entry["t"]))
    if not log:
        print("train: no log (the run did not reach its first stage)")
        return
    for stage, points in by_stage.items():
        (s0, t0), (s1, t1) = points[0], points[-1]
        rate = (s1 - s0) / (t1 - t0) if t1 > t0 else float("nan")
        print(f"train: {stage} stage reached step {s1} ({rate:.2f} steps/s after its first logged step)")
    if "counterfactual" not in by_stage:
        print("train: the COIN stage was not reached")
    ckpts = sum(1 for e in log if e.get("event") == "checkpoint")
    print(f"train: {ckpts} checkpoints written")


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "train-digest":
        train_digest(sys.argv[2])
    else:
        sys.exit("usage: gpu_summary.py summary OUT SCRATCH | train-digest RUN_DIR")
