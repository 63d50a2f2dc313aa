"""Per-op gradients from PyTorch autograd for Kiln's gradient-rule test models (tests/Kiln.Tests/Models/TrainingModels.cs),
written to tests/Kiln.Tests/Reference/grad_ops.safetensors, which GradientsVsPyTorchTests compares Kiln's compiled
gradients with:

  conv.<p>   ∂loss/∂p of GradConv: convolutions with padding, stride 2 with a left-over row, dilation 2, padding wider
             than a 1×1 filter; the exact GELU, tanh; max- and average-pooling with cropped edges
  bn.<p>     ∂loss/∂p of GradBatchNorm: convolution, batch norm in training mode (batch statistics), GELU, max-pool
  ew.<p>     ∂loss/∂p of GradElementwise: every differentiable element-wise op, operands broadcast against each other
  views.<p>  ∂loss/∂p of GradViews: permute, reshape, transpose, slice, pad, concat, broadcast, batched matmul, max/sum/mean
  rows.<p>   ∂loss/∂p of GradRows: LayerNorm and RMSNorm with weights, softmax, log-softmax over an inner axis, matmuls
  gpt.<p>    ∂loss/∂p of GradGpt: embeddings, a causal transformer block, full attention, LayerNorm, cross-entropy
  edges.<p>  ∂loss/∂p of GradEdges: a parameter read twice, one never read, an integer (argmax) path carrying nothing
  windows.<p> ∂loss/∂p of GradWindows: grouped and depthwise convolutions, overlapping padded max- and average-pooling
  tied.<p>   ∂loss/∂p of GradTiedEmbedding: a table both looked up and used as the output projection, a rank-1 table
  causal.<p> ∂loss/∂p of GradCausalCross: causal attention with 2 queries over 5 keys (the last query sees every key)

Weights: the trained parameters in ordinal order of their names, element k of number j is
0.5·sin(1 + 0.37k + 0.11j), except a norm's weight 1 + 0.1·sin(…); running statistics 0 and 1. Float input element k
is sin(a·k + b) with (a, b) per model (the calls below); the token ids are (7k + 3) mod 11 and the targets
(5k + 1) mod 11 (the GPT's [2, 6], the tied embedding's [2, 4]). The values are rounded to float32 as Kiln's, then everything is computed in float64.
  /usr/bin/python3 tests/reference/grad_reference.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import save  # noqa: E402
import kiln_nn  # noqa: E402

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


def record(out, prefix, loss, params):
    loss.backward()
    out[f"{prefix}.loss"] = loss.detach().reshape(1).float()
    for name, t in params.items():
        out[f"{prefix}.{name}"] = t.grad.float()


def grad_elementwise(out):
    p = formula({"a": (3, 4), "b": (4,)})
    a, b = p["a"], p["b"]
    x = inputs((2, 3, 4), 0.53, 0.2)
    y = torch.tanh(x * a) + torch.sigmoid(a + b) - torch.exp(x - b) / (b * b + 1) + torch.sqrt(a.abs() + 1) + torch.rsqrt(b * b + 1)
    y = y + F.silu(x + a) + F.gelu(x - b, approximate="tanh") + torch.maximum(x, a) + torch.minimum(a, b) + torch.pow(x.abs() + 0.5, b)
    y = y + torch.log(x * x + b * b + 1) + torch.sin(a * x) + torch.cos(b) + F.relu(x + a) + torch.where(x > 0, a * 2, b)
    record(out, "ew", (y * y).sum(-1).mean(0).sum(0), p)


def grad_views(out):
    p = formula({"w": (2, 3, 4), "v": (6,)})
    w, v = p["w"], p["v"]
    x = inputs((2, 4, 3), 0.61, 0.4)
    u = w.permute(2, 0, 1).reshape(4, 6) * v
    cat = torch.cat([u[:, 1:4], F.pad(u[:, 0:2], (1, 0), value=0.5)], 1)
    h = x @ w.reshape(6, 4).t().reshape(3, 8)
    m = h.amax(-1) + h.mean(1).sum(-1, keepdim=True)
    loss = (m * m).sum(-1).mean(0) + (cat * cat).sum(-1).sum(0) + v.expand(3, 6).mean(0).sum(0)
    record(out, "views", loss, p)


def grad_rows(out):
    p = formula({"norm.weight": (5,), "norm.bias": (5,), "rms.weight": (5,), "w": (5, 5)}, norm_weights=("norm.weight", "rms.weight"))
    x = inputs((2, 3, 5), 0.83, 0.5)
    h = F.layer_norm(x, (5,), p["norm.weight"], p["norm.bias"], eps=1e-5)
    z = x * 2
    r = z * torch.rsqrt(z.pow(2).mean(-1, keepdim=True) + 1e-6) * p["rms.weight"]
    s = torch.softmax(h @ p["w"], -1) + torch.log_softmax(r, 1)
    attention = s @ h.transpose(-1, -2)
    record(out, "rows", (attention * attention).sum(-1).sum(-1).mean(0), p)


def grad_gpt(out):
    torch.manual_seed(0)
    block = kiln_nn.TransformerBlock(8, 2).double()
    cross = kiln_nn.MultiHeadAttention(8, 2, causal=False).double()
    final = torch.nn.LayerNorm(8).double()
    modules = {"block": block, "cross": cross, "final": final}
    shapes = {"tokens.weight": (11, 8), "positions.weight": (6, 8), "head": (8, 11)}
    for prefix, module in modules.items():
        shapes.update({f"{prefix}.{name}": tuple(t.shape) for name, t in module.named_parameters()})
    norms = tuple(n for n in shapes if n.endswith(("ln1.weight", "ln2.weight")) or n == "final.weight")
    p = formula(shapes, norm_weights=norms)
    for prefix, module in modules.items():
        for name, t in module.named_parameters():
            t.data.copy_(p[f"{prefix}.{name}"].detach())
            p[f"{prefix}.{name}"] = t
    k = torch.arange(12)
    ids, targets = ((7 * k + 3) % 11).reshape(2, 6), ((5 * k + 1) % 11).reshape(2, 6)
    h = p["tokens.weight"][ids] + p["positions.weight"][torch.arange(6)]
    h = block(h)
    h = h + cross(h)
    logits = final(h) @ p["head"]
    record(out, "gpt", F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)), p)


def grad_edges(out):
    p = formula({"used": (4,), "unused": (3,)})
    used = p["used"]
    x = inputs((4,), 0.9, 0.7)
    picked = torch.argmax((used * x).detach()).to(torch.float64)
    loss = (used * used + x * used + picked * used).sum(0)
    loss.backward()
    out["edges.loss"] = loss.detach().reshape(1).float()
    out["edges.used"] = used.grad.float()
    out["edges.unused"] = torch.zeros(3)


def grad_windows(out):
    p = formula({"grouped": (4, 1, 3, 3), "mixed": (4, 2, 3, 3), "depthwise": (8, 1, 3, 3), "depthwise_bias": (8,)})
    x = inputs((2, 2, 7, 7), 0.57, 0.15)
    a = torch.tanh(F.conv2d(x, p["grouped"], padding=1, groups=2))
    a = torch.tanh(F.conv2d(a, p["mixed"], padding=1, groups=2))
    d = F.conv2d(a, p["depthwise"], p["depthwise_bias"], stride=2, groups=4)
    m = F.max_pool2d(a, 3, stride=2, padding=1)
    v = F.avg_pool2d(m, 3, stride=1, padding=1)  # count_include_pad=True, as Kiln's
    record(out, "windows", (d * d).mean() + (v * v * v).mean(), p)


def grad_tied(out):
    p = formula({"table": (12, 5), "bias": (12,)})
    k = torch.arange(8)
    ids, targets = ((7 * k + 3) % 11).reshape(2, 4), ((5 * k + 1) % 11).reshape(2, 4)
    x = torch.tanh(p["table"][ids])
    logits = x @ p["table"].t()
    shift = p["bias"][targets]
    record(out, "tied", F.cross_entropy(logits.reshape(-1, 12), targets.reshape(-1)) + (shift * shift).mean(), p)


def grad_causal_cross(out):
    p = formula({"wq": (6, 8), "wk": (6, 8), "wv": (6, 8)})
    x, memory = inputs((2, 2, 6), 0.31, 0.2), inputs((2, 5, 6), 0.47, 0.6)
    heads = lambda t: t.reshape(2, -1, 2, 4).permute(0, 2, 1, 3)  # noqa: E731  [batch, heads, seq, 4]
    q, k, v = heads(x @ p["wq"]), heads(memory @ p["wk"]), heads(memory @ p["wv"])
    scores = q @ k.transpose(-1, -2) * 0.5
    future = torch.arange(5).reshape(1, 5) > torch.arange(2).reshape(2, 1) + 3  # bottom-right aligned, as Kiln's
    o = torch.softmax(scores.masked_fill(future, float("-inf")), -1) @ v
    record(out, "causal", (o * o).mean(), p)


def main():
    out = {}
    grad_conv(out)
    grad_batch_norm(out)
    grad_elementwise(out)
    grad_views(out)
    grad_rows(out)
    grad_gpt(out)
    grad_edges(out)
    grad_windows(out)
    grad_tied(out)
    grad_causal_cross(out)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/grad_ops.safetensors")
    print("wrote", len(out), "tensors")


if __name__ == "__main__":
    main()
