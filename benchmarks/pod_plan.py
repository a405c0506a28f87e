"""`python -m benchmarks.pod_plan`: will a recipe fit a TPU pod, before renting one?

Compiles the production training step for a TPU topology's devices on this host
(benchmarks/pod_compile.py; needs libtpu: pip install -e ".[tpu]") and prints, per chip:
the compiled memory against the chip's HBM, the largest batch that fits, the collectives
XLA inserted, whether attention compiled to a fused kernel, and a step time and tokens/s
from the analytic FLOPs (benchmarks/flops.py) at a stated MFU of the chip's bf16 peak.

  python -m benchmarks.pod_plan --model bert-large --topology v5p:4x4x4 --batch 4096 --seq 512
  python -m benchmarks.pod_plan --config train/configs/bert_base.py:2 --topology v5e:8x8 --fsdp 4
  python -m benchmarks.pod_plan --config train/configs/albert_xxlarge.py --topology v4:4x4x8 \
      --remat full --max-batch

--config takes a recipe (model, overrides, batch, length, optimizer, mesh); flags
override it. Bad input (an unknown topology, a mesh that does not match its chips, a
batch the data-parallel size does not divide, no libtpu): one `error:` line, exit 2.
"""

from __future__ import annotations

import os

# A planning process compiles only: it must not claim a TPU VM's chips, nor wait for
# libtpu's one-process lock that any other JAX process on the host may hold.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from benchmarks import flops, pod_compile as pc  # noqa: E402

ATTENTION = {"einsum": None, "xla": "xla"}   # attention_impl; "cudnn" is GPU only
MAX_ROWS = 65536          # the batch search stops here (rows per batch shard)
MAX_COMPILES = 6          # compiles the batch search may spend after the first


