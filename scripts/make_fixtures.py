"""Makes the PyTorch golden fixtures under tests/fixtures/ (run: scripts/make-fixtures.sh).

Each case stores its inputs (f32-representable values), the weights w of the scalar loss
L = sum(f(inputs) * w), the output f(inputs) and dL/d(input) for each differentiable input,
all computed by PyTorch in float64 so the fixture itself carries no f32 rounding. The Rust
side (tests/pytorch_fixtures.rs) runs the same op on both backends and compares.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
rng = np.random.default_rng(20261129)


def rand(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32).astype(np.float64)


def emit(name, f, inputs, grads=None, extra=None):
    """inputs: list of numpy arrays; grads: which inputs get gradients (default all)."""
    grads = grads if grads is not None else [True] * len(inputs)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=g) for a, g in zip(inputs, grads)]
    y = f(*ts)
    w = rand(*y.shape, lo=0.5, hi=1.5) if y.dim() > 0 else np.array(1.0)
    loss = (y * torch.tensor(w)).sum()
    loss.backward()
    out = {"weight": np.asarray(w, dtype=np.float64), "out": y.detach().numpy().astype(np.float64)}
    for i, (a, t) in enumerate(zip(inputs, ts)):
        out[f"in{i}"] = a
        if t.grad is not None:
            out[f"grad{i}"] = t.grad.numpy()
    for k, v in (extra or {}).items():
        out[k] = np.asarray(v)
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, os.path.join(OUT, f"{name}.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    for fn in os.listdir(OUT):
        if fn.endswith(".safetensors"):
            os.remove(os.path.join(OUT, fn))
    # convolutions
    emit("conv3x3_s1_p1_bias", lambda x, w, b: F.conv2d(x, w, b, 1, 1), [rand(2, 3, 6, 5), rand(4, 3, 3, 3), rand(4)])
    emit("conv3x3_s2_p1_odd", lambda x, w: F.conv2d(x, w, None, 2, 1), [rand(2, 3, 7, 9), rand(5, 3, 3, 3)])
    emit("conv1x1", lambda x, w: F.conv2d(x, w), [rand(3, 4, 5, 5), rand(6, 4, 1, 1)])
    emit("conv1x1_s2_bias", lambda x, w, b: F.conv2d(x, w, b, 2, 0), [rand(2, 4, 5, 6), rand(3, 4, 1, 1), rand(3)])
    emit("conv7x7_s2_p3", lambda x, w: F.conv2d(x, w, None, 2, 3), [rand(1, 1, 11, 13), rand(4, 1, 7, 7)])
    emit("conv3x3_cin1", lambda x, w, b: F.conv2d(x, w, b, 1, 1), [rand(3, 1, 8, 8), rand(4, 1, 3, 3), rand(4)])
    # batch norm (training also checks the running-statistics update)
    x = rand(3, 4, 3, 5)
    rm, rv = np.zeros(4), np.ones(4)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    emit("batch_norm_train", lambda x, g, b: F.batch_norm(x, trm, trv, g, b, True, 0.1, 1e-5), [x, rand(4), rand(4)])
    # the running statistics after that one training batch, stored beside it
    trm2, trv2 = torch.tensor(rm), torch.tensor(rv)
    F.batch_norm(torch.tensor(x), trm2, trv2, None, None, True, 0.1, 1e-5)
    path = os.path.join(OUT, "batch_norm_train.safetensors")
    from safetensors.numpy import load_file
    d = load_file(path)
    d["running_mean"], d["running_var"] = trm2.numpy(), trv2.numpy()
    save_file(d, path)
    erm, erv = rand(3, lo=-0.5, hi=0.5), rand(3, lo=0.5, hi=2.0)
    emit("batch_norm_eval", lambda x, g, b: F.batch_norm(x, torch.tensor(erm), torch.tensor(erv), g, b, False, 0.1, 1e-3),
         [rand(2, 3, 4, 4), rand(3), rand(3)], extra={"running_mean": erm, "running_var": erv})
    # pooling and resampling
    emit("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [rand(2, 3, 6, 8)])
    emit("max_pool2d_3_2_1", lambda x: F.max_pool2d(x, 3, 2, 1), [rand(2, 3, 7, 8)])
    emit("upsample_nearest2", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), [rand(2, 3, 3, 4)])
    for ac in (True, False):
        for (h, w, oh, ow) in [(4, 5, 8, 10), (7, 6, 3, 4), (5, 5, 11, 9)]:
            emit(f"bilinear_{h}x{w}_{oh}x{ow}_ac{int(ac)}",
                 lambda x, oh=oh, ow=ow, ac=ac: F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=ac),
                 [rand(2, 2, h, w)])
    # linear, embedding
    emit("linear", lambda x, w, b: F.linear(x, w, b), [rand(4, 6), rand(3, 6), rand(3)])
    ids = np.array([2, 0, 2, 1, 2], dtype=np.int64)
    emit("embedding", lambda t: F.embedding(torch.tensor(ids), t), [rand(3, 4)], extra={"ids": ids})
    # elementwise
    emit("relu", F.relu, [rand(2, 3, 4)])
    emit("tanh", torch.tanh, [rand(2, 3, 4)])
    emit("sigmoid", torch.sigmoid, [rand(2, 3, 4)])
    emit("softplus", F.softplus, [rand(3, 7, lo=-25, hi=25)])
    emit("abs", torch.abs, [rand(2, 3, 4)])
    emit("exp", torch.exp, [rand(2, 3, 4)])
    emit("log", torch.log, [rand(2, 3, 4, lo=0.5, hi=2.0)])
    emit("clamp", lambda x: torch.clamp(x, -0.7, 0.9), [rand(2, 3, 4)])
    emit("mul_broadcast", lambda a, b: a * b, [rand(2, 3, 4, 5), rand(1, 3, 1, 1)])
    emit("add_broadcast", lambda a, b: a + b, [rand(3, 1, 5), rand(4, 1)])
    emit("div_broadcast", lambda a, b: a / b, [rand(2, 3, 4), rand(3, 1, lo=0.5, hi=2.0)])
    emit("square", torch.square, [rand(2, 3, 4)])
    emit("sqrt", torch.sqrt, [rand(2, 3, 4, lo=0.5, hi=2.0)])
    emit("neg", torch.neg, [rand(2, 3, 4)])
    emit("sub_broadcast", lambda a, b: a - b, [rand(2, 3, 4, 5), rand(3, 1, 1)])
    emit("maximum", torch.maximum, [rand(3, 5), rand(3, 5)])
    emit("minimum_broadcast", torch.minimum, [rand(3, 5), rand(5)])
    cond = rand(2, 3, 4) > 0
    emit("where_gt0", lambda a, b: torch.where(torch.tensor(cond), a, b), [rand(2, 3, 4), rand(1, 3, 1)], extra={"cond": cond.astype(np.uint8)})
    emit("cat_channels", lambda a, b: torch.cat([a, b], 1), [rand(2, 3, 4, 4), rand(2, 2, 4, 4)])
    emit("cat_batch", lambda a, b: torch.cat([a, b], 0), [rand(2, 3, 4), rand(1, 3, 4)])
    emit("split_channels", lambda x: torch.split(x, [2, 3], 1)[1] * 2.0, [rand(2, 5, 3, 3)])
    emit("narrow_width", lambda x: x.narrow(3, 2, 3), [rand(2, 3, 4, 5)])
    emit("reshape", lambda x: x.reshape(6, 4), [rand(2, 3, 4)])
    emit("sum_all", lambda x: x.sum(), [rand(3, 4, 5)])
    emit("mean_all", lambda x: x.mean(), [rand(3, 4, 5)])
    emit("global_sum_pool", lambda x: x.sum(dim=(2, 3)), [rand(2, 3, 4, 5)])
    emit("matmul", torch.matmul, [rand(3, 5), rand(5, 4)])
    emit("linear_no_bias", lambda x, w: F.linear(x, w), [rand(4, 6), rand(1, 6)])
    emit("upsample_nearest3", lambda x: F.interpolate(x, scale_factor=3, mode="nearest"), [rand(1, 2, 2, 3)])
    emit("conv_rect_s21", lambda x, w: F.conv2d(x, w, None, (2, 1), (1, 0)), [rand(2, 2, 6, 7), rand(3, 2, 2, 3)])
    emit("conv3x3_large_map", lambda x, w, b: F.conv2d(x, w, b, 1, 1), [rand(1, 2, 34, 40), rand(20, 2, 3, 3), rand(20)])
    emit("sum_per_channel", lambda x: x.sum(dim=(0, 2, 3)), [rand(2, 3, 4, 5)])
    emit("mean_per_sample", lambda x: x.mean(dim=(1, 2, 3)), [rand(2, 3, 4, 5)])
    # losses (the paper's definitions, src/losses.py)
    emit("bce_with_logits", lambda z, y: F.binary_cross_entropy_with_logits(z, y), [rand(6, 1, lo=-4, hi=4), rand(6, 1, lo=0, hi=1)])

    def kl(t, q):
        t = torch.clamp(t, 1e-5, 1 - 1e-5)
        q = torch.clamp(q, 1e-5, 1 - 1e-5)
        return (t * torch.log(t / q) + (1 - t) * torch.log((1 - t) / (1 - q))).mean()

    emit("kl_bernoulli", kl, [rand(5, 1, lo=0.02, hi=0.98), rand(5, 1, lo=0.02, hi=0.98)])
    emit("l1", lambda a, b: F.l1_loss(a, b), [rand(2, 1, 4, 4), rand(2, 1, 4, 4)])
    emit("mse", lambda a, b: F.mse_loss(a, b), [rand(2, 1, 4, 4), rand(2, 1, 4, 4)])

    def tv(img):
        w_var = ((img[:, :, :, :-1] - img[:, :, :, 1:]) ** 2).mean(dim=(1, 2, 3))
        h_var = ((img[:, :, :-1, :] - img[:, :, 1:, :]) ** 2).mean(dim=(1, 2, 3))
        return (w_var + h_var).mean()

    emit("tv_squared", tv, [rand(2, 1, 5, 6)])
    emit("coin_tv", lambda x, xcf: tv(255 * torch.abs((x + 1) / 2 - (xcf + 1) / 2)), [rand(2, 1, 5, 6), rand(2, 1, 5, 6)])
    adam_fixtures()
    spectral_norm_fixture()
    meta = {"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0], "seed": 20261129}
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("fixtures written with torch", torch.__version__)


def adam_fixtures():
    """Three optimizer steps from fixed parameters and gradients (float32, as in training)."""
    for name, cls, kw in [
        ("adam_beta1_0", torch.optim.Adam, dict(lr=2e-4, betas=(0.0, 0.999), eps=1e-8)),
        ("adam_wd", torch.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
        ("adamw", torch.optim.AdamW, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
    ]:
        p0 = rand(17).astype(np.float32)
        grads = [rand(17).astype(np.float32) for _ in range(3)]
        p = torch.tensor(p0, requires_grad=True)
        opt = cls([p], **kw)
        for g in grads:
            p.grad = torch.tensor(g)
            opt.step()
        save_file({"p0": p0, "g0": grads[0], "g1": grads[1], "g2": grads[2], "p3": p.detach().numpy()},
                  os.path.join(OUT, f"{name}.safetensors"))


def spectral_norm_fixture():
    """The paper code's SN power iteration (SN-GAN port): v = l2n(u W), u = l2n(v Wᵀ), σ = u W vᵀ."""
    w = torch.tensor(rand(4, 3, 3, 3))
    u = torch.tensor(rand(1, 4))
    wm = w.view(4, -1)

    def l2n(a):
        return a / (a.norm() + 1e-12)

    v = l2n(u @ wm)
    u2 = l2n(v @ wm.t())
    sigma = (u2 @ wm @ v.t()).item()
    save_file({"w": w.numpy(), "u": u.numpy(), "u_next": u2.numpy(), "sigma": np.array([sigma])},
              os.path.join(OUT, "spectral_norm.safetensors"))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    main()
