"""PyTorch's training step for Kiln's example MLP (784-256-256-10, ReLU, cross-entropy, AdamW), timed the way
benchmarks/Kiln.Benchmarks times Kiln's (`-- train`): median of at least 5 steps over ≥1.5 s after 3 warm-up steps,
on `--threads` threads. Prints one line `median_seconds=<s>`; the Kiln benchmark runs this script beside itself.
  /usr/bin/python3 benchmarks/pytorch_train_step.py [--batch 128] [--threads 2] [--quick]
"""
import argparse
import time

import torch
import torch.nn.functional as F


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = [(784, 256), (256,), (256, 256), (256,), (256, 10), (10,)]
    params = [(torch.randn(s) * 0.05).requires_grad_() for s in shapes]
    w1, b1, w2, b2, w3, b3 = params
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    x = torch.rand(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))

    def step():
        h = torch.relu(x @ w1 + b1)
        h = torch.relu(h @ w2 + b2)
        loss = F.cross_entropy(h @ w3 + b3, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
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


if __name__ == "__main__":
    main()
