"""Compile the production training step for a TPU topology on a CPU host, and read the result.

With libtpu installed, `jax.experimental.topologies.get_topology_desc` returns a TPU
slice's devices without the slice; the XLA TPU compiler runs on the host and compiles
`train.steps.train_step` (with `jaxbert.losses.mlm_loss_fn`, `train.optim.make_optimizer`
and the state shardings of `train.parallel.Parallel`'s jit mode) for them. What comes
back is a per-chip program: its memory analysis, and its HLO text (collectives, custom
calls).

    devices = topology_devices("v5e:8x8")            # 64 compile-only TPU devices
    plan = compile_step(Shape(cfg, batch=256, length=128, predictions=20), devices,
                        Mesh(data=-1, fsdp=1, tensor=1), opt)
    plan.memory  # {"arguments": bytes, "temporaries": ..., "outputs": ..., "total": ...}
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import importlib.util
import os
import re
import sys
import time

import jax
import jax.numpy as jnp

from jaxbert import PretrainingModel
from jaxbert import sharding as S
from jaxbert.configs import EncoderConfig

GIB = 2 ** 30
INSTALL = 'pip install -e ".[tpu]"'
TOPOLOGY_EXAMPLES = "v4:2x2x1, v4:4x4x4, v5e:2x2, v5e:8x8, v5e:16x16, v5p:4x4x4, v6e:8x16"
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")


@dataclasses.dataclass(frozen=True)
class Chip:
  name: str
  hbm_gib: float          # HBM per chip, as Google's Cloud TPU pages publish it
  bf16_tflops: float      # peak dense bf16 per chip, same source
  usable_gib: float       # what libtpu 0.0.42.1 lets a program use ("available HBM")


# Cloud TPU system-architecture pages (v4, v5e, v5p, v6e), per chip; the usable HBM is
# libtpu's own figure, read from its out-of-memory refusals on these topologies. v4 and
# v5p are megacore chips: one JAX device per chip (two TensorCores), as on a real pod.
CHIPS = {
    "v4": Chip("TPU v4", 32, 275, 30.75),
    "v5e": Chip("TPU v5e", 16, 197, 15.75),
    "v5p": Chip("TPU v5p", 95, 459, 95.74),
    "v6e": Chip("TPU v6e", 32, 918, 31.25),
}
MEGACORE = ("v4",)        # libtpu's default for these is one device per TensorCore


@dataclasses.dataclass(frozen=True)
class Shape:
  """What one step sees: model, global batch B, length L, P masked positions per row."""
  cfg: EncoderConfig
  batch: int
  length: int
  predictions: int


@dataclasses.dataclass(frozen=True)
class Mesh:
  data: int = -1
  fsdp: int = 1
  tensor: int = 1
  rules: tuple = S.DEFAULT_RULES


@dataclasses.dataclass
class Compiled:
  memory: dict[str, int]           # per chip, bytes
  collectives: dict[str, int]      # op kind -> count in the HLO text
  custom_calls: dict[str, int]     # custom-call target -> count
  compile_s: float
  mesh: dict[str, int]
  error: str | None = None         # set when the compiler refused (e.g. out of memory)


def libtpu_installed() -> bool:
  return importlib.util.find_spec("libtpu") is not None


def chip_of(topology: str) -> Chip:
  return CHIPS[topology.split(":")[0]]


@contextlib.contextmanager
def quiet_stderr():
  """Send file descriptor 2 to /dev/null: libtpu's C++ start-up warnings about the
  missing TPU hardware are noise on a CPU host (its errors come back as exceptions)."""
  sys.stderr.flush()
  saved = os.dup(2)
  with open(os.devnull, "w") as null:
    os.dup2(null.fileno(), 2)
    try:
      yield
    finally:
      os.dup2(saved, 2)
      os.close(saved)


def topology_devices(topology: str) -> list:
  """The compile-only devices of a TPU topology such as "v5e:8x8" (one per chip).

  Raises ValueError for an unknown or malformed name, RuntimeError without libtpu."""
  from jax.experimental import topologies
  kind, _, shape = topology.partition(":")
  if kind not in CHIPS or not re.fullmatch(r"\d+(x\d+){1,2}", shape):
    raise ValueError(f"unknown TPU topology {topology!r}; examples: {TOPOLOGY_EXAMPLES} "
                     f"(chips: {', '.join(CHIPS)})")
  if not libtpu_installed():
    raise RuntimeError(f"libtpu is not installed; install it with: {INSTALL}")
  kwargs = {"chip_config_name": "megacore"} if kind in MEGACORE else {}
  try:
    with quiet_stderr():
      return list(topologies.get_topology_desc(topology_name=topology, platform="tpu",
                                               **kwargs).devices)
  except Exception as e:  # JaxRuntimeError: INVALID_ARGUMENT from libtpu
    reason = " ".join(str(e).split())
    raise ValueError(f"TPU topology {topology!r} rejected by libtpu ({reason}); "
                     f"examples: {TOPOLOGY_EXAMPLES}") from None


def abstract_batch(shape: Shape, sharding) -> dict:
  """ShapeDtypeStructs of the data pipeline's batch (jaxbert/data/__init__.py)."""
  b, l, p = shape.batch, shape.length, shape.predictions
  spec = {"input_ids": ((b, l), jnp.int32), "attention_mask": ((b, l), jnp.int32),
          "masked_positions": ((b, p), jnp.int32), "masked_ids": ((b, p), jnp.int32),
          "masked_weights": ((b, p), jnp.float32), "example_weights": ((b,), jnp.float32)}
  if shape.cfg.type_vocab_size:
    spec["token_type_ids"] = ((b, l), jnp.int32)
  if shape.cfg.pair_head:
    spec["sentence_labels"] = ((b,), jnp.int32)
  return {k: jax.ShapeDtypeStruct(s, d, sharding=sharding) for k, (s, d) in spec.items()}


