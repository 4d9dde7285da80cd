#!/usr/bin/env python3
"""Bookkeeping of bench/peers.sh and bench/e2e.sh: one JSON line per process, then Markdown.

  report.py record OUT.jsonl ENGINE CASE ROUND TIMEFILE STDOUTFILE [UNIT]
      appends {"engine","case","round","value","unit","rss_mib","wall_s"} for one process:
      the value from its stdout (a JSON line of clip_torch.py / ort_clip.js, or bench_encode's
      TSV line for the case; for UNIT=s, the wall time of the process), peak RSS and wall time
      from /usr/bin/time -v. A failed process is recorded with value null.
  report.py check AE_IMG.json AE_TXT.json NAME=FILE.f32...
      cosine of every engine's embeddings with aesthete's (image: the first row; text: all)
  report.py table OUT.jsonl [--ref ENGINE] [--model DIR --prompts P.json --peak PEAK.tsv]
      per engine and case: median [min-max] over rounds, aesthete's speed over this engine's
      (the ratio of the two within each round, then the median over rounds), peak RSS; with
      --model/--peak a roofline: FLOPs per item over the measured 2-thread fp32 FMA peak.
"""
import collections
import json
import re
import statistics
import sys


def time_v(path):
    """(peak RSS MiB, wall seconds, exit status) from a /usr/bin/time -v report."""
    rss, wall, rc = None, None, None
    for line in open(path, errors="replace"):
        k, _, v = line.strip().rpartition(": ")
        if k == "Maximum resident set size (kbytes)":
            rss = int(v) / 1024
        elif k.startswith("Elapsed (wall clock) time"):
            parts = [float(p) for p in v.split(":")]
            wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        elif k == "Exit status":
            rc = int(v)
    return rss, wall, rc


def value_of(stdout, case):
    for line in stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            if r.get("case") == case:
                return r["value"], r["unit"]
    m = re.match(r"img(\d+)$", case)
    name = f"images_per_s_tensor_batch{m.group(1)}" if m else "texts_per_s_ids_"
    for line in stdout.splitlines():
        f = line.split("\t")
        if len(f) == 3 and (f[0] == name or (not m and f[0].startswith(name))):
            return float(f[1]), "images/s" if m else "texts/s"
    return None, None


