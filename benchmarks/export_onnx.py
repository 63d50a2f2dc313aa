"""Exports the example models, with the very weights Kiln loads, to ONNX for the ONNX Runtime comparison.

  dotnet run -c Release --project examples/Cifar -- --export-weights benchmarks/models/cifar-seed1.safetensors
  /usr/bin/python3 benchmarks/export_onnx.py     (Debian's python3-torch; no onnx package needed)

Writes benchmarks/models/mlp.onnx (dynamic batch), gpt.onnx (dynamic batch and sequence) and, when the CIFAR weights
were exported first, cifar.onnx (dynamic batch; 8 MB, so not committed).
"""
import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from kiln_nn import CharGpt, CifarNet  # noqa: E402
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

    gpt = CharGpt(83, 64, 64, 4, 3).eval()
    gpt.load_state_dict(load(os.path.join(ROOT, "examples", "Gpt", "data", "gpt.safetensors")))
    path = os.path.join(ROOT, "benchmarks", "models", "gpt.onnx")
    torch.onnx.export(gpt, torch.zeros(1, 64, dtype=torch.long), path, input_names=["ids"], output_names=["logits"],
                      dynamic_axes={"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}, opset_version=14)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    weights = os.path.join(ROOT, "benchmarks", "models", "cifar-seed1.safetensors")
    if os.path.exists(weights):
        cifar = CifarNet().eval()
        missing, unexpected = cifar.load_state_dict(load(weights), strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        path = os.path.join(ROOT, "benchmarks", "models", "cifar.onnx")
        torch.onnx.export(cifar, torch.zeros(1, 3, 32, 32), path, input_names=["images"], output_names=["logits"],
                          dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=14)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