def lower_step(shape: Shape, devices: list, mesh: Mesh, opt, learning_rate: float = 1e-4,
               num_train_steps: int = 10_000):
  """The production step lowered for `devices`, as train/pretrain.py builds it and
  train/parallel.py's jit mode compiles it (state donated, out_shardings the state's)."""
  from jaxbert import losses
  from train import optim, parallel, state as state_lib
  par = parallel.Parallel("jit", mesh.data, mesh.fsdp, mesh.tensor, mesh.rules,
                          devices=devices)
  par.check_batch(shape.batch // opt.grad_accum_steps)
  model = PretrainingModel(shape.cfg)
  tx, schedule = optim.make_optimizer(learning_rate, num_train_steps, opt)

  def init_fn(rng):
    ids = jnp.zeros((1, shape.length), jnp.int32)
    return state_lib.create_state(model.init(rng, ids)["params"], tx)

  state = par.abstract_state(init_fn, jax.random.key(0))
  rep = S.replicated(par.mesh)
  batch = abstract_batch(dataclasses.replace(shape, batch=shape.batch // opt.grad_accum_steps),
                         S.batch_sharding(par.mesh))
  rng = jax.ShapeDtypeStruct((), jax.eval_shape(jax.random.key, 0).dtype, sharding=rep)
  loss_fn = functools.partial(losses.mlm_loss_fn, model=model,
                              pair=shape.cfg.pair_head is not None)
  step = par.compile_train(loss_fn=loss_fn, tx=tx, schedule=schedule,
                           accum_steps=opt.grad_accum_steps)
  return step.lower(state, batch, rng, None), dict(par.mesh.shape)


def compile_step(shape: Shape, devices: list, mesh: Mesh, opt) -> Compiled:
  """Compile for the topology; a compiler refusal (out of HBM) comes back as `error`."""
  t0 = time.perf_counter()
  lowered, mesh_shape = lower_step(shape, devices, mesh, opt)
  try:
    compiled = lowered.compile()
  except Exception as e:  # JaxRuntimeError RESOURCE_EXHAUSTED: does not fit
    return Compiled({}, {}, {}, time.perf_counter() - t0, mesh_shape,
                    error=" ".join(str(e).split())[:300])
  seconds = time.perf_counter() - t0
  text = compiled.as_text()
  return Compiled(memory(compiled), collectives(text), custom_calls(text), seconds, mesh_shape)


def memory(compiled) -> dict[str, int]:
  """Per-chip bytes: arguments (state + batch), temporaries, outputs; total counts the
  donated (aliased) state once."""
  m = compiled.memory_analysis()
  out = {"arguments": m.argument_size_in_bytes, "temporaries": m.temp_size_in_bytes,
         "outputs": m.output_size_in_bytes, "aliased": m.alias_size_in_bytes,
         "code": m.generated_code_size_in_bytes}
  out["total"] = (out["arguments"] + out["temporaries"] + out["outputs"] - out["aliased"]
                  + out["code"])
  return {k: int(v) for k, v in out.items()}


def collectives(hlo: str) -> dict[str, int]:
  """Collective ops in the compiled HLO (async start/done pairs count once). An op in
  a loop body (the scanned layers) counts once, not once per iteration."""
  found = re.findall(r"=\s*\S.*?\s(" + "|".join(COLLECTIVES) + r")(?:-start)?\(", hlo)
  return dict(collections.Counter(found))


def custom_calls(hlo: str) -> dict[str, int]:
  """custom-call targets in the compiled HLO (a fused attention kernel would be one)."""
  return dict(collections.Counter(re.findall(r'custom_call_target="([^"]+)"', hlo)))
