"""Trains Kiln's example MLP (784-256-256-10) and character GPT with PyTorch from formula-defined initializations and
writes tests/Kiln.Tests/Reference/train_mlp.safetensors and train_gpt.safetensors, which Kiln's training tests match
step for step.

train_mlp.safetensors:

  sgd.losses      [200]  SGD (lr 0.01, momentum 0.9, weight decay 5e-4), 200 steps (a stable rate: at 0.05 the run
                         is chaotic, and float32 rounding alone sends two runs apart after ~80 steps)
  adamw.losses    [200]  AdamW (lr 2e-3, wd 0.01) with gradients clipped to global norm 1 and a linear-warmup
                         (20 steps) + cosine (to step 200) schedule, 200 steps
  adamw.step1.<p>.index / .value   512 sampled elements of parameter p after the first AdamW step
  adamw.step1.loss                 the loss of that first step

Batches: the first 64 images of the bundled Fashion-MNIST test subset (examples/Mlp/data), four batches of 16 in
order, cycled. The initial weights need no file: element k of parameter number j is s·sin(1 + 0.37·k + 0.11·j), s =
1/sqrt(rows) for a weight matrix and 0.01 for a bias, computed in double and rounded to float32 (the C# test builds the
same).

train_gpt.safetensors (examples/Gpt's CharGpt, tests/reference/kiln_nn.py's twin):
  adamw.losses    [200]  AdamW (lr 2e-3, wd 0.01), gradients clipped to norm 1, warmup (20 steps) + cosine, 200 steps
  adamw.step1.<p>.index / .value, adamw.step1.loss   as for the MLP
Batches: four batches of 4 windows of 64 characters from the bundled excerpt (examples/Gpt/data): window i of batch b
starts at character 64·(4b + i), its targets one character later; cycled. Initialization: the parameters in ordinal
order of their names, element k of number j is 1 + 0.1·sin(1 + 0.37k + 0.11j) for a norm's weight, 0.01·sin(…) for
any other vector (biases), (1/sqrt(last dimension))·sin(…) for a matrix.

train_cifar.safetensors (examples/Cifar's CifarNet, batch norms in training mode):
  adamw.losses    [CIFAR_STEPS]  AdamW (lr 2e-3, wd 0.05), CIFAR_STEPS steps on two batches of 4 formula images, alternating
  adamw.step1.<p>.index / .value, adamw.step1.loss   as for the MLP (running statistics included: they are assigned,
                                                    not trained)
Images: element k of image i of batch b is sin(0.013k + 1.7i + 0.3b), label (i + 3b) mod 10. Initialization:
parameters in ordinal order of their names, wave = sin(1 + 0.37k + 0.11j): 1 + 0.1·wave for a norm's weight, 0 and 1
for running mean and variance, 0.01·wave for other vectors, wave/sqrt(fan-in) for weights (fan-in: all but dim 0).

Run with Debian's Python (python3-torch):  /usr/bin/python3 tests/reference/train_reference.py
"""
import gzip
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import CharGpt, CifarNet  # noqa: E402
from safetensors_io import save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHAPES = [("w1", (784, 256)), ("b1", (256,)), ("w2", (256, 256)), ("b2", (256,)), ("w3", (256, 10)), ("b3", (10,))]
STEPS, BATCH, BATCHES, SAMPLES = 200, 16, 4, 512


def mlp_formula_init():
    params = {}
    for j, (name, shape) in enumerate(SHAPES):
        count = math.prod(shape)
        scale = 1 / math.sqrt(shape[0]) if len(shape) == 2 else 0.01
        k = torch.arange(count, dtype=torch.float64)
        params[name] = (scale * torch.sin(1 + 0.37 * k + 0.11 * j)).to(torch.float32).reshape(shape).requires_grad_()
    return params


def data():
    with gzip.open(f"{ROOT}/examples/Mlp/data/t10k-subset-images.idx.gz", "rb") as f:
        raw = f.read()
    images = torch.frombuffer(bytearray(raw[16:16 + 64 * 784]), dtype=torch.uint8).reshape(64, 784).float() / 255.0
    with gzip.open(f"{ROOT}/examples/Mlp/data/t10k-subset-labels.idx.gz", "rb") as f:
        raw = f.read()
    labels = torch.frombuffer(bytearray(raw[8:8 + 64]), dtype=torch.uint8).long()
    return images, labels


def loss_of(p, x, y):
    h = torch.relu(x @ p["w1"] + p["b1"])
    h = torch.relu(h @ p["w2"] + p["b2"])
    return F.cross_entropy(h @ p["w3"] + p["b3"], y)


def warmup_cosine(step, warmup=20, total=STEPS):  # step counts from 1, as Kiln's schedules
    if step <= warmup:
        return step / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / (total - warmup))))


