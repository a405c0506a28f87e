"""`python -m benchmarks.run --suite cpu`: jaxbert against Hugging Face, side by side.

For each (model, sequence length, batch) of the suite and each benchmark
(attention, layer, train, distill, inference), every implementation is built on the
same shapes, then timed in alternation (benchmarks/timing.py) so their ratios are
measured under the same load. Results go to benchmarks/results/<name>.json, .md and
.png (report.py). Implementations:

  jaxbert           this library; train = the production step (train/steps.py)
  jaxbert-same-work train only: the same step with the MLM head over all B x L positions
                    (full-vocabulary logits everywhere, as the Hugging Face rows compute);
                    its ratio to them is the implementation's, jaxbert's the algorithm's too
  hf-torch          transformers PyTorch, eager, SDPA attention
  hf-torch-compile  the same under torch.compile (first call = compile time)
  hf-flax           transformers Flax 4.57.6, jitted

Examples:
  python -m benchmarks.run --suite cpu
  python -m benchmarks.run --suite cpu --models bert-mini --seq 128 --only train,inference
  python -m benchmarks.run --quick --models bert-tiny --seq 16 --batch 2 --name smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import time
import traceback

BENCHES = ("attention", "layer", "train", "distill", "inference")
IMPLS = ("jaxbert", "jaxbert-same-work", "hf-torch", "hf-torch-compile", "hf-flax")


@dataclasses.dataclass
class Suite:
  models: tuple[str, ...]
  seqs: tuple[int, ...]
  batch: dict                   # (model, seq) -> batch; key (None, seq) is the default
  dtype: str
  reps: int
  peak_n: int
  compile_models: tuple[str, ...]   # models that also get hf-torch-compile rows
  compile_benches: tuple[str, ...] = BENCHES  # ... for these benchmarks
  skip: tuple = ()                  # (model, seq, bench) left out, with the reason in NOTES
  notes: tuple[str, ...] = ()


SUITES = {
    # 2 CPU cores: keep the whole suite under ~15 minutes.
    "cpu": Suite(
        models=("bert-mini", "bert-base", "albert-base", "distilbert-base"),
        seqs=(128, 512),
        batch={(None, 128): 8, (None, 512): 2, ("bert-mini", 128): 32, ("bert-mini", 512): 8},
        dtype="float32", reps=5, peak_n=2048, compile_models=("bert-mini",),
        compile_benches=("inference",),
        skip=tuple((m, 512, b) for m in ("bert-base", "albert-base", "distilbert-base")
                   for b in ("train", "distill", "attention", "layer")),
        notes=("Base models at 512: inference only (a training step at 2 x 512 takes tens "
               "of seconds per implementation on 2 cores).",
               "hf-torch-compile: bert-mini inference only. Its first call (the compile) "
               "took 15 s for inference at load ~2 (73 s at load ~5) and 243 s for the "
               "training step at bert-mini 8x128 (load ~5), and the compiled training step "
               "was no faster than eager, so the training and micro rows leave it out on "
               "CPU (ask with --impls/--only).",
               "jaxbert compiles forward passes with jaxbert.compiler_options() (CPU: no "
               "YNNPACK fusions) and training steps with XLA's defaults, as train/ does; "
               "HF Flax keeps XLA's defaults.")),
    "gpu": Suite(
        models=("bert-mini", "bert-base", "albert-base", "distilbert-base"),
        seqs=(128, 512),
        batch={(None, 128): 64, (None, 512): 16, ("bert-mini", 128): 256,
               ("bert-mini", 512): 64},
        dtype="bfloat16", reps=20, peak_n=8192,
        compile_models=("bert-mini", "bert-base", "albert-base", "distilbert-base")),
    "tpu": Suite(
        models=("bert-mini", "bert-base", "albert-base", "distilbert-base"),
        seqs=(128, 512),
        batch={(None, 128): 64, (None, 512): 16, ("bert-mini", 128): 256,
               ("bert-mini", 512): 64},
        dtype="bfloat16", reps=20, peak_n=8192, compile_models=()),
}


def detect_suite() -> str:
  import jax
  return {"gpu": "gpu", "tpu": "tpu"}.get(jax.devices()[0].platform, "cpu")


def parse_args(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--suite", choices=tuple(SUITES) + ("auto",), default="auto",
                 help="shape set and dtype; auto: from the detected device")
  p.add_argument("--models", help="comma-separated presets (default: the suite's)")
  p.add_argument("--seq", help="comma-separated sequence lengths")
  p.add_argument("--batch", type=int, help="batch size for every row")
  p.add_argument("--only", help=f"comma-separated benchmarks of {BENCHES}")
  p.add_argument("--impls", help=f"comma-separated implementations of {IMPLS}")
  p.add_argument("--dtype", help="compute dtype (default: float32 on CPU, bfloat16 else)")
  p.add_argument("--reps", type=int, help="timed repetitions per implementation")
  p.add_argument("--quick", action="store_true", help="smoke run: 1 repetition, small peak")
  p.add_argument("--no-compile", action="store_true", help="no torch.compile rows")
  p.add_argument("--name", help="result file stem (default: the suite's name)")
  p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  p.add_argument("--no-plot", action="store_true")
  return p.parse_args(argv)


def _split(s, cast=str):
  return tuple(cast(x) for x in s.split(",") if x) if s else None


def plan(args) -> tuple[str, Suite, list[tuple[str, int, int]], tuple, tuple]:
  name = detect_suite() if args.suite == "auto" else args.suite
  suite = SUITES[name]
  if args.dtype:
    suite = dataclasses.replace(suite, dtype=args.dtype)
  if args.reps or args.quick:
    suite = dataclasses.replace(suite, reps=args.reps or 1)
  if args.quick:
    suite = dataclasses.replace(suite, peak_n=min(suite.peak_n, 512))
  models = _split(args.models) or suite.models
  seqs = _split(args.seq, int) or suite.seqs
  rows = []
  for m in models:
    for s in seqs:
      b = args.batch or suite.batch.get((m, s), suite.batch.get((None, s), 8))
      rows.append((m, s, b))
  benches = _split(args.only) or BENCHES
  impls = _split(args.impls) or IMPLS
  for x in benches:
    if x not in BENCHES:
      sys.exit(f"--only: unknown benchmark {x!r}; known: {', '.join(BENCHES)}")
  for x in impls:
    if x not in IMPLS:
      sys.exit(f"--impls: unknown implementation {x!r}; known: {', '.join(IMPLS)}")
  if args.no_compile:
    impls = tuple(i for i in impls if i != "hf-torch-compile")
  return name, suite, rows, benches, impls


def build(bench: str, impl: str, cfg, batch: dict):
  """One Runner, or None where the implementation has no such benchmark."""
  from benchmarks import impl_hf_flax, impl_hf_torch, impl_jax
  b, l = batch["input_ids"].shape
  if impl == "jaxbert":
    if bench in ("attention", "layer"):
      return getattr(impl_jax, bench)(cfg, b, l)
    if bench == "train":
      return impl_jax.train(cfg, batch)
    if bench == "inference":
      return impl_jax.inference(cfg, batch)
    if bench == "distill":
      return impl_jax.distill(cfg, batch)
  if impl == "jaxbert-same-work":
    return impl_jax.train(cfg, batch, all_positions=True, impl=impl) if bench == "train" else None
  if impl.startswith("hf-torch"):
    if bench in ("attention", "layer"):
      return impl_hf_torch.fwd_bwd(cfg, b, l, bench, impl)
    if bench in ("train", "inference"):
      return getattr(impl_hf_torch, bench)(cfg, batch, impl)
  if impl == "hf-flax":
    if bench in ("attention", "layer"):
      return impl_hf_flax.fwd_bwd(cfg, b, l, bench)
    if bench in ("train", "inference"):
      return getattr(impl_hf_flax, bench)(cfg, batch)
  return None


def bench_config(model: str, dtype: str, bench: str):
  """The preset in the compute dtype. Micro rows (attention, layer) use the BERT block
  of the same shape for every family: ALBERT's and DistilBERT's layers are the same
  computation, so their micro rows would repeat bert-base's."""
  from jaxbert import get_config
  cfg = get_config(model, dtype=dtype)
  if bench in ("attention", "layer"):
    cfg = cfg.replace(embedding_size=None, num_groups=None, type_vocab_size=2, pooler=True,
                      pair_head="nsp")
  return cfg


