#!/usr/bin/env python3
"""What the compiled CUDA kernels really do, from the build's own fatbins (scripts/kernel-report.sh
runs this; CI prints it). For every kernel on each SASS architecture in the fatbin: threads
(its __launch_bounds__), registers, spill bytes and static shared memory (the build's ptxas
report), theoretical occupancy, and the instruction mix of its main loop from `cuobjdump -sass`:
tensor-core MMAs (HMMA), FFMA, 128-bit shared and global loads, asynchronous copies (LDGSTS)
and integer-division sequences (each starts with I2F.U32.RP, then MUFU.RCP).

The main loop is the backward branch's body with the most arithmetic and shared loads (the
whole kernel when it has no loop). Policy, checked: kernels in TENSOR_CORE must have an MMA in
their main loop; kernels in NO_DIVISION must have no division sequence there.

  python3 scripts/kernel_report.py OUT_DIR CUOBJDUMP
"""
import glob
import os
import re
import subprocess
import sys

# The GEMM kernels (kernels/gemm_tile.cuh): the TF32 and 3xTF32 ones must keep MMAs in their
# main loops; none may have an integer division there.
GEMMS = [f"{k}_{p}" for k in ["conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_data_strided",
                               "conv2d_bwd_weight", "gemm"]
         for p in ["f32", "tf32", "3xtf32"]]
TENSOR_CORE = {"selftest_wmma_gemm"} | {k for k in GEMMS if k.endswith("tf32")}
NO_DIVISION = set(GEMMS)
# Per SM: registers, threads, blocks, shared memory (bytes) available to blocks.
SM = {"80": (65536, 2048, 32, 164 * 1024), "90": (65536, 2048, 32, 228 * 1024)}


def launch_bounds(kernels_dir):
    out = {}
    for f in glob.glob(os.path.join(kernels_dir, "*.cu")):
        text = open(f).read()
        for n, name in re.findall(r"__launch_bounds__\((\d+)[^)]*\)\s*(\w+)\s*\(", text):
            out[name] = int(n)
    return out


def ptxas_resources(path):
    """(function, arch) → (registers, spill bytes, static shared bytes)."""
    res, func, arch, spill = {}, None, None, 0
    for line in open(path, errors="replace"):
        m = re.search(r"Compiling entry function '(\w+)' for 'sm_(\d+)'", line)
        if m:
            func, arch, spill = m.group(1), m.group(2), 0
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and func:
            spill = int(m.group(1)) + int(m.group(2))
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and func:
            smem = re.search(r"(\d+) bytes smem", line)
            res[(func, arch)] = (int(m.group(1)), spill, int(smem.group(1)) if smem else 0)
    return res


def sass(cuobjdump, fatbin):
    """(function, arch) → [(address, instruction)]."""
    text = subprocess.run([cuobjdump, "-sass", fatbin], capture_output=True, text=True,
                          check=True).stdout
    out, arch, func = {}, None, None
    for line in text.splitlines():
        m = re.search(r"code for sm_(\d+)", line)
        if m:
            arch = m.group(1)
            continue
        m = re.search(r"Function : (\w+)", line)
        if m:
            func = m.group(1)
            out[(func, arch)] = []
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m and func:
            out[(func, arch)].append((int(m.group(1), 16), m.group(2).strip()))
    return out


def opcode(ins):
    return re.sub(r"^@!?U?P\w+\s+", "", ins).split()[0] if ins else ""


def mix(instrs):
    ops = [opcode(i) for _, i in instrs]
    return {
        "n": len(ops),
        "mma": sum(o.startswith(("HMMA", "HGMMA")) for o in ops),
        "ffma": sum(o.startswith("FFMA") for o in ops),
        "lds128": sum(o.startswith("LDS") and ".128" in o for o in ops),
        "ldg128": sum(o.startswith("LDG") and ".128" in o for o in ops),
        "ldgsts": sum(o.startswith("LDGSTS") for o in ops),
        "div": sum(o.startswith("I2F.U32.RP") for o in ops),
    }


def arithmetic(instrs):
    """What ranks a loop as the main one: its MMAs, FFMAs and 128-bit shared loads."""
    m = mix(instrs)
    return m["mma"] + m["ffma"] + m["lds128"]


def main_loop(instrs):
    loops = []
    for addr, ins in instrs:
        m = re.search(r"\bBRA\s+(?:`\(\.L_x_\d+\)\s*)?0x([0-9a-f]+)", ins)
        if m and opcode(ins).startswith("BRA") and int(m.group(1), 16) < addr:
            body = [x for x in instrs if int(m.group(1), 16) <= x[0] <= addr]
            loops.append(body)
    if not loops:
        return instrs, False
    return max(loops, key=arithmetic), True


def occupancy(arch, threads, regs, smem):
    regs_sm, threads_sm, blocks_sm, smem_sm = SM.get(arch, SM["90"])
    warps = -(-threads // 32)
    regs_per_warp = -(-regs * 32 // 256) * 256
    by_regs = (regs_sm // regs_per_warp) // warps if regs_per_warp else blocks_sm
    by_threads = threads_sm // (warps * 32)
    by_smem = smem_sm // (smem + 1024) if smem else blocks_sm
    blocks = max(0, min(blocks_sm, by_regs, by_threads, by_smem))
    return blocks * warps * 32 / threads_sm


def main(out_dir, cuobjdump):
    kernels_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kernels")
    bounds = launch_bounds(kernels_dir)
    rows, problems = [], []
    for report in sorted(glob.glob(os.path.join(out_dir, "*.ptxas.txt"))):
        module = os.path.basename(report)[: -len(".ptxas.txt")]
        fatbins = sorted(glob.glob(os.path.join(out_dir, f"{module}-*.fatbin")), key=os.path.getmtime)
        if not fatbins:
            continue
        res = ptxas_resources(report)
        for (func, arch), instrs in sorted(sass(cuobjdump, fatbins[-1]).items(), key=lambda kv: (kv[0][1], kv[0][0])):
            regs, spill, smem = res.get((func, arch), (0, 0, 0))
            threads = bounds.get(func, 256)
            loop, looped = main_loop(instrs)
            m = mix(loop)
            rows.append((arch, module, func, threads, regs, spill, smem,
                         occupancy(arch, threads, regs, smem), looped, m))
            if func in TENSOR_CORE and m["mma"] == 0:
                problems.append(f"sm_{arch} {func}: listed as tensor-core, no MMA in its main loop")
            if func in NO_DIVISION and m["div"] > 0:
                problems.append(f"sm_{arch} {func}: an integer division in its main loop")
    print("| arch | module | kernel | threads | regs | spill B | smem B | occupancy | main loop: instr | MMA | FFMA | LDS.128 | LDG.128 | LDGSTS | int div |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for arch, module, func, threads, regs, spill, smem, occ, looped, m in rows:
        n = f"{m['n']}" + ("" if looped else " (no loop)")
        print(f"| sm_{arch} | {module} | {func} | {threads} | {regs} | {spill} | {smem} | {occ:.0%} | {n} | "
              f"{m['mma']} | {m['ffma']} | {m['lds128']} | {m['ldg128']} | {m['ldgsts']} | {m['div']} |")
    listed = TENSOR_CORE | NO_DIVISION
    seen = {r[2] for r in rows}
    for k in sorted(listed - seen):
        problems.append(f"{k}: listed in the report's policy but not in any fatbin")
    if not rows:
        problems.append(f"no kernels found in {out_dir}")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
