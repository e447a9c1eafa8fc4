#!/usr/bin/env python3
"""COIN's networks and training step in PyTorch, written from the authors' modules (docs/method.md) with the
authors' attribute names and nn.Sequential indices (so the state_dict keys are theirs), at a
small size: widths x1/32, classifier base width 8, 64x64 images, batch 4. Runs three iterations
of the authors' step with gen_update_freq 2 -- G+D, D-only, G+D -- and saves, as
tests/fixtures/coin_step.safetensors:

  init/<key>          every tensor of the state dict before training (classifier included)
  x/<k>               the three batches
  it<k>/loss/<name>   the logged loss terms (weighted, as the authors log them)
  it<k>/grad/<param>  the gradients each optimizer saw (E+G on G steps, D always)
  it<k>/state/<key>   every E+G and D tensor after the iteration (parameters, BN statistics,
                      num_batches_tracked, spectral-norm u)

Run with the pinned PyTorch (scripts/setup-pytorch.sh): .venv-pytorch/bin/python
scripts/coin_parity.py. tests/coin_step.rs replays the same steps on our engine.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(1234)
torch.set_num_threads(2)

WIDTH = 1 / 32
BASE = 8
SIZE = 64
BATCH = 4
FREQ = 2
LAMBDA = dict(adv=1.0, kl=5.0, rec=1.0, minc=1.0, tv=0.05)


def l2n(a, eps=1e-12):
    return a / (a.norm() + eps)


@torch.no_grad()
def power_iteration(weight, u):
    """One step on W.view(Cout, -1): v = l2n(uW), u = l2n(vW^T) (stored), sigma = u W v^T."""
    w = weight.data.view(weight.shape[0], -1)
    v = l2n(u @ w)
    u_new = l2n(v @ w.t())
    u.copy_(u_new)
    return (u_new @ w @ v.t()).squeeze()


class SNConv2d(nn.Conv2d):
    """One power iteration per forward on W.view(Cout, -1), sigma detached, u stored."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.register_buffer("u", torch.randn(1, self.out_channels))

    def forward(self, x):
        sigma = power_iteration(self.weight, self.u)
        return F.conv2d(x, self.weight / sigma, self.bias, self.stride, self.padding)


class SNLinear(nn.Linear):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.register_buffer("u", torch.randn(1, self.out_features))

    def forward(self, x):
        return F.linear(x, self.weight / power_iteration(self.weight, self.u), self.bias)


class CBN(nn.Module):
    """Affine-free BN, per-sample gamma/beta from Embedding(2, 2C), then ReLU."""

    def __init__(self, c, ncls=2):
        super().__init__()
        self.c = c
        self.bn = nn.BatchNorm2d(c, affine=False)
        self.embed = nn.Embedding(ncls, 2 * c)
        self.embed.weight.data[:, :c].normal_(1, 0.02)
        self.embed.weight.data[:, c:].zero_()

    def forward(self, x, y):
        g, b = self.embed(y).chunk(2, 1)
        return F.relu(g.view(-1, self.c, 1, 1) * self.bn(x) + b.view(-1, self.c, 1, 1))


def c3(cin, cout, bias=False, sn=False):
    return (SNConv2d if sn else nn.Conv2d)(cin, cout, 3, 1, 1, bias=bias)


class EncBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.left_branch = nn.Sequential(nn.AvgPool2d(2), SNConv2d(cin, cout, 1, bias=False))
        self.right_branch = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(), nn.AvgPool2d(2), c3(cin, cout),
            nn.BatchNorm2d(cout), nn.ReLU(), c3(cout, cout))

    def forward(self, x):
        return self.left_branch(x) + self.right_branch(x)


class Encoder(nn.Module):
    def __init__(self, chans):
        super().__init__()
        self.first_block = nn.Sequential(nn.Conv2d(1, 64, 3, 1, 1, bias=False), nn.ReLU(), nn.BatchNorm2d(64))
        ins = [64] + chans[:-1]
        self.blocks = nn.ModuleList(EncBlock(i, o) for i, o in zip(ins, chans))

    def forward(self, x):
        h = self.first_block(x)
        out = []
        for b in self.blocks:
            h = b(h)
            out.append(h)
        return out


class GenBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        up = nn.UpsamplingNearest2d(scale_factor=2)
        self.left_branch = nn.Sequential(up, SNConv2d(cin, cout, 1, bias=False))
        self.cbn_relu_first = CBN(cin)
        self.upsample_conv = nn.Sequential(up, c3(cin, cout))
        self.cbn_relu_second = CBN(cout)
        self.last_conv = c3(cout, cout)

    def forward(self, x, y):
        h = self.cbn_relu_second(self.upsample_conv(self.cbn_relu_first(x, y)), y)
        return self.left_branch(x) + self.last_conv(h)


class Generator(nn.Module):
    def __init__(self, enc, chans, skips=(1, 2, 3, 4), ptb=True):
        super().__init__()
        self.skips = skips
        self.ptb = ptb
        blocks, cin = [], enc[-1]
        for i, cout in enumerate(chans):
            if i in skips:
                cin += enc[4 - i]
            blocks.append(GenBlock(cin, cout))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.last_block = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 1, 3, 1, 1))

    def forward(self, feats, y, x):
        h = feats[-1]
        for i, b in enumerate(self.blocks):
            if i in self.skips:
                h = torch.cat([h, feats[4 - i]], 1)
            h = b(h, y)
        r = self.last_block(h)
        return torch.tanh(r + x) if self.ptb else torch.tanh(r)


class DiscBlock(nn.Module):
    def __init__(self, cin, cout, ds, first):
        super().__init__()
        pool = nn.AvgPool2d(ds) if ds > 1 else nn.Identity()
        if first:
            self.left_branch = nn.Sequential(nn.AvgPool2d(2), SNConv2d(cin, cout, 1))
            self.right_branch = nn.Sequential(nn.Identity(), c3(cin, cout, True, True), nn.ReLU(),
                                              c3(cout, cout, True, True), nn.AvgPool2d(2))
        else:
            self.left_branch = (nn.Sequential(SNConv2d(cin, cout, 1), pool)
                                if cin != cout or ds != 1 else nn.Identity())
            self.right_branch = nn.Sequential(nn.ReLU(), c3(cin, cout, True, True), nn.ReLU(),
                                              c3(cout, cout, True, True), pool)

    def forward(self, x):
        return self.left_branch(x) + self.right_branch(x)


