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


class ResidualBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.project = stride != 1 or in_channels != out_channels
        if self.project:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
            self.shortcut_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        identity = self.shortcut_bn(self.shortcut(x)) if self.project else x
        return F.relu(y + identity)


class ConvGroup(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.gelu(self.norm1(x))
        return F.gelu(self.norm2(self.conv2(x)))


class CifarNet(nn.Module):
    """examples/Cifar/CifarNet.cs (airbench's shape) in PyTorch."""

    def __init__(self):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2)
        self.layer1 = ConvGroup(24, 64)
        self.layer2 = ConvGroup(64, 256)
        self.layer3 = ConvGroup(256, 256)
        self.head = nn.Linear(256, 10, bias=False)

    def forward(self, x):
        x = F.gelu(self.whiten(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.head(F.max_pool2d(x, 3).flatten(1))


def state_dict_for_kiln(module):
    """The state dict without BatchNorm's step counter (an int64 Kiln has no use for at inference)."""
    return {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}


# LLaMA-style modules, after Hugging Face's modeling_llama (rotate_half, repeat_kv), written out here so that the
# reference needs nothing beyond PyTorch.

def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """RoPE on [..., seq, heads, head_size] at positions 0..seq-1."""

    def __init__(self, head_size, theta=10000.0):
        super().__init__()
        self.head_size, self.theta = head_size, theta

    def forward(self, x):
        seq = x.shape[-3]
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.head_size, 2, dtype=torch.float64) / self.head_size))
        angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        cos, sin = emb.cos().float()[:, None, :], emb.sin().float()[:, None, :]
        return x * cos + rotate_half(x) * sin


class SwiGlu(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(width, hidden, bias=False)
        self.up_proj = nn.Linear(width, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, width, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class GroupedQueryAttention(nn.Module):
    def __init__(self, width, heads, kv_heads, theta=10000.0, causal=True):
        super().__init__()
        self.heads, self.kv_heads, self.head_size, self.causal = heads, kv_heads, width // heads, causal
        self.q_proj = nn.Linear(width, width, bias=False)
        self.k_proj = nn.Linear(width, kv_heads * self.head_size, bias=False)
        self.v_proj = nn.Linear(width, kv_heads * self.head_size, bias=False)
        self.o_proj = nn.Linear(width, width, bias=False)
        self.rotary = RotaryEmbedding(self.head_size, theta)

    def forward(self, x):
        b, t, c = x.shape
        q = self.rotary(self.q_proj(x).view(b, t, self.heads, self.head_size)).transpose(1, 2)
        k = self.rotary(self.k_proj(x).view(b, t, self.kv_heads, self.head_size)).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_size).transpose(1, 2)
        groups = self.heads // self.kv_heads  # repeat_kv: kv head j serves query heads j*groups .. (j+1)*groups-1
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)
        if self.causal:
            scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
        y = scores.softmax(-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, c))


class LlamaBlock(nn.Module):
    def __init__(self, width, heads, kv_heads, hidden, theta=10000.0, eps=1e-6):
        super().__init__()
        self.input_layernorm = RmsNorm(width, eps)
        self.self_attn = GroupedQueryAttention(width, heads, kv_heads, theta)
        self.post_attention_layernorm = RmsNorm(width, eps)
        self.mlp = SwiGlu(width, hidden)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    """src/Kiln.Nn/LlamaModel.cs in PyTorch (Hugging Face's LlamaModel: embed_tokens, layers, norm; no cache here)."""

    def __init__(self, vocab, width, heads, kv_heads, hidden, layers):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, width)
        self.layers = nn.ModuleList(LlamaBlock(width, heads, kv_heads, hidden) for _ in range(layers))
        self.norm = RmsNorm(width)

    def forward(self, tokens):
        h = self.embed_tokens(tokens)
        for layer in self.layers:
            h = layer(h)
        return self.norm(h)


class TinyLlama(nn.Module):
    """examples/Llama/TinyLlama.cs in PyTorch: Hugging Face's LlamaForCausalLM layout (model, lm_head) over characters."""

    def __init__(self, vocab, width, heads, kv_heads, hidden, layers):
        super().__init__()
        self.model = LlamaModel(vocab, width, heads, kv_heads, hidden, layers)
        self.lm_head = nn.Linear(width, vocab, bias=False)

    def forward(self, tokens):
        return self.lm_head(self.model(tokens))
