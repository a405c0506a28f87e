"""The sharding vocabulary, defined once: logical axes, mesh axes, and the rules between.

Models name logical axes only (docs/design.md, "Parallel modes"); `train/parallel.py`
turns them into placements with a rules table, which experiment configs may override.

  parameter axes   vocab, embed, mlp, heads, kv, layers
  activation axes  act_batch, act_len, act_embed
  mesh axes        data (pure data parallel), fsdp (data parallel + sharded
                   parameters and optimizer state), tensor (model parallel)
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "fsdp", "tensor")
PARAM_AXES = ("vocab", "embed", "mlp", "heads", "kv", "layers")
ACTIVATION_AXES = ("act_batch", "act_len", "act_embed")
BATCH_AXES = ("data", "fsdp")          # the batch dimension is split over both

# Logical axis -> mesh axis (or axes, or None = replicated). FSDP shards the
# embedding width of every parameter; tensor parallelism splits vocab, MLP and heads.
DEFAULT_RULES: tuple[tuple[str, Any], ...] = (
    ("act_batch", BATCH_AXES),
    ("act_len", None),
    ("act_embed", None),
    ("vocab", "tensor"),
    ("embed", "fsdp"),
    ("mlp", "tensor"),
    ("heads", "tensor"),
    ("kv", None),
    ("layers", None),
)


def _device_grid(shape: tuple[int, int, int], devices: list) -> np.ndarray:
  """Devices arranged as [data, fsdp, tensor] so the inner axes stay on fast links.

  TPU: JAX's mesh utilities map the axes onto the slice's physical torus, and with
  several slices (devices carry `slice_index`) the data axis spans slices over the
  data-centre network while fsdp and tensor stay inside each slice. Elsewhere
  (GPU, CPU): devices ordered by (process, id) and reshaped row-major, so tensor, then
  fsdp, fill each host's devices first and data parallelism spans the hosts.
  """
  from jax.experimental import mesh_utils
  if devices and devices[0].platform == "tpu":
    slices = len({getattr(d, "slice_index", 0) for d in devices})
    if slices > 1 and shape[0] % slices:
      raise ValueError(f"mesh data={shape[0]} is not a multiple of the {slices} TPU slices "
                       f"(data parallelism spans slices)")
    try:
      if slices > 1:
        return mesh_utils.create_hybrid_device_mesh(
            (shape[0] // slices, shape[1], shape[2]), (slices, 1, 1), devices,
            allow_split_physical_axes=True)
      return mesh_utils.create_device_mesh(shape, devices, allow_split_physical_axes=True)
    except (AssertionError, NotImplementedError, ValueError):
      pass    # a shape the topology cannot map: fall back to the plain order
  ordered = sorted(devices, key=lambda d: (d.process_index, d.id))
  return np.asarray(ordered, dtype=object).reshape(shape)


def make_mesh(data: int = -1, fsdp: int = 1, tensor: int = 1,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A (data, fsdp, tensor) Mesh with Auto axis types; data=-1 takes the remaining devices."""
  devices = list(jax.devices() if devices is None else devices)
  for name, size in (("fsdp", fsdp), ("tensor", tensor)):
    if size < 1:
      raise ValueError(f"mesh axis {name} must be >= 1 (got {size})")
  if data == -1:
    if len(devices) % (fsdp * tensor):
      raise ValueError(f"{len(devices)} devices do not split into fsdp={fsdp} x tensor={tensor}")
    data = len(devices) // (fsdp * tensor)
  if data < 1 or data * fsdp * tensor != len(devices):
    raise ValueError(f"mesh data={data} x fsdp={fsdp} x tensor={tensor} does not match "
                     f"the {len(devices)} available devices")
  return Mesh(_device_grid((data, fsdp, tensor), devices), MESH_AXES)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) dimension split over data x fsdp, the rest replicated."""
  return NamedSharding(mesh, PartitionSpec(BATCH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def _fit(spec: PartitionSpec, shape: tuple[int, ...], mesh: Mesh) -> PartitionSpec:
  """Drop mesh axes from dimensions they do not divide evenly (replicate those)."""
  out = []
  for dim, axes in zip(shape, tuple(spec) + (None,) * (len(shape) - len(spec))):
    names = (axes,) if isinstance(axes, str) else tuple(axes or ())
    size = int(np.prod([mesh.shape[n] for n in names])) if names else 1
    out.append(axes if size > 1 and dim % size == 0 else None)
  return PartitionSpec(*out)


def logical_shardings(boxed: Any, mesh: Mesh, rules=DEFAULT_RULES) -> Any:
  """NamedShardings for a pytree of nn.Partitioned (boxed) values, or their abstract shapes.

  Leaves without annotations are replicated; axes that do not divide a dimension
  are dropped for that dimension.
  """
  specs = nn.get_partition_spec(boxed)
  shardings = nn.logical_to_mesh_sharding(specs, mesh, list(rules))
  values = nn.unbox(boxed)
  return jax.tree.map(lambda s, v: NamedSharding(mesh, _fit(s.spec, np.shape(v), mesh)),
                      shardings, values)
