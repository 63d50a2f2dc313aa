"""Per-op gradients from PyTorch autograd for Kiln's gradient-rule test models (tests/Kiln.Tests/Models/TrainingModels.cs),
written to tests/Kiln.Tests/Reference/grad_ops.safetensors, which GradientsVsPyTorchTests compares Kiln's compiled
gradients with:

  conv.<p>   ∂loss/∂p of GradConv: convolutions with padding, stride 2 with a left-over row, dilation 2, padding wider
             than a 1×1 filter; the exact GELU, tanh; max- and average-pooling with cropped edges
  bn.<p>     ∂loss/∂p of GradBatchNorm: convolution, batch norm in training mode (batch statistics), GELU, max-pool

Weights: the trained parameters in ordinal order of their names, element k of number j is
0.5·sin(1 + 0.37k + 0.11j), except a norm's weight 1 + 0.1·sin(…); running statistics 0 and 1. Input element k is
sin(0.7k + 0.3) (GradConv, [2, 2, 9, 9]) or sin(0.45k + 0.1) (GradBatchNorm, [3, 2, 5, 5]). The values are rounded to
float32 as Kiln's, then everything is computed in float64.
  /usr/bin/python3 tests/reference/grad_reference.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def formula(shapes, norm_weights=()):
    params = {}
    for j, name in enumerate(sorted(shapes)):
        k = torch.arange(math.prod(shapes[name]), dtype=torch.float64)
        wave = torch.sin(1 + 0.37 * k + 0.11 * j)
        value = 1 + 0.1 * wave if name in norm_weights else 0.5 * wave
        params[name] = value.to(torch.float32).to(torch.float64).reshape(shapes[name]).requires_grad_()
    return params


def inputs(shape, a, b):
    k = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.sin(a * k + b).to(torch.float32).to(torch.float64).reshape(shape)


def grad_conv(out):
    p = formula({"w1": (3, 2, 3, 3), "b1": (3,), "w2": (4, 3, 2, 2), "w3": (2, 4, 3, 3), "w4": (2, 2, 1, 1), "mix": (8, 3)})
    x = inputs((2, 2, 9, 9), 0.7, 0.3)
    a = F.gelu(F.conv2d(x, p["w1"], p["b1"], padding=1))
    c = F.conv2d(a, p["w2"], stride=2, padding=1)
    d = F.conv2d(torch.tanh(c), p["w3"], padding=3, dilation=2)
    e = F.conv2d(d, p["w4"], padding=1)
    m = F.max_pool2d(e, 2)
    v = F.avg_pool2d(c, 2)
    mixed = F.max_pool2d(m, 2).flatten(1) @ p["mix"]
    loss = (mixed * mixed).mean() + (v * v).mean()
    loss.backward()
    out["conv.loss"] = loss.detach().reshape(1).float()
    for name, t in p.items():
        out[f"conv.{name}"] = t.grad.float()


def grad_batch_norm(out):
    p = formula({"conv.weight": (3, 2, 3, 3), "norm.weight": (3,), "norm.bias": (3,), "head": (3, 4)}, norm_weights=("norm.weight",))
    x = inputs((3, 2, 5, 5), 0.45, 0.1)
    y = F.conv2d(x, p["conv.weight"], padding=1)
    y = F.batch_norm(y, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), p["norm.weight"], p["norm.bias"], training=True, eps=1e-5)
    y = F.max_pool2d(F.gelu(y), 5).flatten(1) @ p["head"]
    loss = (y * y).sum(1).mean()
    loss.backward()
    out["bn.loss"] = loss.detach().reshape(1).float()
    for name, t in p.items():
        out[f"bn.{name}"] = t.grad.float()


def main():
    out = {}
    grad_conv(out)
    grad_batch_norm(out)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/grad_ops.safetensors")
    print("wrote", len(out), "tensors")


if __name__ == "__main__":
    main()
