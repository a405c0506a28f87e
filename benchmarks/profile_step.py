"""`python -m benchmarks.profile_step`: where one production training step spends its time.

Traces a few calls of the production step (impl_jax.train, or the inference forward)
with jax.profiler and adds up XLA's executed operations by kind (dots, loop fusions,
copies, dynamic-update-slices of scanned layers, ...), so a step's time can be split
into matmul and everything else. XLA:CPU only reports its operations when
`--xla_cpu_enable_xprof_traceme=true` is in XLA_FLAGS; this module sets it before JAX
starts.

  python -m benchmarks.profile_step --model bert-base --batch 8 --seq 128
  python -m benchmarks.profile_step --model bert-mini --batch 32 --bench inference

Durations are summed over operations; operations that run concurrently on the two
cores both count, so the total can exceed the wall time of a step.
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_enable_xprof_traceme=true").strip()

import argparse  # noqa: E402
import collections  # noqa: E402
import glob  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402


def profile(step, calls: int) -> tuple[collections.Counter, collections.Counter, float]:
  """(seconds per call by op kind, op count per call by kind, wall seconds per call)."""
  from jax.profiler import ProfileData
  with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    with jax.profiler.trace(d):
      for _ in range(calls):
        step()
    wall = (time.perf_counter() - t0) / calls
    path = glob.glob(os.path.join(d, "**", "*.xplane.pb"), recursive=True)[0]
    data = ProfileData.from_file(path)
  seconds, count = collections.Counter(), collections.Counter()
  for plane in data.planes:
    for line in plane.lines:
      if "XLA" not in line.name:  # XLA's executor threads, not Python's
        continue
      for ev in line.events:
        if ev.name.startswith(("ThunkExecutor", "end:")):
          continue
        kind = re.sub(r"\.\d+$", "", ev.name)  # ynn_fusion.12 -> ynn_fusion
        seconds[kind] += ev.duration_ns / 1e9 / calls
        count[kind] += 1
  return seconds, collections.Counter({k: v // calls for k, v in count.items()}), wall


def main(argv=None):
  from benchmarks import impl_jax, inputs
  from jaxbert import get_config
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--model", default="bert-base")
  p.add_argument("--batch", type=int, default=8)
  p.add_argument("--seq", type=int, default=128)
  p.add_argument("--bench", choices=("train", "inference"), default="train")
  p.add_argument("--calls", type=int, default=2)
  p.add_argument("--top", type=int, default=15)
  args = p.parse_args(argv)
  cfg = get_config(args.model)
  batch = inputs.mlm_batch(cfg, args.batch, args.seq)
  runner = getattr(impl_jax, args.bench)(cfg, batch)
  runner.step()  # warm-up
  seconds, count, wall = profile(runner.step, args.calls)
  total = sum(seconds.values())
  dots = sum(v for k, v in seconds.items() if "dot" in k or "ynn" in k or "xnn" in k)
  print(f"{args.bench} {args.model} {args.batch}x{args.seq}: wall {wall:.3f} s per call; "
        f"XLA ops {total:.3f} s, of which dots (dot, ynn/xnn fusions) {dots:.3f} s "
        f"({100 * dots / total:.0f}%)")
  print(f"{'seconds':>8}  {'ops':>5}  kind")
  for kind, v in seconds.most_common(args.top):
    print(f"{v:8.3f}  {count[kind]:5d}  {kind}")


if __name__ == "__main__":
  main()
