"""PyTorch's training step for Kiln's example models, timed the way benchmarks/Kiln.Benchmarks times Kiln's
(`-- train`): median of at least 5 steps over >= 1.5 s after 3 warm-up steps, on `--threads` threads.
  mlp    784-256-256-10, ReLU, cross-entropy, AdamW; --batch images
  gpt    the character GPT (tests/reference/kiln_nn.py's CharGpt), AdamW; --batch windows of 64 characters
  cifar  the airbench-shaped CIFAR-10 network (kiln_nn.CifarNet, batch norms in train mode), AdamW; --batch images
Prints `median_seconds=<s>` and `peak_bytes=<n>`: the largest rise of the process's resident memory, sampled after the
forward, the backward and the update of each step, over what it held with the model and batch allocated before the
first step (activations, gradients, optimizer state and allocator slack together; the CPU build has no allocator
statistics). The Kiln benchmark runs this script beside itself.
  /usr/bin/python3 benchmarks/pytorch_train_step.py [--model mlp|gpt|cifar] [--batch 128] [--threads 2] [--quick]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "reference"))
from kiln_nn import CharGpt, CifarNet  # noqa: E402


def mlp(batch):
    shapes = [(784, 256), (256,), (256, 256), (256,), (256, 10), (10,)]
    params = [(torch.randn(s) * 0.05).requires_grad_() for s in shapes]
    w1, b1, w2, b2, w3, b3 = params
    x = torch.rand(batch, 784)
    y = torch.randint(0, 10, (batch,))

    def loss():
        h = torch.relu(x @ w1 + b1)
        h = torch.relu(h @ w2 + b2)
        return F.cross_entropy(h @ w3 + b3, y)
    return params, loss


def gpt(batch):
    model = CharGpt(83, 64, 64, 4, 3)
    x = torch.randint(0, 83, (batch, 64))
    y = torch.randint(0, 83, (batch, 64))
    return list(model.parameters()), lambda: F.cross_entropy(model(x).flatten(0, 1), y.flatten())


def cifar(batch):
    model = CifarNet().train()
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    return list(model.parameters()), lambda: F.cross_entropy(model(x), y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "gpt", "cifar"], default="mlp")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    params, loss_of = {"mlp": mlp, "gpt": gpt, "cifar": cifar}[args.model](args.batch)
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    page = os.sysconf("SC_PAGE_SIZE")

    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    before, peak = resident(), 0

    def step():
        nonlocal peak
        loss = loss_of()
        peak = max(peak, resident())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        peak = max(peak, resident())
        opt.step()
        peak = max(peak, resident())
        return loss.item()

    for _ in range(3):
        step()
    samples, start = [], time.perf_counter()
    while time.perf_counter() - start < (0.3 if args.quick else 1.5) or len(samples) < 5:
        t = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t)
    samples.sort()
    print(f"median_seconds={samples[len(samples) // 2]:.9f}")
    print(f"peak_bytes={peak - before}")


if __name__ == "__main__":
    main()
