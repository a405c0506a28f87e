"""Placement and compilation: the only module that knows where arrays live.

One step body (train/steps.py) is compiled three ways, chosen by `config.parallel.mode`:

  jit        jax.jit over a Mesh(data, fsdp, tensor); parameter and optimizer-state
             shardings come from the models' logical annotations and the rules table
             (jaxbert/sharding.py); the batch is split over data x fsdp; XLA inserts
             the collectives; the state is donated.
  pmap       jax.pmap over the local devices with axis_name; the state is passed
             unmapped (in_axes=None, out_axes=None: replicated), the batch reshaped to
             [devices, B / devices, ...]; reductions are explicit psums.
  shard_map  the same per-device body as pmap under jax.jit(jax.shard_map(...)).
             check_vma=False: with the default check_vma=True the gradient of a
             replicated parameter comes back already summed across devices, and the
             step's psum would multiply it by the device count. With it off, the body
             sees per-device gradients exactly as under pmap and `cross_device_sum`
             is the only reduction.

In every mode the state is one global pytree (replicated or sharded jax.Arrays), so
checkpoints do not depend on the mode. Multi-host: `from_config` joins the cluster
(train/multihost.py: initialize); each process feeds its own rows and global arrays are
assembled with jax.make_array_from_process_local_data. `data_shard()` says which rows a
process loads: processes whose devices hold the same batch shards (a tensor or fsdp
axis spanning hosts) load the same rows. pmap runs over every process's devices (its
psums span hosts); its replicated outputs are per-process arrays, which `global_state`
turns into global ones for orbax. train/multihost.py has the other multi-host seams.

    par = Parallel.from_config(config.parallel)
    state = par.init_state(init_fn, rng)          # init_fn(rng) -> TrainState, boxed params
    step = par.compile_train(loss_fn=..., tx=..., schedule=..., accum_steps=...)
    state, metrics = step(state, par.put_batch(batch), rng, extra)
    totals = par.compile_eval(loss_fn=...)(state.params, par.put_batch(batch), extra)
    outputs = par.compile_predict(fn)(state.params, par.put_batch(batch), extra)
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import PartitionSpec as P

from jaxbert import sharding as S
from jaxbert.xla import compiler_options
from train import multihost, steps

MODES = ("jit", "pmap", "shard_map")
AXIS = "batch"                  # pmap's axis name


class Parallel:
  """A parallel mode over a mesh: places state, batches and extras; compiles steps."""

  def __init__(self, mode: str, data: int = -1, fsdp: int = 1, tensor: int = 1,
               rules=S.DEFAULT_RULES, devices=None):
    if mode not in MODES:
      raise ValueError(f"parallel.mode must be one of {MODES} (got {mode!r})")
    if mode != "jit" and (fsdp, tensor) != (1, 1):
      raise ValueError(f"parallel.mode={mode} is data parallel only: set parallel.fsdp=1 "
                       f"and parallel.tensor=1 (got fsdp={fsdp}, tensor={tensor})")
    self.mode = mode
    self.rules = tuple(tuple(r) for r in rules)
    devices = list(jax.devices() if devices is None else devices)
    self.mesh = S.make_mesh(data, fsdp, tensor, devices)
    self.batch_shards = self.mesh.shape["data"] * self.mesh.shape["fsdp"]
    mesh_devices = list(self.mesh.devices.flat)
    self.local_devices = [d for d in mesh_devices if d.process_index == jax.process_index()]
    self.pmap_devices = sorted(mesh_devices, key=lambda d: (d.process_index, d.id))
    self.state_shardings = None     # set by init_state / abstract_state (jit out_shardings)
    self.rows = self.data_shard()   # (block, blocks) of each global batch this process loads

  @classmethod
  def from_config(cls, pc) -> "Parallel":
    multihost.initialize(pc)
    rules = pc.get("rules") or S.DEFAULT_RULES
    return cls(pc.mode, pc.get("data", -1), pc.get("fsdp", 1), pc.get("tensor", 1), rules)

  def data_shard(self) -> tuple[int, int]:
    """(index, count): this process loads block `index` of the `count` equal blocks of
    rows of each global batch (the loader's shard_index / shard_count).

    A process's batch shards are the (data, fsdp) positions of its devices; processes
    holding the same ones (an fsdp or tensor axis across hosts) load the same rows."""
    data, fsdp, _ = self.mesh.devices.shape
    owned: dict[int, set[int]] = {}
    for (i, j, _), d in np.ndenumerate(self.mesh.devices):
      owned.setdefault(d.process_index, set()).add(i * fsdp + j)
    groups = sorted({tuple(sorted(v)) for v in owned.values()})
    flat = [s for g in groups for s in g]
    if len(flat) != len(set(flat)) or len(flat) != data * fsdp:
      raise ValueError(f"the mesh data={data} x fsdp={fsdp} splits batch shards unevenly "
                       f"across processes; order the mesh so each process holds whole shards")
    return groups.index(tuple(sorted(owned[jax.process_index()]))), len(groups)

  def check_batch(self, global_batch: int) -> None:
    _, count = self.rows
    local = len(self.local_devices) if self.mode == "pmap" else self.batch_shards // count
    if global_batch <= 0 or global_batch % self.batch_shards or global_batch % (count * local):
      raise ValueError(f"batch size {global_batch} is not a positive multiple of the "
                       f"{self.batch_shards} batch shards (devices over data x fsdp) and of "
                       f"{count} processes x {local} local batch shards")

  @contextlib.contextmanager
  def context(self):
    """Mesh + logical rules for tracing (jit mode's activation constraints)."""
    if self.mode == "jit":
      with jax.set_mesh(self.mesh), nn.logical_axis_rules(self.rules):
        yield
    else:
      yield

  # Placement.
  def shardings(self, abstract_boxed: Any) -> Any:
    """NamedShardings for a boxed (logically annotated) pytree in this mode."""
    if self.mode == "jit":
      return S.logical_shardings(abstract_boxed, self.mesh, self.rules)
    return jax.tree.map(lambda _: S.replicated(self.mesh), nn.unbox(abstract_boxed))

  def abstract_state(self, init_fn: Callable, rng: jax.Array) -> Any:
    """ShapeDtypeStructs with shardings of init_fn(rng) (unboxed): orbax's restore target."""
    boxed = jax.eval_shape(init_fn, rng)
    self.state_shardings = self.shardings(boxed)
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                        nn.unbox(boxed), self.state_shardings)

  def init_state(self, init_fn: Callable, rng: jax.Array) -> Any:
    """Run init_fn(rng) (returning boxed values) straight into its shardings."""
    shardings = self.state_shardings = self.shardings(jax.eval_shape(init_fn, rng))
    with self.context():
      return jax.jit(lambda r: nn.unbox(init_fn(r)), out_shardings=shardings)(rng)

  def put_extra(self, tree: Any, boxed: Any = None) -> Any:
    """A non-trained pytree (a teacher's params): logical shardings under jit when
    `boxed` annotations are given, else replicated."""
    if tree is None:
      return None
    if boxed is not None:
      return jax.device_put(tree, self.shardings(boxed))
    return jax.device_put(tree, S.replicated(self.mesh))

  def put_batch(self, batch: dict) -> dict:
    """This process's rows (numpy [B_local, ...]) -> the global batch for the step."""
    if self.mode == "pmap":
      n = len(self.local_devices)
      return {k: np.asarray(v).reshape((n, -1) + np.shape(v)[1:]) for k, v in batch.items()}
    sharding, (_, count) = S.batch_sharding(self.mesh), self.rows
    return {k: jax.make_array_from_process_local_data(
                sharding, np.asarray(v), (np.shape(v)[0] * count,) + np.shape(v)[1:])
            for k, v in batch.items()}

  def global_state(self, tree: Any) -> Any:
    """pmap's replicated outputs live on this process's devices only; orbax needs global
    arrays: the same per-device buffers, viewed as replicated over the whole mesh."""
    if self.mode != "pmap" or jax.process_count() == 1:
      return tree
    sharding = S.replicated(self.mesh)

    def lift(x):
      if not isinstance(x, jax.Array) or not x.is_fully_addressable:
        return x
      by_device = {s.device: s.data for s in x.addressable_shards}
      first = next(iter(by_device.values()))
      shards = [by_device[d] if d in by_device else jax.device_put(first, d)
                for d in self.local_devices]
      return jax.make_array_from_single_device_arrays(x.shape, sharding, shards)
    return jax.tree.map(lift, tree)

  # Compilation.
  def _compile(self, body: Callable, n_args: int, donate: bool,
               per_row: bool = False) -> Callable:
    """body(state_or_params, batch, rng?/extra...) -> outputs; batch is argument 1.

    donate: the training step (state donated); otherwise a forward-only evaluation.
    per_row: the outputs have the batch's rows (split like it) instead of being
    reduced over devices."""
    options = compiler_options(training=donate)  # jaxbert/xla.py; pmap takes none
    if self.mode == "jit" and donate and self.state_shardings is not None:
      fn = jax.jit(body, donate_argnums=0, compiler_options=options,
                   out_shardings=(self.state_shardings, S.replicated(self.mesh)))
    elif self.mode == "jit":
      fn = jax.jit(body, donate_argnums=(0,) if donate else (), compiler_options=options)
    elif self.mode == "pmap":
      in_axes = tuple(0 if i == 1 else None for i in range(n_args))
      fn = jax.pmap(functools.partial(body, axis_name=AXIS), axis_name=AXIS,
                    in_axes=in_axes, out_axes=0 if per_row else None,
                    devices=self.pmap_devices)
    else:
      specs = tuple(P(S.BATCH_AXES) if i == 1 else P() for i in range(n_args))
      mapped = jax.shard_map(functools.partial(body, axis_name=S.BATCH_AXES),
                             mesh=self.mesh, in_specs=specs,
                             out_specs=P(S.BATCH_AXES) if per_row else P(), check_vma=False)
      fn = jax.jit(mapped, donate_argnums=(0,) if donate else (), compiler_options=options)

    def call(*args):
      with self.context():
        return fn(*args)

    def lower(*args):   # ahead-of-time: args may be ShapeDtypeStructs with shardings
      with self.context():
        return fn.lower(*args)
    call.lower = lower
    return call

  def compile_train(self, *, loss_fn: Callable, tx, schedule, accum_steps: int = 1) -> Callable:
    """step(state, batch, rng, extra=None) -> (state, metrics); the state is donated.
    step.lower(same arguments, abstract or concrete) lowers it without running it
    (benchmarks/pod_compile.py compiles it for TPU topologies this way)."""
    body = functools.partial(steps.train_step, loss_fn=loss_fn, tx=tx, schedule=schedule,
                             accum_steps=accum_steps)
    fn = self._compile(body, 4, donate=True)
    step = lambda state, batch, rng, extra=None: fn(state, batch, rng, extra)
    step.lower = lambda state, batch, rng, extra=None: fn.lower(state, batch, rng, extra)
    return step

  def compile_eval(self, *, loss_fn: Callable) -> Callable:
    """evaluate(params, batch, extra=None) -> {name: (sum, count)} over the global batch."""
    body = functools.partial(steps.eval_step, loss_fn=loss_fn)
    fn = self._compile(body, 3, donate=False)
    return lambda params, batch, extra=None: fn(params, batch, extra)

  def compile_predict(self, fn: Callable) -> Callable:
    """predict(params, batch, extra=None) -> numpy {name: [B_global, ...]} on every
    process: `fn(params, batch, extra)`'s per-row outputs (predictions, for metrics
    that are no sums over examples), gathered. Every process must call it."""
    compiled = self._compile(lambda params, batch, extra, axis_name=None:
                             fn(params, batch, extra), 3, donate=False, per_row=True)

    def predict(params, batch, extra=None):
      out = compiled(params, batch, extra)
      if self.mode != "pmap":   # global arrays: all-gathered across processes
        return multihost.fetch(out)
      out = jax.tree.map(lambda x: np.asarray(x).reshape((-1,) + x.shape[2:]), out)  # [B, ...]
      if jax.process_count() > 1:  # each process holds its own rows, in process order
        from jax.experimental import multihost_utils
        out = multihost_utils.process_allgather(out, tiled=True)
      return out
    return predict
