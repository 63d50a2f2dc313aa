"""Exports the example MLP, with the very weights Kiln loads, to ONNX for the ONNX Runtime comparison.

  /usr/bin/python3 benchmarks/export_onnx.py     (Debian's python3-torch; no onnx package needed)

Writes benchmarks/models/mlp.onnx with a dynamic batch dimension.
"""
import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from safetensors_io import load  # noqa: E402


def main():
    w = load(os.path.join(ROOT, "examples", "Mlp", "data", "mlp.safetensors"))
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    with torch.no_grad():
        for layer, i in ((model[0], 1), (model[2], 2), (model[4], 3)):
            layer.weight.copy_(w[f"w{i}"].T)  # Kiln stores [in, out]; torch Linear stores [out, in]
            layer.bias.copy_(w[f"b{i}"])
    os.makedirs(os.path.join(ROOT, "benchmarks", "models"), exist_ok=True)
    path = os.path.join(ROOT, "benchmarks", "models", "mlp.onnx")
    torch.onnx.export(model, torch.zeros(1, 784), path, input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
