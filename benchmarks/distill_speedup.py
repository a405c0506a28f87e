"""Inference speed-up of a distilled student over its teacher (DistilBERT reports 60%).

    python -m benchmarks.distill_speedup --teacher=runs/default/hf --student=runs/distill/hf

Both models are loaded from their Hugging Face exports and timed interleaved
(benchmarks/timing.py: one warm-up call, then each repetition runs both, the order
rotating) as jitted forwards at batch B x L: the
encoder alone (last hidden state) and with MLM logits at every position. Writes
benchmarks/results/distill_speedup.{json,md}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

import jaxbert
from benchmarks import environment
from benchmarks.timing import Runner, interleave


def _call(f, params, ids, mask):
  f(params, ids, mask).block_until_ready()


def forward(model, head: bool):
  def f(params, ids, mask):
    out = model.apply({"params": params}, ids, attention_mask=mask)
    return out.mlm_logits if head else out.last_hidden_state
  return jax.jit(f, compiler_options=jaxbert.compiler_options())


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--teacher", default="runs/default/hf")
  ap.add_argument("--student", default="runs/distill/hf")
  ap.add_argument("--batch", type=int, default=32)
  ap.add_argument("--seq", type=int, default=128)
  ap.add_argument("--reps", type=int, default=15)
  ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  args = ap.parse_args()

  models = {name: jaxbert.from_pretrained(path)
            for name, path in (("teacher", args.teacher), ("student", args.student))}
  vocab = models["teacher"][0].config.vocab_size
  ids = jnp.asarray(np.random.default_rng(0).integers(5, vocab, (args.batch, args.seq)),
                    jnp.int32)
  mask = jnp.ones_like(ids)
  rows = []
  for head in (False, True):
    runners = [Runner(n, functools.partial(_call, forward(m, head), p, ids, mask))
               for n, (m, p) in models.items()]
    med = {n: t.median_s for n, t in interleave(runners, args.reps).items()}
    rows.append({"what": "encoder + MLM logits (all positions)" if head else "encoder",
                 "teacher_ms": 1e3 * med["teacher"], "student_ms": 1e3 * med["student"],
                 "speedup": med["teacher"] / med["student"],
                 "teacher_layers": models["teacher"][0].config.num_layers,
                 "student_layers": models["student"][0].config.num_layers})
  result = {"env": environment.describe(),
            "batch": args.batch, "seq": args.seq, "reps": args.reps, "rows": rows}
  os.makedirs(args.out, exist_ok=True)
  with open(os.path.join(args.out, "distill_speedup.json"), "w") as f:
    json.dump(result, f, indent=2, default=str)
  lines = [f"# Student vs teacher inference, batch {args.batch} x {args.seq}, "
           f"median of {args.reps} interleaved runs", "",
           "| forward | teacher layers | student layers | teacher ms | student ms | speed-up |",
           "|---|---|---|---|---|---|"]
  lines += [f"| {r['what']} | {r['teacher_layers']} | {r['student_layers']} | "
            f"{r['teacher_ms']:.1f} | {r['student_ms']:.1f} | {r['speedup']:.2f}x |" for r in rows]
  with open(os.path.join(args.out, "distill_speedup.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
