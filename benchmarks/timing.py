"""Side-by-side timing: implementations of one case interleaved rep by rep.

Other processes share this machine's cores, so absolute times drift; running the
implementations of a case alternately (rotating who goes first) and taking medians
keeps their ratios honest even when the load changes during the run.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Callable


@dataclasses.dataclass
class Runner:
  """One implementation of a case, ready to run.

  step(): run once and block until the result exists (stateful runners, e.g. a
  training step, carry their state from call to call).
  """
  impl: str
  step: Callable[[], None]
  compile_s: float | None = None        # JAX: lower + compile; torch.compile: first call
  memory_bytes: int | None = None       # JAX: compiled memory analysis; torch: None
  flops: float | None = None            # analytic FLOPs of one step (flops.py)
  note: str = ""


@dataclasses.dataclass
class Timing:
  median_s: float
  min_s: float
  max_s: float
  reps: int
  warmup_s: float


def interleave(runners: list[Runner], reps: int, warmup: int = 1) -> dict[str, Timing]:
  """Times every runner `reps` times, alternating them; returns per-impl medians."""
  first = {}
  for r in runners:
    t0 = time.perf_counter()
    for _ in range(warmup):
      r.step()
    first[r.impl] = time.perf_counter() - t0
  times = {r.impl: [] for r in runners}
  for i in range(reps):
    order = runners[i % len(runners):] + runners[:i % len(runners)]
    for r in order:
      t0 = time.perf_counter()
      r.step()
      times[r.impl].append(time.perf_counter() - t0)
  return {k: Timing(statistics.median(v), min(v), max(v), len(v), first[k])
          for k, v in times.items()}


def timed(fn: Callable, *args, **kwargs):
  """(fn(*args), seconds)."""
  t0 = time.perf_counter()
  out = fn(*args, **kwargs)
  return out, time.perf_counter() - t0
