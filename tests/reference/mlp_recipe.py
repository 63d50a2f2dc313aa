"""PyTorch's accuracy for the recipe `examples/Mlp -- train` runs in Kiln: the 784-256-256-10 MLP with PyTorch's
default initialization, Adam (lr 1e-3), batches of 128 (full batches only), 4 epochs over the 60,000 Fashion-MNIST
training images, test accuracy after each epoch; three seeds, so that the spread between runs is visible too.
  /usr/bin/python3 tests/reference/mlp_recipe.py     (needs python3-torch and dataset-fashion-mnist)
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from mlp_reference import DATA, read_idx  # noqa: E402


def run(seed, x_train, y_train, x_test, y_test):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    accuracies = []
    for _ in range(4):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(perm) - 127, 128):
            idx = perm[i:i + 128]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            accuracies.append((model(x_test).argmax(1) == y_test).float().mean().item())
    return accuracies


def main():
    torch.set_num_threads(2)
    x_train, _ = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    y_train, _ = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    x_test, _ = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    y_test, _ = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    for seed in range(3):
        print(f"seed {seed}: test accuracy per epoch " + " ".join(f"{100 * a:.2f}%" for a in run(seed, x_train, y_train, x_test, y_test)))


if __name__ == "__main__":
    main()
