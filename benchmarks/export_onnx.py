"""Exports the example models, with the very weights Kiln loads, to ONNX for the ONNX Runtime comparison.

  dotnet run -c Release --project examples/Cifar -- --export-weights benchmarks/models/cifar-seed1.safetensors
  /usr/bin/python3 benchmarks/export_onnx.py     (Debian's python3-torch; no onnx package needed)

  dotnet run -c Release --project benchmarks/Kiln.Benchmarks -- export-weights   (the sized models of issue 17)

Writes benchmarks/models/mlp.onnx (dynamic batch), gpt.onnx (dynamic batch and sequence) and, when their weights were
exported first, cifar.onnx (dynamic batch; 8 MB) and the sized models wide-mlp.onnx, wide-chargpt.onnx and
gpt2-block.onnx (3–45 MB): those are not committed.
"""
import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from kiln_nn import CharGpt, CifarNet, TransformerBlock  # noqa: E402
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

    export_sized()


def mlp(widths, weights):
    """A ReLU MLP as Kiln's: w{i} stored [in, out], b{i}."""
    layers = []
    for i in range(len(widths) - 1):
        layers += [torch.nn.Linear(widths[i], widths[i + 1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    with torch.no_grad():
        for i, layer in enumerate(model[::2], start=1):
            layer.weight.copy_(weights[f"w{i}"].T)
            layer.bias.copy_(weights[f"b{i}"])
    return model


def export_sized():
    """Issue 17's workloads at real sizes, from the weights `-- export-weights` wrote (skipped when absent)."""
    models = os.path.join(ROOT, "benchmarks", "models")

    def weights(name):
        path = os.path.join(models, f"{name}-seed1.safetensors")
        return load(path) if os.path.exists(path) else None

    def export(model, example, name, input_name, output_name, dynamic):
        path = os.path.join(models, f"{name}.onnx")
        torch.onnx.export(model.eval(), example, path, input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: dynamic, output_name: dynamic}, opset_version=14)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    if (w := weights("wide-mlp")) is not None:
        export(mlp([784, 512, 512, 10], w), torch.zeros(1, 784), "wide-mlp", "images", "logits", {0: "batch"})
    if (w := weights("wide-chargpt")) is not None:
        gpt = CharGpt(83, 256, 384, 6, 6)
        gpt.load_state_dict(w)
        export(gpt, torch.zeros(1, 256, dtype=torch.long), "wide-chargpt", "ids", "logits", {0: "batch", 1: "seq"})
    if (w := weights("gpt2-block")) is not None:
        block = TransformerBlock(768, 12)
        block.load_state_dict({k.removeprefix("block."): v for k, v in w.items()})
        export(block, torch.zeros(1, 128, 768), "gpt2-block", "x", "y", {0: "batch", 1: "seq"})


if __name__ == "__main__":
    main()
