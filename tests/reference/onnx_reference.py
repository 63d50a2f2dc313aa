"""ONNX files exported by PyTorch, and PyTorch's outputs on fixed inputs, for Kiln's [OnnxModel] import tests.

  /usr/bin/python3 tests/reference/onnx_reference.py     (Debian's python3-torch 1.13)

Writes tests/Kiln.Tests/Onnx/Models/*.onnx and tests/Kiln.Tests/Onnx/Models/onnx_outputs.safetensors:
  mlp.onnx      the MLP example (examples/Mlp, its shipped weights), opset 13, dynamic batch
  chargpt.onnx  the char-GPT example (examples/Gpt, its shipped weights), opset 14, dynamic batch and sequence
  convnet.onnx  a small CIFAR-style conv net (conv, batch norm, max/avg pooling, a residual add, flatten, linear),
                seeded weights, opset 13, dynamic batch
For each, the input and PyTorch's output are stored as '<name>.input' and '<name>.output'.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import CharGpt  # noqa: E402
from safetensors_io import load, save  # noqa: E402

OUT = os.path.join(ROOT, "tests", "Kiln.Tests", "Onnx", "Models")


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(y + self.conv2(y))
        y = F.max_pool2d(y, 2)
        y = F.relu(self.bn3(self.conv3(y)))
        y = F.avg_pool2d(y, 2)
        return F.log_softmax(self.fc(torch.flatten(y, 1)), dim=-1)


def export(model, example, name, input_name, dynamic, opset):
    path = os.path.join(OUT, f"{name}.onnx")
    axes = {input_name: dynamic, "output": {0: "batch"} if 1 not in dynamic else {0: "batch", 1: "seq"}}
    torch.onnx.export(model, example, path, input_names=[input_name], output_names=["output"], dynamic_axes=axes,
                      opset_version=opset, do_constant_folding=True)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    outputs = {}

    w = load(os.path.join(ROOT, "examples", "Mlp", "data", "mlp.safetensors"))
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    with torch.no_grad():
        for layer, i in ((mlp[0], 1), (mlp[2], 2), (mlp[4], 3)):
            layer.weight.copy_(w[f"w{i}"].T)  # Kiln stores [in, out]; torch Linear stores [out, in]
            layer.bias.copy_(w[f"b{i}"])
    x = torch.rand(3, 784)
    export(mlp, x, "mlp", "images", {0: "batch"}, 13)
    outputs["mlp.input"], outputs["mlp.output"] = x, mlp(x).detach()

    gpt = CharGpt(83, 64, 64, 4, 3).eval()
    gpt.load_state_dict(load(os.path.join(ROOT, "examples", "Gpt", "data", "gpt.safetensors")))
    ids = torch.randint(0, 83, (2, 11))
    export(gpt, ids, "chargpt", "ids", {0: "batch", 1: "seq"}, 14)
    outputs["chargpt.input"], outputs["chargpt.output"] = ids.float(), gpt(ids).detach()

    conv = ConvNet()
    with torch.no_grad():  # non-trivial running statistics, so batch norm's inference form is exercised
        for bn in (conv.bn1, conv.bn3):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    conv.eval()
    images = torch.randn(2, 3, 16, 16)
    export(conv, images, "convnet", "images", {0: "batch"}, 13)
    outputs["convnet.input"], outputs["convnet.output"] = images, conv(images).detach()

    path = os.path.join(OUT, "onnx_outputs.safetensors")
    save({k: v.contiguous() for k, v in outputs.items()}, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