def load_recipe(spec: str):
  """`train/configs/NAME.py[:ARG]` -> its ml_collections config."""
  path, _, arg = spec.partition(":")
  if not os.path.isfile(path):
    raise ValueError(f"no recipe config file {path}")
  module_spec = importlib.util.spec_from_file_location("recipe", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def resolve(args) -> tuple[pc.Shape, pc.Mesh, object, str]:
  """(shape, mesh, optimizer section, label) from --config and/or the flags."""
  import jaxbert
  from benchmarks.inputs import predictions_per_row
  from train.configs.base import base_config
  from train.pretrain import model_config
  if args.config:
    c = load_recipe(args.config)
  else:
    c = base_config()
    c.model, c.dtype = args.model, "bfloat16"
    c.data.vocab_size = jaxbert.get_config(args.model).vocab_size
    c.data.max_seq_length = args.seq or 128
    c.data.max_predictions_per_seq = predictions_per_row(c.data.max_seq_length)
    c.batch_size = args.batch or 256
  length = args.seq or c.data.max_seq_length
  predictions = (args.predictions or (predictions_per_row(length) if args.seq
                                      else c.data.max_predictions_per_seq))
  cfg = model_config(c, c.data.vocab_size)
  if length > cfg.max_position_embeddings:
    raise ValueError(f"sequence length {length} exceeds the model's "
                     f"{cfg.max_position_embeddings} positions")
  changes = {}
  if args.dtype:
    changes["dtype"] = args.dtype
  if args.remat:
    changes["remat_policy"] = args.remat
  if args.attention:
    changes["attention_impl"] = ATTENTION[args.attention]
  if args.attention_dropout is not None:
    changes["attention_dropout_rate"] = args.attention_dropout
  for item in args.override:
    key, _, value = item.partition("=")
    if not hasattr(cfg, key):
      raise ValueError(f"--override {item}: EncoderConfig has no field {key!r}")
    old = getattr(cfg, key)
    if value == "None" or old is None:
      changes[key] = None if value == "None" else value
    else:
      changes[key] = value.lower() == "true" if isinstance(old, bool) else type(old)(value)
  cfg = cfg.replace(**changes)
  p = c.parallel
  rules = tuple(tuple(r) for r in p.get("rules") or pc.S.DEFAULT_RULES)
  mesh = pc.Mesh(args.data if args.data is not None else p.data,
                 args.fsdp if args.fsdp is not None else p.fsdp,
                 args.tensor if args.tensor is not None else p.tensor, rules)
  label = os.path.basename(args.config) if args.config else c.model
  return pc.Shape(cfg, args.batch or c.batch_size, length, predictions), mesh, c.optimizer, label


def fits(result: pc.Compiled, chip: pc.Chip) -> bool:
  """Compiled, and within the HBM libtpu lets a program use. (The compile-only compiler
  may accept a program larger than the chip: bert-mini at 2,056 rows/chip compiled for
  v5e at 22 GiB/chip. Only the memory analysis decides.)"""
  return result.error is None and result.memory["total"] <= chip.usable_gib * pc.GIB


def close(rows: int) -> int:
  """How near the batch search settles: 1/64 of the rows, at least one row."""
  return max(1, rows // 64)


def largest_batch(shape: pc.Shape, devices, mesh: pc.Mesh, opt, chip: pc.Chip,
                  shards: int, first: pc.Compiled, budget: int = MAX_COMPILES
                  ) -> tuple[int, int | None, int]:
  """(rows per batch shard known to fit, rows known not to fit or None, compiles spent).

  Compiles cost minutes at real sizes, so the search aims instead of bisecting:
  1. Memory = fixed + rows x per-row, with fixed >= 0, so scaling the first compile's
     total in proportion to the rows aims at or below the HBM line: that probe fits.
  2. Then the secant through the two measurements nearest the line (one on each side
     once known) aims at the crossing, and a step up (or down) confirms it. The answer
     is settled to 1/64 of itself (one row below 128 rows): XLA's memory is not
     monotone row by row (bert-mini on v5e: 15.742 GiB at 1,439 rows/chip, 15.716 at
     1,440), so a single-row answer would mean nothing more.
  Small batches are no guide on their own: bert-mini's memory grows 0.9 MB/row between
  8 and 16 rows/chip and 10.6 MB/row between 1,024 and 2,056. When `budget` compiles are
  spent first, the answer is the bracket (fits, does not fit)."""
  limit = chip.usable_gib * pc.GIB
  seen = {shape.batch // shards: first}           # rows -> compiled (or refused)
  lo, hi = 0, None

  def note(r: int, c: pc.Compiled) -> None:
    nonlocal lo, hi
    if fits(c, chip):
      lo = max(lo, r)
    else:
      hi = r if hi is None else min(hi, r)

  def aim() -> int:
    sized = sorted((r, c.memory["total"]) for r, c in seen.items() if c.error is None)
    below = [p for p in sized if p[1] <= limit]
    above = [p for p in sized if p[1] > limit]
    if above and below:
      (r0, m0), (r1, m1) = below[-1], above[0]
    elif len(below) >= 2 and below[-1][1] > below[-2][1]:
      (r0, m0), (r1, m1) = below[-2], below[-1]
    elif sized:              # proportional: from below, never past the line
      (r0, m0), (r1, m1) = (0, 0), (below[-1] if below else above[0])
    else:                    # only refusals: halve the smallest
      return max(1, min(seen) // 2)
    return r0 + int((limit - m0) * (r1 - r0) // max(m1 - m0, 1))

  for r, c in seen.items():
    note(r, c)
  while len(seen) <= budget and (hi is None or hi - lo > close(lo)) and lo < MAX_ROWS:
    guess = min(aim(), MAX_ROWS)
    if guess < lo + close(lo):
      guess = lo + close(lo)                       # the line says lo: confirm one step up
    elif hi is not None and guess > hi - close(lo):
      guess = hi - close(lo)
    if guess in seen:
      break
    seen[guess] = pc.compile_step(dataclasses.replace(shape, batch=guess * shards),
                                  devices, mesh, opt)
    note(guess, seen[guess])
  return lo, hi, len(seen) - 1


def report(shape: pc.Shape, topology: str, chip: pc.Chip, n: int, r: pc.Compiled,
           mfu: float, label: str) -> dict:
  """Print the plan and return it as a JSON-able record."""
  cfg, gib = shape.cfg, lambda b: b / pc.GIB
  shards = r.mesh["data"] * r.mesh["fsdp"]
  step_flops = flops.train_step(cfg, shape.batch, shape.length, shape.batch * shape.predictions)
  per_chip = step_flops / n
  seconds = per_chip / (chip.bf16_tflops * 1e12 * mfu)
  tokens = shape.batch * shape.length / n / seconds
  attention = {None: "einsum"}.get(cfg.attention_impl, cfg.attention_impl)
  fused = [k for k in r.custom_calls if "attention" in k.lower() or "flash" in k.lower()]
  mesh = " ".join(f"{k}={v}" for k, v in r.mesh.items())
  print(f"{label} ({cfg.num_layers} layers, D={cfg.hidden_size}) on {topology}: {n} chips "
        f"of {chip.name} ({chip.hbm_gib:g} GiB HBM, {chip.bf16_tflops:g} bf16 TFLOP/s), "
        f"mesh {mesh}")
  print(f"batch {shape.batch} x {shape.length} ({shape.batch // shards} rows/chip), "
        f"{cfg.dtype}, remat {cfg.remat_policy}, attention {attention} "
        f"(dropout {cfg.attention_dropout_rate:g}); compiled in {r.compile_s:.0f} s")
  record = {"recipe": label, "topology": topology, "chips": n, "chip": chip.name,
            "mesh": r.mesh, "batch": shape.batch, "length": shape.length,
            "rows_per_chip": shape.batch // shards, "dtype": cfg.dtype,
            "remat": cfg.remat_policy, "attention": attention,
            "attention_dropout": cfg.attention_dropout_rate, "compile_s": round(r.compile_s, 1),
            "memory": r.memory, "error": r.error, "collectives": r.collectives,
            "custom_calls": r.custom_calls, "fused_attention": fused, "mfu": mfu,
            "step_s": seconds, "tokens_per_s_per_chip": tokens}
  if r.error:
    print(f"memory/chip: the compiler refused it: {r.error}")
  else:
    m = r.memory
    verdict = "fits" if fits(r, chip) else "does NOT fit"
    print(f"memory/chip: arguments {gib(m['arguments']):.2f} GiB  temporaries "
          f"{gib(m['temporaries']):.2f} GiB  outputs {gib(m['outputs']):.2f} GiB "
          f"(donated {gib(m['aliased']):.2f})  total {gib(m['total']):.2f} GiB = "
          f"{m['total'] / (chip.hbm_gib * pc.GIB):.0%} of {chip.hbm_gib:g} GiB "
          f"({chip.usable_gib:g} usable): {verdict}")
  found = ", ".join(f"{k} {v}" for k, v in sorted(r.collectives.items())) or "none"
  print(f"collectives: {found} (ops in the compiled program; a loop body's count once)")
  print(f"fused attention: {', '.join(fused) if fused else 'none'} (custom calls: "
        f"{', '.join(sorted(r.custom_calls)) or 'none'})")
  print(f"at {mfu:.0%} MFU: step {seconds * 1e3:.1f} ms, {tokens:,.0f} tokens/s/chip "
        f"({per_chip / 1e12:.2f} TFLOP/chip/step, benchmarks/flops.py)")
  return record


def parse(argv):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--topology", required=True, help="e.g. " + pc.TOPOLOGY_EXAMPLES)
  p.add_argument("--model", default="bert-base", help="a preset (ignored with --config)")
  p.add_argument("--config", help="a recipe: train/configs/NAME.py[:ARG]")
  p.add_argument("--batch", type=int, help="global batch (default: the recipe's, or 256)")
  p.add_argument("--seq", type=int, help="sequence length (default: the recipe's, or 128)")
  p.add_argument("--predictions", type=int, help="masked positions per row (20 per 128)")
  p.add_argument("--data", type=int, help="mesh axes (default: the recipe's; data -1 = rest)")
  p.add_argument("--fsdp", type=int)
  p.add_argument("--tensor", type=int)
  p.add_argument("--dtype", choices=("bfloat16", "float32"))
  p.add_argument("--remat", choices=("none", "full", "dots", "dots_no_batch"))
  p.add_argument("--attention", choices=tuple(ATTENTION))
  p.add_argument("--attention-dropout", type=float)
  p.add_argument("--override", action="append", default=[], metavar="FIELD=VALUE",
                 help="any EncoderConfig field, e.g. num_layers=2 (repeatable)")
  p.add_argument("--mfu", type=float, default=0.4, help="for the step time (default 0.4)")
  p.add_argument("--max-batch", action="store_true", help="search the largest batch that fits")
  p.add_argument("--max-compiles", type=int, default=MAX_COMPILES,
                 help=f"compiles the search may spend (default {MAX_COMPILES})")
  p.add_argument("--json", help="also write the plan here")
  return p.parse_args(argv)


def plan(args) -> dict:
  shape, mesh, opt, label = resolve(args)
  if not 0 < args.mfu <= 1:
    raise ValueError(f"--mfu must be in (0, 1] (got {args.mfu})")
  chip_name = args.topology.split(":")[0]
  devices = pc.topology_devices(args.topology)
  chip = pc.CHIPS[chip_name]
  from train.parallel import Parallel
  try:
    par = Parallel("jit", mesh.data, mesh.fsdp, mesh.tensor, mesh.rules, devices=devices)
    par.check_batch(shape.batch // opt.grad_accum_steps)
  except ValueError as e:
    raise ValueError(f"{args.topology} has {len(devices)} chips: {e}") from None
  first = pc.compile_step(shape, devices, mesh, opt)
  record = report(shape, args.topology, chip, len(devices), first, args.mfu, label)
  if args.max_batch:
    rows, miss, spent = largest_batch(shape, devices, mesh, opt, chip, par.batch_shards,
                                      first, args.max_compiles)
    record.update(max_rows_per_chip=rows, min_rows_not_fitting=miss, search_compiles=spent)
    settled = ("" if miss is not None and miss - rows <= close(rows) else " (the search cap)" if rows >= MAX_ROWS
               else f"; {miss} does not fit, in between not compiled" if miss
               else "; nothing larger compiled")
    print(f"largest batch that fits in {chip.usable_gib:g} GiB: {rows} rows/chip = "
          f"{rows * par.batch_shards} global{settled if settled else f'; {miss} does not fit'} ({spent} more compiles)")
  return record


def main(argv=None):
  args = parse(argv)
  try:
    record = plan(args)
  except (ValueError, RuntimeError, OSError) as e:
    print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
    sys.exit(2)
  if args.json:
    with open(args.json, "w") as f:
      json.dump(record, f, indent=1)


if __name__ == "__main__":
  main()
