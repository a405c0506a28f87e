"""The device's matmul peak, measured: a large square matmul, FLOPs = 2 n^3.

float32 on CPU, bfloat16 on GPU/TPU. Measured with XLA and, on the same device,
with PyTorch; the higher of the two is the peak that MFU is reported against.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp


def jax_matmul(n: int, dtype: str, reps: int = 5) -> dict:
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.dtype(dtype))
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.dtype(dtype))
  f = jax.jit(jnp.dot)
  f(a, b).block_until_ready()
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    f(a, b).block_until_ready()
    times.append(time.perf_counter() - t0)
  best = min(times)  # a peak: the best repetition, least disturbed by other load
  return {"impl": "xla", "n": n, "dtype": dtype, "best_s": best,
          "median_s": statistics.median(times), "flops_per_s": 2.0 * n ** 3 / best}


def torch_matmul(n: int, dtype: str, reps: int = 5) -> dict | None:
  try:
    import torch
  except ImportError:
    return None
  dev = "cuda" if torch.cuda.is_available() else "cpu"
  tdtype = torch.bfloat16 if dtype == "bfloat16" else torch.float32
  a = torch.randn(n, n, device=dev, dtype=tdtype)
  b = torch.randn(n, n, device=dev, dtype=tdtype)
  sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
  a @ b
  sync()
  times = []
  for _ in range(reps):
    t0 = time.perf_counter()
    a @ b
    sync()
    times.append(time.perf_counter() - t0)
  best = min(times)
  return {"impl": "torch", "n": n, "dtype": dtype, "best_s": best,
          "median_s": statistics.median(times), "flops_per_s": 2.0 * n ** 3 / best}


def measure(n: int, dtype: str, reps: int = 5) -> dict:
  runs = [r for r in (jax_matmul(n, dtype, reps), torch_matmul(n, dtype, reps)) if r]
  return {"flops_per_s": max(r["flops_per_s"] for r in runs), "runs": runs}
