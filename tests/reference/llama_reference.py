"""Reference outputs of Kiln's LLaMA-style modules (src/Kiln.Nn: RotaryEmbedding, SwiGlu, GroupedQueryAttention,
LlamaBlock), computed by their PyTorch twins (kiln_nn.py, after Hugging Face's modeling_llama), written to
tests/Kiln.Tests/Reference/llama.safetensors as nn_reference.py does: parameters under the C# test model's field names
(tests/Kiln.Tests/Models/LlamaModules.cs), inputs.<name>, outputs.<name>. Random parameters (RMSNorm's ones would hide
a missing scale).
  /usr/bin/python3 tests/reference/llama_reference.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import GroupedQueryAttention, LlamaBlock, RotaryEmbedding, SwiGlu, state_dict_for_kiln  # noqa: E402
from safetensors_io import save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return module.eval()


def main():
    torch.manual_seed(7)
    cases = {
        "rope": (RotaryEmbedding(8), torch.randn(2, 9, 3, 8)),
        "rope_theta": (RotaryEmbedding(6, theta=500.0), torch.randn(1, 40, 2, 6) * 2),
        "swiglu": (randomize(SwiGlu(12, 32)), torch.randn(2, 5, 12)),
        "gqa": (randomize(GroupedQueryAttention(16, 4, 2)), torch.randn(2, 7, 16)),
        "mqa": (randomize(GroupedQueryAttention(16, 4, 1, causal=False)), torch.randn(2, 6, 16)),
        "llama_block": (randomize(LlamaBlock(16, 4, 2, 40)), torch.randn(2, 7, 16)),
    }
    out = {}
    with torch.no_grad():
        for name, (module, x) in cases.items():
            for key, value in state_dict_for_kiln(module).items():
                out[f"{name}.{key}"] = value
            out[f"inputs.{name}"] = x.float()
            out[f"outputs.{name}"] = module(x)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/llama.safetensors")
    print(f"wrote {len(out)} tensors")


if __name__ == "__main__":
    main()
