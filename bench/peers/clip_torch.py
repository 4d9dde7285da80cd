#!/usr/bin/env python3
"""CLIP in PyTorch for the peer benchmark (bench/peers.sh) and the article script.

A compact re-statement of Hugging Face transformers' CLIPVisionModelWithProjection and
CLIPTextModelWithProjection (modeling_clip.py as of transformers 4.2x with torch 1.13: separate
q/k/v Linear layers, bmm + softmax attention, quick_gelu MLP, causal + padding mask for text,
pooled text token at argmax(input_ids)), with module names equal to the state_dict names, so
a Hugging Face model.safetensors loads with strict=True. Also the CLIP byte-level BPE
tokenizer for plain text (ASCII-exact; enough for the prompts used here) and a safetensors
reader on numpy. Subcommands:

  clip_torch.py prompts MODEL_DIR CLASSES.txt OUT.json   ids of the 2000 ImageNet prompts
  clip_torch.py bench MODEL_DIR --case img8|text [--ids F] [--reps N] [--backend blas|mkldnn]
  clip_torch.py embed-image MODEL_DIR IN.f32 OUT.f32     [N,3,224,224] tensor -> [N,512]
  clip_torch.py embed-text MODEL_DIR OUT.f32 TEXT...     -> [N,512]
  clip_torch.py export MODEL_DIR OUT_DIR                 vision.onnx, text.onnx (opset 17)

bench prints one JSON line: {"engine", "case", "value", "unit", "samples"}. Run it with
Debian's /usr/bin/python3 (python3-torch) in the tuned environment of bench/peers.sh.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

SOT, EOT = 49406, 49407


# ------------------------------------------------------------------ weights and config
def read_safetensors(path, prefixes):
    """{name: float32 torch tensor} for the tensors whose names start with one of prefixes."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    dtypes = {"F32": np.float32, "F16": np.float16, "BF16": None}
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or not name.startswith(prefixes):
            continue
        a, b = t["data_offsets"]
        raw = data[a:b]
        if t["dtype"] == "BF16":  # widen bf16 to f32 by its bit pattern
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw.view(dtypes[t["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(np.array(arr).reshape(t["shape"]))
    return out


def read_config(model_dir):
    c = json.load(open(os.path.join(model_dir, "config.json")))
    v = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
             image_size=224, patch_size=32, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    t = dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8, num_hidden_layers=12,
             vocab_size=49408, max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    v.update({k: x for k, x in c.get("vision_config", {}).items() if k in v})
    t.update({k: x for k, x in c.get("text_config", {}).items() if k in t})
    return v, t, c.get("projection_dim", 512)


# ------------------------------------------------------------------ the modules (HF names)
class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.hd, self.scale = heads, d // heads, (d // heads) ** -0.5
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.out_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x, mask=None):
        b, n, d = x.shape

        def heads(t):
            return t.view(b, n, self.h, self.hd).transpose(1, 2).reshape(b * self.h, n, self.hd)
        q, k, v = heads(self.q_proj(x) * self.scale), heads(self.k_proj(x)), heads(self.v_proj(x))
        w = torch.bmm(q, k.transpose(1, 2))
        if mask is not None:
            w = (w.view(b, self.h, n, n) + mask).view(b * self.h, n, n)
        o = torch.bmm(torch.softmax(w, dim=-1), v)
        return self.out_proj(o.view(b, self.h, n, self.hd).transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    def __init__(self, d, m, act):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(d, m), nn.Linear(m, d), act

    def forward(self, x):
        x = self.fc1(x)
        x = x * torch.sigmoid(1.702 * x) if self.act == "quick_gelu" else nn.functional.gelu(x)
        return self.fc2(x)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.self_attn = Attention(d, c["num_attention_heads"])
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, c["intermediate_size"], c["hidden_act"])

    def forward(self, x, mask=None):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, mask=None):
        for layer in self.layers:
            x = layer(x, mask)
        return x


class VisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.class_embedding = nn.Parameter(torch.zeros(d))
        self.patch_embedding = nn.Conv2d(3, d, p, p, bias=False)
        self.position_embedding = nn.Embedding((c["image_size"] // p) ** 2 + 1, d)

    def forward(self, pix):
        x = self.patch_embedding(pix).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        return torch.cat([cls, x], 1) + self.position_embedding.weight


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.embeddings = VisionEmbeddings(c)
        self.pre_layrnorm, self.post_layernorm = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.encoder = Encoder(c)

    def forward(self, pix):
        x = self.encoder(self.pre_layrnorm(self.embeddings(pix)))
        return self.post_layernorm(x[:, 0])


class Vision(nn.Module):
    """CLIPVisionModelWithProjection: pixel_values [B,3,H,W] -> image_embeds [B,P]."""

    def __init__(self, c, proj):
        super().__init__()
        self.vision_model = VisionTransformer(c)
        self.visual_projection = nn.Linear(c["hidden_size"], proj, bias=False)

    def forward(self, pix):
        return self.visual_projection(self.vision_model(pix))


class TextEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])

    def forward(self, ids):
        return self.token_embedding(ids) + self.position_embedding.weight[:ids.shape[1]]


class TextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = TextEmbeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids, attention_mask):
        b, n = ids.shape
        x = self.embeddings(ids)
        lo = torch.finfo(x.dtype).min
        causal = torch.full((n, n), lo).triu_(1)  # HF _build_causal_attention_mask
        pad = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * lo  # HF _expand_mask
        x = self.final_layer_norm(self.encoder(x, causal[None, None] + pad))
        return x[torch.arange(b), ids.argmax(-1)]  # the first EOT (eos_token_id 2: argmax)


