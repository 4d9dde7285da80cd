#!/usr/bin/python3
"""bench_torch.py — the baseline for bench_encode: the same ViT-B/32 CLIP shapes in PyTorch.

A CLIP built from torch.nn modules (the structure of transformers' modeling_clip.py: patch
conv, class and position embeddings, pre-LN encoder layers with quick_gelu, causal text mask,
pooling at the first EOS, projections) with random weights, float32, inference mode,
torch.set_num_threads(N). Measures, after a warm-up, the median of several repetitions of:
  - images/s, batch 1 and batch 32, from [B, 3, 224, 224] tensors;
  - texts/s for the 2000 ImageNet aesthetic prompts (ids from lines 0..1999 of
    tokenizer/tokens.jsonl), in batches of 256 padded to the longest sequence of the batch,
    as transformers' processor(padding=True) does.
Prints "name<TAB>value<TAB>unit" lines like bench_encode.

    /usr/bin/python3 bench/bench_torch.py [--threads 2] [--reps 5] [--fixtures DIR]

Use Debian's /usr/bin/python3 (python3-torch); a pyenv python3 earlier in PATH has no torch.
"""
import argparse
import functools
import json
import os
import statistics
import time

import torch
import torch.nn as nn

print = functools.partial(print, flush=True)  # progress shows through pipes


class Layer(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, h, mask):
        b, L, d = h.shape
        dh = d // self.heads
        x = self.ln1(h)
        q = self.q(x).view(b, L, self.heads, dh).transpose(1, 2) * dh ** -0.5
        k = self.k(x).view(b, L, self.heads, dh).transpose(1, 2)
        v = self.v(x).view(b, L, self.heads, dh).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        if mask is not None:
            s = s + mask
        a = torch.softmax(s, dim=-1) @ v
        h = h + self.out(a.transpose(1, 2).reshape(b, L, d))
        x = self.fc1(self.ln2(h))
        x = x * torch.sigmoid(1.702 * x)  # quick_gelu
        return h + self.fc2(x)


class Vision(nn.Module):
    def __init__(self, d=768, layers=12, heads=12, mlp=3072, image=224, patch=32, proj=512):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, stride=patch, bias=False)
        self.cls = nn.Parameter(torch.randn(d) * 0.1)
        self.pos = nn.Parameter(torch.randn((image // patch) ** 2 + 1, d) * 0.02)
        self.pre = nn.LayerNorm(d, eps=1e-5)
        self.layers = nn.ModuleList(Layer(d, heads, mlp) for _ in range(layers))
        self.post = nn.LayerNorm(d, eps=1e-5)
        self.proj = nn.Linear(d, proj, bias=False)

    def forward(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)            # [B, 49, D]
        cls = self.cls.expand(x.shape[0], 1, -1)
        h = self.pre(torch.cat([cls, x], dim=1) + self.pos)
        for layer in self.layers:
            h = layer(h, None)
        return self.proj(self.post(h[:, 0]))


class Text(nn.Module):
    def __init__(self, d=512, layers=12, heads=8, mlp=2048, vocab=49408, ctx=77, proj=512):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(ctx, d) * 0.01)
        self.layers = nn.ModuleList(Layer(d, heads, mlp) for _ in range(layers))
        self.final = nn.LayerNorm(d, eps=1e-5)
        self.proj = nn.Linear(d, proj, bias=False)

    def forward(self, ids):
        b, L = ids.shape
        h = self.tok(ids) + self.pos[:L]
        mask = torch.full((L, L), float("-inf")).triu(1)
        for layer in self.layers:
            h = layer(h, mask)
        h = self.final(h)
        eos = (ids == 49407).int().argmax(dim=-1)                    # first EOS
        return self.proj(h[torch.arange(b), eos])


def timed(fn, reps):
    fn()  # warm-up
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--backend", choices=("mkldnn", "blas"), default="mkldnn",
                    help="mkldnn: Linear and Conv2d through oneDNN (torch.utils.mkldnn); "
                    "blas: plain modules, whose GEMMs go to the system BLAS")
    ap.add_argument("--fixtures", default=os.environ.get(
        "AE_FIXTURES", os.path.join(here, "..", "..", "shared", "fixtures")))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vision, text = Vision().eval(), Text().eval()
    n_params = sum(p.numel() for p in vision.parameters()) + sum(p.numel() for p in text.parameters())
    if args.backend == "mkldnn":
        from torch.utils import mkldnn
        vision, text = mkldnn.to_mkldnn(vision), mkldnn.to_mkldnn(text)
    print(f"# torch {torch.__version__}, {n_params} params, {args.backend}, {args.threads} threads, "
          f"median of {args.reps}")

    with torch.inference_mode():
        for b in (1, 32):
            pixels = torch.randn(b, 3, 224, 224)
            t = timed(lambda: vision(pixels), args.reps * 4 if b == 1 else args.reps)
            print(f"images_per_s_tensor_batch{b}\t{b / t:.2f}\timg/s")

        with open(os.path.join(args.fixtures, "tokenizer", "tokens.jsonl")) as f:
            rows = [json.loads(next(f))["ids"] for _ in range(2000)]
        tokens = sum(len(r) for r in rows)
        print(f"# 2000 prompts, {tokens / 2000:.1f} tokens on average")
        batch = 256
        batches = []
        for i in range(0, len(rows), batch):
            chunk = rows[i:i + batch]
            L = max(len(r) for r in chunk)
            batches.append(torch.tensor([r + [49407] * (L - len(r)) for r in chunk]))

        def run_texts():
            for ids in batches:
                text(ids)

        t = timed(run_texts, min(args.reps, 3))
        print(f"texts_per_s_ids_2000\t{len(rows) / t:.1f}\ttexts/s")


if __name__ == "__main__":
    main()
