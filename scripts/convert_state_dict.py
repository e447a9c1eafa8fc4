#!/usr/bin/env python3
"""Convert PyTorch state dicts to coin-rs safetensors checkpoints and back.

Our networks use the authors' state_dict keys (shared/docs/coin-state-dict.md), so converting is
mostly re-packing, plus two fix-ups for a torchvision ImageNet ResNet-18 used as the classifier's
starting point (docs/method.md, "The networks"):

  * the RGB stem `conv1.weight` [64, 3, 7, 7] becomes one channel by summing over RGB (the
    authors sum, not average);
  * the 1000-way `fc` becomes a fresh Linear(512, 1) with PyTorch's default initialisation
    (seeded), as `build_classifier` replaces it.

Usage (run with the pinned PyTorch, scripts/setup-pytorch.sh):

  to-coin IN.(pth|pt|safetensors) OUT.safetensors [--prefix classifier_f.] [--strip model.]
          [--rgb-sum] [--fc-to-one-logit] [--seed N]
      IN may be a bare state dict or a checkpoint dict with a 'state_dict' / 'model' entry.
      --prefix adds a prefix to every key (a torchvision model's keys become `classifier_f.*`);
      --strip removes one (the authors' classifier checkpoints prefix `model.`).
  to-torch IN.safetensors OUT.pt [--strip classifier_f.]
      Writes a plain state dict for torch.load / load_state_dict.
  selftest OUT_DIR
      Converts a random-init torchvision resnet18 (or, without torchvision, the same layout
      built here) both ways, checks the round trip, and writes OUT_DIR/resnet18_tiny.safetensors
      (base width 4) for tests/coin_nets.rs.
"""
import argparse
import sys

import torch
from safetensors.torch import load_file, save_file


def load_any(path):
    if path.endswith(".safetensors"):
        return load_file(path)
    obj = torch.load(path, map_location="cpu", weights_only=False)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    return {k: v for k, v in obj.items() if torch.is_tensor(v)}


def to_coin(sd, prefix="", strip="", rgb_sum=False, fc_to_one_logit=False, seed=0):
    out = {}
    for k, v in sd.items():
        if strip and k.startswith(strip):
            k = k[len(strip):]
        out[k] = v.detach().clone()
    if rgb_sum and "conv1.weight" in out and out["conv1.weight"].shape[1] == 3:
        out["conv1.weight"] = out["conv1.weight"].sum(1, keepdim=True)
    if fc_to_one_logit and "fc.weight" in out:
        g = torch.Generator().manual_seed(seed)
        fin = out["fc.weight"].shape[1]
        bound = 1 / fin ** 0.5
        out["fc.weight"] = (torch.rand(1, fin, generator=g) * 2 - 1) * bound
        out["fc.bias"] = (torch.rand(1, generator=g) * 2 - 1) * bound
    res = {}
    for k, v in out.items():
        if v.dtype in (torch.float16, torch.bfloat16, torch.float64):
            v = v.float()
        if k.endswith("num_batches_tracked"):
            v = v.to(torch.int64).reshape(())
        res[prefix + k] = v.contiguous()
    return res


def to_torch(sd, strip=""):
    return {(k[len(strip):] if strip and k.startswith(strip) else k): v for k, v in sd.items()}


def resnet18(base):
    try:
        if base != 64:
            raise ImportError
        import torchvision
        return torchvision.models.resnet18(weights=None)
    except ImportError:
        sys.path.insert(0, __file__.rsplit("/", 1)[0])
        from coin_parity import ResNet18  # same names as torchvision's

        m = ResNet18(base)
        m.conv1 = torch.nn.Conv2d(3, base, 7, 2, 3, bias=False)
        m.fc = torch.nn.Linear(8 * base, 1000)
        return m


def selftest(out_dir):
    torch.manual_seed(0)
    m = resnet18(64)
    sd = m.state_dict()
    ours = to_coin(sd, prefix="classifier_f.", rgb_sum=True, fc_to_one_logit=True)
    assert ours["classifier_f.conv1.weight"].shape == (64, 1, 7, 7)
    assert torch.equal(ours["classifier_f.conv1.weight"], sd["conv1.weight"].sum(1, keepdim=True))
    assert ours["classifier_f.fc.weight"].shape == (1, 512)
    assert ours["classifier_f.bn1.num_batches_tracked"].dtype == torch.int64
    back = to_torch(ours, strip="classifier_f.")
    for k, v in sd.items():
        if k not in ("conv1.weight", "fc.weight", "fc.bias"):
            assert torch.equal(back[k].reshape(v.shape), v), k
    print(f"round trip ok: {len(ours)} tensors, {sum(v.numel() for k, v in ours.items() if 'running' not in k and 'num_batches' not in k)} values")
    # A tiny classifier (base width 4) the Rust tests load strictly by name.
    torch.manual_seed(1)
    tiny = resnet18(4)
    for mod in tiny.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.num_batches_tracked.fill_(7)
    tiny_sd = to_coin(tiny.state_dict(), prefix="classifier_f.", rgb_sum=True, fc_to_one_logit=True, seed=3)
    x = torch.linspace(-1, 1, 2 * 32 * 32).reshape(2, 1, 32, 32)
    tiny.conv1.weight.data = tiny_sd["classifier_f.conv1.weight"]
    tiny.fc = torch.nn.Linear(tiny.fc.in_features, 1)
    tiny.fc.weight.data = tiny_sd["classifier_f.fc.weight"]
    tiny.fc.bias.data = tiny_sd["classifier_f.fc.bias"]
    tiny.eval()
    with torch.no_grad():
        logits = tiny(x)
    tiny_sd["check/x"] = x
    tiny_sd["check/logits"] = logits
    path = f"{out_dir}/resnet18_tiny.safetensors"
    save_file(tiny_sd, path, metadata={"made_by": "scripts/convert_state_dict.py selftest", "torch": torch.__version__})
    print(f"wrote {path}; eval logits {logits.flatten().tolist()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-coin")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("--prefix", default="")
    a.add_argument("--strip", default="")
    a.add_argument("--rgb-sum", action="store_true")
    a.add_argument("--fc-to-one-logit", action="store_true")
    a.add_argument("--seed", type=int, default=0)
    b = sub.add_parser("to-torch")
    b.add_argument("src")
    b.add_argument("dst")
    b.add_argument("--strip", default="")
    c = sub.add_parser("selftest")
    c.add_argument("out_dir")
    args = ap.parse_args()
    if args.cmd == "to-coin":
        sd = to_coin(load_any(args.src), args.prefix, args.strip, args.rgb_sum, args.fc_to_one_logit, args.seed)
        save_file(sd, args.dst)
        print(f"wrote {args.dst}: {len(sd)} tensors")
    elif args.cmd == "to-torch":
        torch.save(to_torch(load_file(args.src), args.strip), args.dst)
        print(f"wrote {args.dst}")
    else:
        selftest(args.out_dir)


if __name__ == "__main__":
    main()