class Text(nn.Module):
    """CLIPTextModelWithProjection: input_ids, attention_mask [B,L] -> text_embeds [B,P]."""

    def __init__(self, c, proj):
        super().__init__()
        self.text_model = TextTransformer(c)
        self.text_projection = nn.Linear(c["hidden_size"], proj, bias=False)

    def forward(self, ids, attention_mask):
        return self.text_projection(self.text_model(ids, attention_mask))


def load(model_dir, tower):
    """The 'vision' or 'text' tower of a Hugging Face CLIP folder, eval mode, weights loaded."""
    v, t, proj = read_config(model_dir)
    m = Vision(v, proj) if tower == "vision" else Text(t, proj)
    pre = ("vision_model.", "visual_projection.") if tower == "vision" else ("text_model.", "text_projection.")
    m.load_state_dict(read_safetensors(os.path.join(model_dir, "model.safetensors"), pre), strict=True)
    return m.eval()


# ------------------------------------------------------------------ tokenizer
def _bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Tokenizer:
    """CLIP's BPE (vocab.json + merges.txt) as CLIPTokenizerFast runs it: NFC, whitespace
    collapsed, lower case, CLIP's split pattern (\\p{L} / \\p{N} approximated with Python's
    \\w classes, exact for ASCII), byte-level symbols, </w> on each word's last symbol."""
    PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+")

    def __init__(self, model_dir):
        self.vocab = json.load(open(os.path.join(model_dir, "vocab.json"), encoding="utf-8"))
        lines = open(os.path.join(model_dir, "merges.txt"), encoding="utf-8").read().split("\n")
        merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.b2u = _bytes_to_unicode()
        self.cache = {}

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        w = list(word[:-1]) + [word[-1] + "</w>"]
        while len(w) > 1:
            best = min(zip(w, w[1:]), key=lambda p: self.ranks.get(p, math.inf))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        self.cache[word] = w
        return w

    def encode(self, text, max_len=77):
        import unicodedata
        text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().lower()
        ids = [SOT]
        for piece in self.PAT.findall(text):
            sym = "".join(self.b2u[b] for b in piece.encode("utf-8"))
            ids += [self.vocab[s] for s in self._bpe(sym)]
        ids = ids[:max_len - 1] + [EOT]
        return ids


