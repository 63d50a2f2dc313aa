"""PyTorch's logits for examples/Cifar's network on Kiln's seeded synthetic weights (the weights are an input here;
the outputs are PyTorch's own). Writes tests/Kiln.Tests/Reference/cifar.safetensors (images and logits).
  dotnet run -c Release --project examples/Cifar -- --export-weights /tmp/cifar-seed1.safetensors
  /usr/bin/python3 tests/reference/cifar_reference.py /tmp/cifar-seed1.safetensors
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import CifarNet  # noqa: E402
from safetensors_io import load, save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main(weights_path):
    torch.manual_seed(3)
    model = CifarNet().eval()
    missing, unexpected = model.load_state_dict(load(weights_path), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(images)
    save({"images": images, "logits": logits}, f"{ROOT}/tests/Kiln.Tests/Reference/cifar.safetensors")
    print(logits)


if __name__ == "__main__":
    main(sys.argv[1])
