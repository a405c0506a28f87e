"""XLA compiler options jaxbert compiles forward passes with, per backend.

    fn = jax.jit(forward, compiler_options=jaxbert.compiler_options())

CPU, forward only (inference, evaluation): no YNNPACK library fusions
(`xla_cpu_experimental_ynn_fusion_type` empty). In jaxlib 0.10, XLA:CPU hands dots, and
the LayerNorm, bias and residual around them, to YNNPACK as one fusion. Those fusions ran
the bert-mini encoder forward at 32x128 1.21-1.30x slower than XLA's own dot and loop
emitters, and bert-base's at 8x128 equally fast (1.00x). Training steps keep XLA's
defaults (training=True gives None): without the fusions the bert-base step was 0.90-0.97x
as fast and bert-mini's 0.99-1.00x. Measured side by side in one process:
`python -m benchmarks.optimisations --only xla_options --name optimisations_xla`
(benchmarks/results/optimisations_xla.md).

GPU and TPU: no options (None).

The options are per compilation, not process-wide: other JAX code in the process keeps
XLA's defaults. If this jaxlib does not know an option, it is dropped (checked once by
compiling a one-line function), so a jaxlib upgrade cannot break compilation.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}  # "" = no YNNPACK fusions


def compiler_options(backend: str | None = None, *, training: bool = False
                     ) -> dict[str, str] | None:
  """The options for a forward pass (training=False) or a training step on `backend`
  (default: JAX's default backend); None = XLA's defaults."""
  backend = backend or jax.default_backend()
  if backend != "cpu" or training:
    return None
  return dict(CPU_OPTIONS) if _accepted(tuple(sorted(CPU_OPTIONS.items()))) else None


@functools.cache
def _accepted(options: tuple[tuple[str, str], ...]) -> bool:
  try:
    jax.jit(lambda x: x + 1).lower(jnp.zeros((), jnp.float32)).compile(
        compiler_options=dict(options))
    return True
  except Exception:  # an option this jaxlib does not have (XlaRuntimeError)
    return False