def cmd_record(out, engine, case, rnd, timefile, stdoutfile, unit=None):
    rss, wall, rc = time_v(timefile)
    text = open(stdoutfile, errors="replace").read()
    if unit == "s":
        value = wall if rc == 0 else None
    else:
        value, unit = value_of(text, case) if rc == 0 else (None, None)
    rec = {"engine": engine, "case": case, "round": int(rnd), "value": value, "unit": unit,
           "rss_mib": round(rss, 1) if rss else None, "wall_s": wall, "rc": rc}
    with open(out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    shown = f"{value:10.2f} {unit}" if value is not None else f"FAILED (exit {rc})"
    print(f"  r{rnd} {engine:<20} {case:<6} {shown:<22} peak RSS {rss or 0:7.0f} MiB, {wall or 0:6.1f} s",
          flush=True)


def cmd_check(ae_img, ae_txt, pairs):
    import numpy as np

    def rows(path):
        return [np.array(json.loads(l)["embedding"], np.float64) for l in open(path) if l.strip()]

    def cos(a, b):
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    img, txt = rows(ae_img)[0], rows(ae_txt)
    for p in pairs:
        name, path = p.split("=", 1)
        v = np.fromfile(path, dtype="<f4").astype(np.float64).reshape(-1, img.size)
        ref = [img] if name.endswith(":image") else txt
        c = min(cos(a, b) for a, b in zip(ref, v))
        ok = "ok" if c > 0.9999 else ("(int8: expected lower)" if "int8" in name else "LOW")
        print(f"  cosine with aesthete, {name:<24} {c:.6f}  {ok}")


def flops(model_dir, prompts):
    """FLOPs (multiply + add = 2) of one image, and of one prompt (its own tokens, unpadded,
    mean over the prompts), counting the GEMMs and attention products of HF CLIP."""
    c = json.load(open(f"{model_dir}/config.json"))
    v, t = c.get("vision_config", {}), c.get("text_config", {})
    proj = c.get("projection_dim", 512)
    d, m, L = v.get("hidden_size", 768), v.get("intermediate_size", 3072), v.get("num_hidden_layers", 12)
    p, res = v.get("patch_size", 32), v.get("image_size", 224)
    P = (res // p) ** 2
    n = P + 1
    img = 2 * P * d * 3 * p * p + L * (2 * n * (4 * d * d + 2 * d * m) + 4 * n * n * d) + 2 * d * proj
    d, m, L = t.get("hidden_size", 512), t.get("intermediate_size", 2048), t.get("num_hidden_layers", 12)
    lens = [len(s) for s in json.load(open(prompts))["ids"]] if prompts else [11]
    txt = statistics.mean(L * (2 * k * (4 * d * d + 2 * d * m) + 4 * k * k * d) + 2 * d * proj for k in lens)
    return img, txt


def cmd_table(path, ref=None, model=None, prompts=None, peak=None):
    recs = [json.loads(l) for l in open(path) if l.startswith("{")]
    by = collections.defaultdict(dict)  # (engine, case) -> round -> record
    engines, cases = [], []
    for r in recs:
        by[(r["engine"], r["case"])][r["round"]] = r
        if r["engine"] not in engines:
            engines.append(r["engine"])
        if r["case"] not in cases:
            cases.append(r["case"])
    ref = ref or next((e for e in engines if e.startswith("aesthete")), engines[0])
    peaks = {}
    if peak:
        for line in open(peak):
            f = line.split("\t")
            if len(f) == 3 and re.match(r"fma_\w+_gflops_\d+t$", f[0]) and not f[0].endswith("_1t"):
                isa = f[0].split("_")[1]  # the best of the runs in the file
                peaks[isa] = max(peaks.get(isa, 0.0), float(f[1]))
    fl = flops(model, prompts) if model else None
    best_peak = max(peaks.values()) if peaks else None
    seconds = any(r["unit"] == "s" for r in recs)
    head = "seconds" if seconds else "items/s"
    rel = "this ÷ " + ref if seconds else ref + " ÷ this"
    print(f"| engine | case | {head}: median | [min–max] | {rel} (per-round median) |"
          + (" % of fp32 peak |" if fl and best_peak else "") + " peak RSS MiB |")
    print("|---|---|---|---|---|" + ("---|" if fl and best_peak else "") + "---|")
    for case in cases:
        for e in engines:
            rounds = by.get((e, case), {})
            vals = [r["value"] for r in rounds.values() if r["value"] is not None]
            if not rounds:
                continue
            if not vals:
                print(f"| {e} | {case} | failed | | |" + (" |" if fl and best_peak else "") + " |")
                continue
            refr = by.get((ref, case), {})
            ratios = [(refr[k]["value"] / r["value"]) if not seconds else (r["value"] / refr[k]["value"])
                      for k, r in rounds.items() if r["value"] and k in refr and refr[k]["value"]]
            ratio = f"{statistics.median(ratios):.2f}" if ratios else "–"
            rss = [r["rss_mib"] for r in rounds.values() if r["rss_mib"]]
            cols = f"| {e} | {case} | {statistics.median(vals):.2f} | [{min(vals):.2f}–{max(vals):.2f}] | {ratio} |"
            if fl and best_peak:
                per = fl[0] if case.startswith("img") else fl[1]
                cols += f" {100 * statistics.median(vals) * per / 1e9 / best_peak:.0f} |"
            print(cols + f" {statistics.median(rss):.0f} |")
        if fl and peaks and not seconds:
            per = fl[0] if case.startswith("img") else fl[1]
            for isa, g in sorted(peaks.items(), key=lambda x: -x[1]):
                print(f"| roofline {isa} ({g:.0f} GFLOP/s) | {case} | {g * 1e9 / per:.1f} | | | | |")
    if fl:
        print(f"\nFLOPs (multiply-add = 2): {fl[0] / 1e9:.2f} G per image, {fl[1] / 1e6:.0f} M per prompt "
              f"(mean over the prompts, unpadded); roofline = 2-thread fp32 FMA peak (bench_peak) ÷ FLOPs.")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "record":
        cmd_record(*a[1:])
    elif a[0] == "check":
        cmd_check(a[1], a[2], a[3:])
    elif a[0] == "table":
        opts = {"ref": None, "model": None, "prompts": None, "peak": None}
        rest = a[2:]
        while rest:
            opts[rest[0].lstrip("-")] = rest[1]
            rest = rest[2:]
        cmd_table(a[1], **opts)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
