"""Reference outputs of Kiln's standard modules, computed by their PyTorch twins (kiln_nn.py), written to
tests/Kiln.Tests/Reference/nn.safetensors: each module's parameters under the field name the C# test model
(tests/Kiln.Tests/Models/NnModules.cs) gives it, its input as inputs.<name> and PyTorch's output as outputs.<name>.
Parameters are drawn at random (not PyTorch's init: LayerNorm's ones and zeros would hide a swapped scale and shift).
  /usr/bin/python3 tests/reference/nn_reference.py
"""
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import FeedForward, MultiHeadAttention, ResidualBlock, RmsNorm, TransformerBlock, state_dict_for_kiln  # noqa: E402
from safetensors_io import save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.5)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    return module.eval()


def main():
    torch.manual_seed(1)
    cases = {
        "linear": (randomize(nn.Linear(12, 7)), torch.randn(3, 5, 12)),
        "layer_norm": (randomize(nn.LayerNorm(12)), torch.randn(4, 12) * 3 + 1),
        "rms_norm": (randomize(RmsNorm(12)), torch.randn(4, 12)),
        "embedding": (randomize(nn.Embedding(20, 6)), torch.tensor([[3, 0, 19, 7, 7], [1, 2, 3, 4, 5]])),
        "feed_forward": (randomize(FeedForward(12, 48)), torch.randn(2, 5, 12)),
        "causal_attention": (randomize(MultiHeadAttention(12, 3, True)), torch.randn(2, 7, 12)),
        "full_attention": (randomize(MultiHeadAttention(12, 3, False)), torch.randn(2, 7, 12)),
        "block": (randomize(TransformerBlock(12, 3)), torch.randn(2, 7, 12)),
        "conv": (randomize(nn.Conv2d(4, 6, 3, stride=2, padding=1)), torch.randn(2, 4, 9, 8)),
        "depthwise": (randomize(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)), torch.randn(2, 4, 7, 7)),
        "batch_norm": (randomize(nn.BatchNorm2d(5)), torch.randn(2, 5, 4, 3)),
        "residual": (randomize(ResidualBlock(4, 4)), torch.randn(2, 4, 6, 6)),
        "residual_down": (randomize(ResidualBlock(4, 8, stride=2)), torch.randn(2, 4, 7, 7)),
    }
    out = {}
    with torch.no_grad():
        for name, (module, x) in cases.items():
            for key, value in state_dict_for_kiln(module).items():
                out[f"{name}.{key}"] = value
            out[f"inputs.{name}"] = x.float()
            out[f"outputs.{name}"] = module(x)
        x = torch.linspace(-6, 6, 97)
        out["inputs.gelu_erf"] = x
        out["outputs.gelu_erf"] = F.gelu(x)
        x = torch.randn(2, 3, 7, 7)
        out["inputs.max_pool"], out["outputs.max_pool"] = x, F.max_pool2d(x, 3, 2, 1)
        out["inputs.avg_pool"], out["outputs.avg_pool"] = x, F.avg_pool2d(x, 3, 2, 1)
        logits, targets = torch.randn(3, 4, 7), torch.randint(7, (3, 4))
        out["inputs.cross_entropy"], out["targets.cross_entropy"] = logits, targets.float()
        out["outputs.cross_entropy"] = F.cross_entropy(logits.flatten(0, 1), targets.flatten()).reshape(())
        x = torch.randn(3, 11)
        out["inputs.arg_max"], out["outputs.arg_max"] = x, x.argmax(-1).float()
        out["inputs.where"], out["outputs.where"] = x, torch.where(x > 0, x.exp(), torch.full_like(x, -1.0))
        out["inputs.concat"], out["outputs.concat"] = x, torch.cat([x, x[:, :4] * 2], dim=-1)
        out["inputs.pad"], out["outputs.pad"] = x, F.pad(x, (2, 1), value=-1.0)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/nn.safetensors")
    print(f"wrote {len(out)} tensors")


if __name__ == "__main__":
    main()