def record_first_step(out, loss, tensors):
    """The first step's loss and SAMPLES elements of each tensor (drawn by one generator, in the order given)."""
    out["adamw.step1.loss"] = torch.tensor([loss.item()])
    g = torch.Generator().manual_seed(1)
    for name, tensor in tensors:
        flat = tensor.detach().reshape(-1)
        index = torch.randperm(flat.numel(), generator=g)[:SAMPLES]
        out[f"adamw.step1.{name}.index"] = index.float()
        out[f"adamw.step1.{name}.value"] = flat[index].clone()


def formula_init(model, fan, is_norm_weight):
    """Parameters in ordinal order of their names; element k of number j from wave = sin(1 + 0.37k + 0.11j): a matrix
    wave/sqrt(fan(p)), a norm's weight 1 + 0.1·wave, any other vector 0.01·wave (buffers keep their defaults)."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for j, name in enumerate(sorted(params)):
            p = params[name]
            k = torch.arange(p.numel(), dtype=torch.float64)
            wave = torch.sin(1 + 0.37 * k + 0.11 * j)
            if p.dim() >= 2:
                value = wave / math.sqrt(fan(p))
            elif is_norm_weight(name):
                value = 1 + 0.1 * wave
            else:
                value = 0.01 * wave
            p.copy_(value.to(torch.float32).reshape(p.shape))


def train(kind, images, labels, out):
    p = mlp_formula_init()
    params = [p[n] for n, _ in SHAPES]
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
        sched = None
    else:
        opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: warmup_cosine(i + 1))
    losses = []
    for step in range(STEPS):
        b = step % BATCHES
        loss = loss_of(p, images[b * BATCH:(b + 1) * BATCH], labels[b * BATCH:(b + 1) * BATCH])
        opt.zero_grad()
        loss.backward()
        if kind == "adamw":
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if sched:
            sched.step()
        losses.append(loss.item())
        if kind == "adamw" and step == 0:
            record_first_step(out, loss, [(name, p[name]) for name, _ in SHAPES])
    out[f"{kind}.losses"] = torch.tensor(losses)
    print(f"{kind}: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


GPT_VOCAB = "\n !$&()*,-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz\u2014\u2018\u2019\u201c\u201d"
GPT_BATCH, GPT_SEQ = 4, 64


def gpt_formula_init(model):
    formula_init(model, lambda p: p.shape[-1], lambda name: name.endswith(".weight"))


def gpt_batches():
    with open(f"{ROOT}/examples/Gpt/data/moby-dick-excerpt.txt", encoding="utf-8") as f:
        text = f.read()
    index = {c: i for i, c in enumerate(GPT_VOCAB)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    batches = []
    for b in range(BATCHES):
        starts = [GPT_SEQ * (GPT_BATCH * b + i) for i in range(GPT_BATCH)]
        batches.append((torch.stack([data[s:s + GPT_SEQ] for s in starts]), torch.stack([data[s + 1:s + GPT_SEQ + 1] for s in starts])))
    return batches


def train_gpt(out):
    model = CharGpt(len(GPT_VOCAB), 64, 64, 4, 3)
    gpt_formula_init(model)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: warmup_cosine(i + 1))
    batches = gpt_batches()
    losses = []
    for step in range(STEPS):
        x, y = batches[step % BATCHES]
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step == 0:
            record_first_step(out, loss, sorted(model.named_parameters()))
    out["adamw.losses"] = torch.tensor(losses)
    print(f"gpt adamw: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


CIFAR_BATCH, CIFAR_STEPS = 4, 30


def cifar_formula_init(model):
    formula_init(model, lambda p: p[0].numel(), lambda name: ".norm" in name and name.endswith(".weight"))


def cifar_batch(b):
    k = torch.arange(3 * 32 * 32, dtype=torch.float64)
    images = torch.stack([torch.sin(0.013 * k + 1.7 * i + 0.3 * b) for i in range(CIFAR_BATCH)]).to(torch.float32).reshape(CIFAR_BATCH, 3, 32, 32)
    labels = torch.tensor([(i + 3 * b) % 10 for i in range(CIFAR_BATCH)])
    return images, labels


def train_cifar(out):
    model = CifarNet().train()
    cifar_formula_init(model)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.05)
    batches = [cifar_batch(0), cifar_batch(1)]
    losses = []
    for step in range(CIFAR_STEPS):
        x, y = batches[step % 2]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step == 0:
            record_first_step(out, loss, sorted((k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")))
    out["adamw.losses"] = torch.tensor(losses)
    print(f"cifar adamw: loss {losses[0]:.4f} -> {losses[-1]:.4f}")


def main():
    torch.set_num_threads(1)
    images, labels = data()
    out = {}
    train("sgd", images, labels, out)
    train("adamw", images, labels, out)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/train_mlp.safetensors")
    out = {}
    train_gpt(out)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/train_gpt.safetensors")
    out = {}
    train_cifar(out)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/train_cifar.safetensors")


if __name__ == "__main__":
    main()