def pad_batch(seqs):
    """processor(padding=True): pad to the longest with the pad token (<|endoftext|>)."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), EOT, dtype=torch.long)
    am = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        am[i, :len(s)] = 1
    return ids, am


def imagenet_prompts(classes_file):
    names = [l.rstrip("\n") for l in open(classes_file, encoding="utf-8") if l.strip()]
    out = []
    for c in names:
        out += [f"a outstanding picture, of a #{c}", f"a horrible picture, of a #{c}"]
    return out


# ------------------------------------------------------------------ commands
def cmd_prompts(a):
    tok = Tokenizer(a.model)
    texts = imagenet_prompts(a.classes)
    ids = [tok.encode(t) for t in texts]
    json.dump({"texts": texts, "ids": ids}, open(a.out, "w"))
    print(f"{len(ids)} prompts, {sum(map(len, ids)) / len(ids):.1f} tokens on average -> {a.out}")


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.case.startswith("img"):
        bs = int(a.case[3:])
        model = load(a.model, "vision")
        x = torch.randn(bs, 3, 224, 224)
        iters = max(1, math.ceil(a.min_images / bs))
        n, unit = bs * iters, "images/s"
        def run():
            for _ in range(iters):
                y = model(x)
            return y
        def warm():
            model(x)
    elif a.case == "text":
        model = load(a.model, "text")
        ids = json.load(open(a.ids))["ids"][:a.n_prompts]
        batches = [pad_batch(ids[i:i + a.text_batch]) for i in range(0, len(ids), a.text_batch)]
        n, unit = len(ids), "texts/s"
        def run():
            for b in batches:
                y = model(*b)
            return y
        def warm():
            for b in batches[:2]:
                model(*b)
    else:
        sys.exit("unknown case " + a.case)
    if a.backend == "mkldnn":
        from torch.utils import mkldnn
        model = mkldnn.to_mkldnn(model)
    samples = []
    with torch.inference_mode():
        warm()
        for _ in range(a.reps):
            t0 = time.perf_counter()
            y = run()
            samples.append(n / (time.perf_counter() - t0))
            assert torch.isfinite(y).all()
    print(json.dumps({"engine": a.engine, "case": a.case, "value": round(statistics.median(samples), 3),
                      "unit": unit, "samples": [round(s, 3) for s in samples],
                      "torch": torch.__version__, "threads": a.threads, "backend": a.backend}), flush=True)


def cmd_embed_image(a):
    torch.set_num_threads(a.threads)
    x = torch.from_numpy(np.fromfile(a.input, dtype="<f4").reshape(-1, 3, 224, 224).copy())
    with torch.inference_mode():
        load(a.model, "vision")(x).numpy().astype("<f4").tofile(a.out)


def cmd_embed_text(a):
    torch.set_num_threads(a.threads)
    tok = Tokenizer(a.model)
    with torch.inference_mode():
        load(a.model, "text")(*pad_batch([tok.encode(t) for t in a.texts])).numpy().astype("<f4").tofile(a.out)


def cmd_export(a):
    os.makedirs(a.out, exist_ok=True)
    vis, txt = load(a.model, "vision"), load(a.model, "text")
    with torch.no_grad():
        torch.onnx.export(vis, (torch.randn(2, 3, 224, 224),), os.path.join(a.out, "vision.onnx"),
                          opset_version=17, input_names=["pixel_values"], output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
        ids, am = pad_batch([[SOT, 320, 6387, 1674, EOT], [SOT, 320, EOT]])
        torch.onnx.export(txt, (ids, am), os.path.join(a.out, "text.onnx"), opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["text_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "text_embeds": {0: "batch"}})
    print("exported vision.onnx, text.onnx to", a.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prompts")
    p.add_argument("model"); p.add_argument("classes"); p.add_argument("out")
    p = sub.add_parser("bench")
    p.add_argument("model")
    p.add_argument("--case", required=True, help="img1, img8, img32 or text")
    p.add_argument("--engine", default="torch-fp32")
    p.add_argument("--backend", choices=("blas", "mkldnn"), default="blas",
                   help="blas: plain modules (GEMMs to the system BLAS, OpenBLAS via Debian's "
                        "alternatives); mkldnn: Linear/Conv2d through oneDNN")
    p.add_argument("--ids", help="prompts.json of the prompts subcommand (text case)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--min-images", type=int, default=32, help="images per timed repetition")
    p.add_argument("--n-prompts", type=int, default=2000)
    p.add_argument("--text-batch", type=int, default=100)
    p = sub.add_parser("embed-image")
    p.add_argument("model"); p.add_argument("input"); p.add_argument("out")
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("embed-text")
    p.add_argument("model"); p.add_argument("out"); p.add_argument("texts", nargs="+")
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("export")
    p.add_argument("model"); p.add_argument("out")
    a = ap.parse_args()
    {"prompts": cmd_prompts, "bench": cmd_bench, "embed-image": cmd_embed_image,
     "embed-text": cmd_embed_text, "export": cmd_export}[a.cmd](a)


if __name__ == "__main__":
    main()
