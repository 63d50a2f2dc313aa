"""PyTorch twins of Kiln's standard modules (src/Kiln.Nn) and example models, with the same parameter names,
so a state dict saved from here loads into the Kiln model unchanged. Independent code: written against
PyTorch's own ops (F.layer_norm, softmax over a materialized score matrix), not against Kiln's kernels."""
import math

import torch
import torch.nn.functional as F
from torch import nn


class RmsNorm(nn.Module):
    def __init__(self, features, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class FeedForward(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc = nn.Linear(width, hidden)
        self.proj = nn.Linear(hidden, width)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class MultiHeadAttention(nn.Module):
    def __init__(self, width, heads, causal):
        super().__init__()
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        *lead, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=-1)
        shape = (*lead, t, self.heads, c // self.heads)
        q, k, v = (z.reshape(shape).transpose(-3, -2) for z in (q, k, v))  # [..., heads, t, d]
        scores = q @ k.transpose(-2, -1) / math.sqrt(c // self.heads)
        if self.causal:
            mask = torch.ones(t, t, dtype=torch.bool).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
        y = scores.softmax(-1) @ v
        return self.proj(y.transpose(-3, -2).reshape(*lead, t, c))


class TransformerBlock(nn.Module):
    def __init__(self, width, heads, causal=True):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = MultiHeadAttention(width, heads, causal)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = FeedForward(width, 4 * width)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharGpt(nn.Module):
    """examples/Gpt/CharGpt.cs in PyTorch."""

    def __init__(self, vocab, context, width, heads, layers):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Parameter(torch.randn(context, width) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    def forward(self, tokens):
        h = self.tokens(tokens) + self.positions[: tokens.shape[-1]]
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))
