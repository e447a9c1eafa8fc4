#!/usr/bin/env python3
"""The Singla et al. counterfactual-explanation step in PyTorch, written from the authors'
`CounterfactualCGAN` (src/models/cgan/counterfactual_cgan.py at their commit 1af55fd;
docs/method.md, "The Singla et al. baseline") on coin_parity.py's networks: widths x1/32,
classifier base 8, 64x64 images, batch 4, the paper's row (L1 reconstruction, `tanh(r)` head,
lambda_adv = lambda_kl = lambda_rec = 1, no minc, no TV). Three iterations with gen_update_freq 2
-- G+D, D-only, G+D -- saved as tests/fixtures/singla_step.safetensors:

  init/<key>          every tensor of the state dict before training (classifier included)
  x/<k>, masks/<k>    the three batches and their background/kidney masks (N x 2 x H x W)
  it<k>/loss/<name>   the authors' logged terms (g_adv, g_kl, g_rec_loss, g_loss, d_*)
  it<k>/grad/<param>  the gradients each optimizer saw (E+G on G steps, D always)
  it<k>/state/<key>   every E+G and D tensor after the iteration
  carl/loss/<name>, carl/grad/<param>
                      the first iteration's generator step from the same initial state with
                      CARL reconstruction (the class default) on masks/0

Per iteration (the class's `forward`, training): p = sigmoid(f(x)); bins by `posterior2bin`
with two bins (p >= 0.5 -> 1); the desired posterior 1 - p and its bin c. z = E(x),
x_cf = G(z, c). On G steps: BCE(D(x_cf, c), 1) + KL(1 - p || f(x_cf)) (clamped 1e-5) +
R(x, G(z, bin p)) + R(x, G(E(x_cf), bin p)); Adam on E+G. Then D: (BCE(D(x, bin p), 1) +
BCE(D(x_cf.detach(), c), 0)) / 2; Adam on D.

Run with the pinned PyTorch (scripts/setup-pytorch.sh): .venv-pytorch/bin/python
scripts/singla_parity.py. tests/singla_step.rs replays the same steps on our engine.
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coin_parity as cp  # noqa: E402  (the networks, batches, KL, optimizers, calibration)

torch.manual_seed(4321)
FREQ = 2


def posterior(f, x):
    """p's bin, the desired posterior 1 - p and its bin (the class's `posterior_prob`)."""
    with torch.no_grad():
        p = torch.sigmoid(f(x))
        desired = 1.0 - p
        return (p >= 0.5).long().flatten(), desired, (desired >= 0.5).long().flatten()


def masks_for(x):
    """Two region masks a CT slice would have: 'kidney' where the image is bright, background
    where it is dark, some pixels in neither."""
    return torch.cat([(x < -0.3).float(), (x > 0.1).float()], 1).contiguous()


def l1(x, y, masks):
    return (x - y).abs().mean()


def carl(x, y, masks):
    """Per region: per-sample masked mean |x - y| (1e-8 in the denominator), batch mean; summed."""
    b = x.shape[0]
    d = (x - y).abs().reshape(b, -1)
    total = 0
    for i in range(masks.shape[1]):
        m = masks[:, i].reshape(b, -1)
        total = total + ((d * m).sum(1, keepdim=True) / (m.sum(1, keepdim=True) + 1e-8)).mean(0)
    return total.reshape(())


def generator_terms(m, f, x, masks, rec_fn):
    """The G step's terms (unweighted: the paper's row has every lambda 1), x_cf."""
    bin_, desired, flip = posterior(f, x)
    z = m.enc(x)
    x_cf = m.gen(z, flip, x)
    adv = F.binary_cross_entropy_with_logits(m.disc(x_cf, flip), torch.ones(x.shape[0], 1))
    klv = cp.kl(torch.sigmoid(f(x_cf)), desired)
    rec = rec_fn(x, m.gen(z, bin_, x), masks) + rec_fn(x, m.gen(m.enc(x_cf), bin_, x_cf), masks)
    return dict(g_adv=adv, g_kl=klv, g_rec_loss=rec, g_loss=adv + klv + rec), x_cf


def main(out):
    m = cp.Coin(ptb=False)
    f = m.classifier_f
    xs = [cp.batch(300 + k) for k in range(3)]
    cp.calibrate(f, xs)
    init = {k: v.clone() for k, v in m.state_dict().items()}
    tensors = {f"init/{k}": v for k, v in init.items()}
    for k, x in enumerate(xs):
        tensors[f"x/{k}"] = x
        tensors[f"masks/{k}"] = masks_for(x)
    names = {p: n for n, p in m.named_parameters()}
    eg = list(m.enc.parameters()) + list(m.gen.parameters())

    # CARL: the first generator step only, from the initial state.
    m.enc.train(), m.gen.train(), m.disc.train()
    terms, _ = generator_terms(m, f, xs[0], tensors["masks/0"], carl)
    terms["g_loss"].backward()
    for k, v in terms.items():
        tensors["carl/loss/" + k] = v.detach().reshape(1)
    for prm in eg:
        tensors["carl/grad/" + names[prm]] = prm.grad.clone()
    print("carl", {k: round(v.item(), 6) for k, v in terms.items()})
    m.load_state_dict(init)
    for prm in m.parameters():
        prm.grad = None

    opt_g, opt_d = cp.optimizers(m)
    for step, x in enumerate(xs):
        pre = f"it{step}/"
        bin_, _, flip = posterior(f, x)
        opt_g.zero_grad()
        if step % FREQ == 0:
            terms, x_cf = generator_terms(m, f, x, tensors[f"masks/{step}"], l1)
            terms["g_loss"].backward()
            for k, v in terms.items():
                tensors[pre + "loss/" + k] = v.detach().reshape(1)
            for prm in eg:
                tensors[pre + "grad/" + names[prm]] = prm.grad.clone()
            opt_g.step()
        else:
            x_cf = m.gen(m.enc(x), flip, x)
        cp.record_d_step(m, opt_d, x, x_cf, (bin_, flip), tensors, pre, names)
        print(step, "bins", bin_.tolist(), "conditions", flip.tolist(),
              {k[len(pre) + 5:]: round(v.item(), 6) for k, v in tensors.items() if k.startswith(pre + "loss/")})
    cp.save(tensors, out, made_by="scripts/singla_parity.py",
            authors_class="CounterfactualCGAN at commit 1af55fd")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/singla_step.safetensors")
