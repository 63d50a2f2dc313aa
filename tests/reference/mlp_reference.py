"""Trains Kiln's example MLP (784-256-256-10, ReLU) on Fashion-MNIST with PyTorch and writes:

  examples/Mlp/data/mlp.safetensors             trained weights in Kiln's layout (w: [in, out])
  examples/Mlp/data/t10k-subset-*.idx.gz        the first 1000 test images and labels (IDX, as upstream)
  examples/Mlp/data/train-subset-*.idx.gz       the first 3000 training images and labels (for `-- train` without
                                                Debian's dataset-fashion-mnist)
  tests/Kiln.Tests/Reference/mlp.safetensors    64 test images with PyTorch's logits and log-probabilities
                                                (for the weights above)

Run with Debian's Python, which has python3-torch and dataset-fashion-mnist:
  /usr/bin/python3 tests/reference/mlp_reference.py
Kiln's tests compare against the committed outputs; CI does not need PyTorch.
"""
import gzip
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from safetensors_io import save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = "/usr/share/datasets/fashion-mnist"
SUBSET = 1000
TRAIN_SUBSET = 3000


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count = struct.unpack(">II", raw[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).reshape(count, rows * cols).float() / 255.0, raw
    return torch.frombuffer(bytearray(raw[8:]), dtype=torch.uint8).long(), raw


def write_subset(raw, header_len, item_bytes, count, path):
    header = bytearray(raw[:header_len])
    header[4:8] = struct.pack(">I", count)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(bytes(header) + raw[header_len:header_len + count * item_bytes])


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x_train, raw_train_images = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    y_train, raw_train_labels = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    x_test, raw_images = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    y_test, raw_labels = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(4):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(perm), 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = (model(x_test).argmax(1) == y_test).float().mean().item()
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f}")

    l1, l2, l3 = model[0], model[2], model[4]
    weights = {"w1": l1.weight.T, "b1": l1.bias, "w2": l2.weight.T, "b2": l2.bias, "w3": l3.weight.T, "b3": l3.bias}
    os.makedirs(f"{ROOT}/examples/Mlp/data", exist_ok=True)
    save(weights, f"{ROOT}/examples/Mlp/data/mlp.safetensors")
    write_subset(raw_images, 16, 784, SUBSET, f"{ROOT}/examples/Mlp/data/t10k-subset-images.idx.gz")
    write_subset(raw_labels, 8, 1, SUBSET, f"{ROOT}/examples/Mlp/data/t10k-subset-labels.idx.gz")
    write_subset(raw_train_images, 16, 784, TRAIN_SUBSET, f"{ROOT}/examples/Mlp/data/train-subset-images.idx.gz")
    write_subset(raw_train_labels, 8, 1, TRAIN_SUBSET, f"{ROOT}/examples/Mlp/data/train-subset-labels.idx.gz")

    with torch.no_grad():
        x = x_test[:64]
        logits = model(x)
        out = {"images": x, "logits": logits, "log_probabilities": F.log_softmax(logits, dim=-1)}
    os.makedirs(f"{ROOT}/tests/Kiln.Tests/Reference", exist_ok=True)
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/mlp.safetensors")
    with torch.no_grad():
        subset_acc = (model(x_test[:SUBSET]).argmax(1) == y_test[:SUBSET]).float().mean().item()
    print(f"PyTorch accuracy on the bundled {SUBSET}-image subset: {subset_acc:.4f}")


if __name__ == "__main__":
    main()