class Discriminator(nn.Module):
    def __init__(self, layout):
        super().__init__()
        blocks, cin = [], 1
        for i, (cout, ds) in enumerate(layout):
            blocks.append(DiscBlock(cin, cout, ds, i == 0))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.sn_dense = SNLinear(cin, 1)
        self.embd = nn.Embedding(2, cin)

    def forward(self, x, y):
        h = x
        for b in self.blocks:
            h = b(h)
        h = F.relu(h).sum([2, 3])
        return self.sn_dense(h) + (self.embd(y) * h).sum(1, keepdim=True)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    """torchvision's resnet18 layout (names included), 1 input channel, 1 logit."""

    def __init__(self, base):
        super().__init__()
        self.conv1 = nn.Conv2d(1, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        cin = base
        for s in range(4):
            cout = base << s
            layer = nn.Sequential(BasicBlock(cin, cout, 2 if s else 1), BasicBlock(cout, cout, 1))
            setattr(self, f"layer{s + 1}", layer)
            cin = cout
        self.fc = nn.Linear(cin, 1)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for s in range(4):
            h = getattr(self, f"layer{s + 1}")(h)
        return self.fc(h.mean([2, 3]))


class Coin(nn.Module):
    """E, G, D and the classifier; `ptb=False` gives the generator the plain `tanh(r)` head."""

    def __init__(self, ptb=True):
        super().__init__()
        sc = lambda cs: [max(1, round(c * WIDTH)) for c in cs]
        enc = sc([64, 128, 256, 512, 1024])
        self.enc = Encoder(enc)
        self.gen = Generator(enc, sc([1024, 512, 256, 128, 64]), ptb=ptb)
        layout = list(zip(sc([64, 128, 256, 512, 1024, 1024]), [2, 2, 2, 2, 2, 1]))
        self.disc = Discriminator(layout)
        self.classifier_f = ResNet18(BASE)


def batch(seed):
    """Smooth images in [-1, 1] (some pixels saturated), half with a bright blob."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(BATCH, 1, 8, 8, generator=g)
    x = F.interpolate(low, size=(SIZE, SIZE), mode="bilinear", align_corners=False) * 0.6 - 0.2
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    for i in range(0, BATCH, 2):
        cy, cx = torch.randint(12, SIZE - 12, (2,), generator=g).tolist()
        x[i, 0] += 1.5 * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0 ** 2))
    return x.clamp(-1, 1).contiguous()


def kl(q, t, e=1e-5):
    q, t = q.clamp(e, 1 - e), t.clamp(e, 1 - e)
    return (t * torch.log(t / q) + (1 - t) * torch.log((1 - t) / (1 - q))).mean()


def tv(img):
    dw = (img[..., :, :-1] - img[..., :, 1:]) ** 2
    dh = (img[..., :-1, :] - img[..., 1:, :]) ** 2
    return (dw.flatten(1).mean(1) + dh.flatten(1).mean(1)).mean()


def optimizers(m):
    """Adam for E+G and for D, as the authors' GAN: lr 2e-4, β (0, 0.999)."""
    eg = list(m.enc.parameters()) + list(m.gen.parameters())
    opt_g = torch.optim.Adam(eg, lr=2e-4, betas=(0.0, 0.999), eps=1e-8)
    opt_d = torch.optim.Adam(m.disc.parameters(), lr=2e-4, betas=(0.0, 0.999), eps=1e-8)
    return opt_g, opt_d


def posterior(f, x):
    """The frozen classifier's bins (p ≥ 0.5: abnormal) and KL targets (1e-6 for abnormal rows,
    p itself for normal ones), without a graph."""
    with torch.no_grad():
        p = torch.sigmoid(f(x))
        bin_ = (p >= 0.5).long().flatten()
        desired = torch.where(p >= 0.5, torch.full_like(p, 1e-6), p)
    return bin_, desired


def training_step(m, x, freq):
    """The COIN iteration as our `CoinStep::train_step` runs it (benchmark form: the frozen
    classifier m.classifier_f in eval mode, Adam β = (0, 0.999), the paper's λ): iteration k
    updates E+G when k % freq == 0, then D. Returns step(k)."""
    f = m.classifier_f.eval()
    for p in f.parameters():
        p.requires_grad_(False)
    opt_g, opt_d = optimizers(m)
    m.enc.train(), m.gen.train(), m.disc.train()
    ones = torch.ones(x.shape[0], 1, device=x.device)
    zeros = torch.zeros_like(ones)

    def step(k):
        bin_, desired = posterior(f, x)
        c0 = torch.zeros_like(bin_)
        opt_g.zero_grad()
        if k % freq == 0:
            x_cf = m.gen(m.enc(x), c0, x)
            adv = F.binary_cross_entropy_with_logits(m.disc(x_cf, c0), ones)
            klv = kl(torch.sigmoid(f(x_cf)), desired)
            fwd = (x - x_cf).abs().mean()
            rec = fwd + (x - m.gen(m.enc(x_cf), c0, x_cf)).abs().mean()
            tvv = tv(torch.abs((x + 1) / 2 - (x_cf + 1) / 2) * 255)
            (adv + 5 * klv + rec + fwd + 0.05 * tvv).backward()
            opt_g.step()
        else:
            with torch.no_grad():
                x_cf = m.gen(m.enc(x), c0, x)
        opt_d.zero_grad()
        d = (F.binary_cross_entropy_with_logits(m.disc(x, bin_), ones)
             + F.binary_cross_entropy_with_logits(m.disc(x_cf.detach(), c0), zeros)) / 2
        d.backward()
        opt_d.step()

    return step


def calibrate(f, xs):
    """Gives the classifier meaningful eval statistics (cumulative averages over calibration
    batches), centres its logits on the batches `xs` so both bins occur, and freezes it."""
    for mod in f.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = None
    with torch.no_grad():
        f.train()
        for k in range(4):
            f(batch(200 + k))
        f.eval()
        for mod in f.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.momentum = 0.1
        logits = torch.cat([f(x) for x in xs]).flatten()
        mid = logits.sort().values[len(logits) // 2 - 1: len(logits) // 2 + 1].mean()
        f.fc.bias -= mid
        logits = torch.cat([f(x) for x in xs]).flatten()
    margin = (logits.abs()).min().item()
    assert margin > 1e-3, f"a logit too close to the bin edge: {margin}"
    print("classifier logits", [round(v, 4) for v in logits.tolist()])
    for p in f.parameters():
        p.requires_grad_(False)


def main(out):
    m = Coin()
    f = m.classifier_f
    xs = [batch(100 + k) for k in range(3)]
    calibrate(f, xs)
    tensors = {f"init/{k}": v.clone() for k, v in m.state_dict().items()}
    for k, x in enumerate(xs):
        tensors[f"x/{k}"] = x
    opt_g, opt_d = optimizers(m)
    eg = list(m.enc.parameters()) + list(m.gen.parameters())
    names = {p: n for n, p in m.named_parameters()}
    m.enc.train(), m.gen.train(), m.disc.train()
    for step, x in enumerate(xs):
        pre = f"it{step}/"
        bin_, desired = posterior(f, x)
        c0 = torch.zeros_like(bin_)
        opt_g.zero_grad()
        x_cf = m.gen(m.enc(x), c0, x)
        if step % FREQ == 0:
            adv = F.binary_cross_entropy_with_logits(m.disc(x_cf, c0), torch.ones(BATCH, 1))
            q = torch.sigmoid(f(x_cf))
            klv = kl(q, desired)
            fwd = (x - x_cf).abs().mean()
            rec = fwd + (x - m.gen(m.enc(x_cf), c0, x_cf)).abs().mean()
            tvv = tv(torch.abs((x + 1) / 2 - (x_cf + 1) / 2) * 255)
            terms = dict(g_adv=LAMBDA["adv"] * adv, g_kl=LAMBDA["kl"] * klv, g_rec_loss=LAMBDA["rec"] * rec,
                         g_minc_loss=LAMBDA["minc"] * fwd, g_tv=LAMBDA["tv"] * tvv)
            total = sum(terms.values())
            terms["g_loss"] = total
            total.backward()
            for k, v in terms.items():
                tensors[pre + "loss/" + k] = v.detach().reshape(1)
            for prm in eg:
                tensors[pre + "grad/" + names[prm]] = prm.grad.clone()
            opt_g.step()
        record_d_step(m, opt_d, x, x_cf, (bin_, c0), tensors, pre, names)
        print(step, {k[len(pre) + 5:]: round(v.item(), 6) for k, v in tensors.items() if k.startswith(pre + "loss/")})
    save(tensors, out, made_by="scripts/coin_parity.py")


def record_d_step(m, opt_d, x, x_cf, conditions, tensors, pre, names):
    """The discriminator step on real `x` and the detached `x_cf` under (real, fake)
    `conditions`: its logged terms and D's gradients under `pre`, then every E+G and D tensor
    after it."""
    opt_d.zero_grad()
    real = m.disc(x, conditions[0])
    fake = m.disc(x_cf.detach(), conditions[1])
    d_real = F.binary_cross_entropy_with_logits(real, torch.ones(x.shape[0], 1))
    d_fake = F.binary_cross_entropy_with_logits(fake, torch.zeros(x.shape[0], 1))
    d = (d_real + d_fake) / 2
    d.backward()
    for k, v in dict(d_real_loss=d_real, d_fake_loss=d_fake, d_loss=d).items():
        tensors[pre + "loss/" + k] = v.detach().reshape(1)
    for prm in m.disc.parameters():
        tensors[pre + "grad/" + names[prm]] = prm.grad.clone()
    opt_d.step()
    for k, v in m.state_dict().items():
        if not k.startswith("classifier_f."):
            tensors[pre + "state/" + k] = v.clone()


def save(tensors, out, **metadata):
    """The fixture file, with the PyTorch version and `metadata` (made_by, …)."""
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, out, metadata={"torch": torch.__version__, **metadata})
    n = sum(v.numel() * v.element_size() for v in tensors.values())
    print(f"wrote {out}: {len(tensors)} tensors, {n / 1e6:.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/coin_step.safetensors")