def run(args=None) -> dict:
  args = args if isinstance(args, argparse.Namespace) else parse_args(args)
  import jax
  try:
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
  except ImportError:
    torch = None
  from benchmarks import environment, inputs, peak, report
  from benchmarks.timing import interleave

  name, suite, rows, benches, impls = plan(args)
  env = environment.describe()
  env["xla_threads"] = f"XLA CPU client: Eigen pool over all {os.cpu_count()} cores (default)"
  print(f"[bench] {name} suite on {env['device']} ({env['cpu_model']}), load {env['load_average']}",
        flush=True)
  peak_info = peak.measure(suite.peak_n, "float32" if suite.dtype == "float32" and
                           env["platform"] == "cpu" else suite.dtype)
  print(f"[bench] matmul peak {peak_info['flops_per_s'] / 1e9:.1f} GFLOP/s", flush=True)
  results, notes, seen_micro = [], list(suite.notes), set()
  t_start = time.perf_counter()
  for model, seq, bsz in rows:
    for bench in benches:
      if (model, seq, bench) in suite.skip and not (args.models or args.seq):
        continue
      cfg = bench_config(model, suite.dtype, bench)
      if bench in ("attention", "layer"):
        key = (bench, cfg.hidden_size, cfg.num_heads, cfg.intermediate_size, seq, bsz)
        if key in seen_micro:
          continue          # same computation as a row already measured
        seen_micro.add(key)
      if seq > cfg.max_position_embeddings:
        continue
      batch = inputs.mlm_batch(cfg, bsz, seq)
      runners = []
      for impl in impls:
        if impl == "hf-torch-compile" and not (args.models or args.only) and (
            model not in suite.compile_models or bench not in suite.compile_benches):
          continue
        try:
          r = build(bench, impl, cfg, batch)
        except Exception as e:  # one failing implementation must not stop the suite
          msg = f"{bench} {model} L={seq} {impl}: not run ({type(e).__name__}: {str(e)[:200]})"
          print("[bench] " + msg, flush=True)
          if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()
          notes.append(msg)
          continue
        if r is not None:
          runners.append(r)
      if not runners:
        continue
      timings = interleave(runners, suite.reps)
      rows_here = [report.row(bench, model, seq, bsz, suite.dtype, r, timings[r.impl],
                              peak_info["flops_per_s"]) for r in runners]
      report.add_ratios(rows_here)
      results += rows_here
      for x in rows_here:
        print("[bench] " + report.one_line(x), flush=True)
      del runners
      gc.collect()
      jax.clear_caches()
  # The peak again at the end: under shared load one measurement can be low, and MFU
  # is reported against the best matmul rate this run saw.
  end_peak = peak.measure(suite.peak_n, peak_info["runs"][0]["dtype"])
  peak_info["runs"] += end_peak["runs"]
  peak_info["flops_per_s"] = max(peak_info["flops_per_s"], end_peak["flops_per_s"])
  for r in results:
    if r["achieved_flops_per_s"]:
      r["mfu"] = r["achieved_flops_per_s"] / peak_info["flops_per_s"]
  env["wall_s"] = round(time.perf_counter() - t_start, 1)
  env["load_average_end"] = environment.load_average()
  doc = {"suite": name, "environment": env, "peak": peak_info, "dtype": suite.dtype,
         "reps": suite.reps, "notes": notes, "flop_formula": report.FLOP_FORMULA,
         "results": results}
  paths = report.write(doc, args.out, args.name or name, plot=not args.no_plot)
  print("[bench] wrote " + ", ".join(paths), flush=True)
  return doc


if __name__ == "__main__":
  run()
