"""Meshes follow the hardware, and each process loads the rows its devices hold.

Stand-in devices (objects with the attributes JAX's devices have) describe hosts this
machine does not have; a real TPU topology (libtpu, compiled-for but not run) checks
the multi-slice layout.
"""

import dataclasses
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from jaxbert import sharding as S
from train.parallel import Parallel

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclasses.dataclass(frozen=True)
class FakeDevice:
  id: int
  process_index: int
  platform: str = "gpu"


def hosts(n_hosts: int, per_host: int) -> list[FakeDevice]:
  devices = [FakeDevice(h * 100 + i, h) for h in range(n_hosts) for i in range(per_host)]
  return list(np.random.default_rng(0).permutation(np.asarray(devices, dtype=object)))


@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 4, 1), (2, 1, 4), (4, 2, 1)])
def test_inner_axes_stay_inside_a_host(shape):
  grid = S._device_grid(shape, hosts(2, 4) if shape != (4, 2, 1) else hosts(4, 2))
  procs = np.vectorize(lambda d: d.process_index)(grid)                 # [data, fsdp, tensor]
  for i in range(shape[0]):   # each fsdp x tensor block lies on one host
    assert len(set(procs[i].ravel())) == 1, procs
  assert len(set(procs[:, 0, 0])) == min(shape[0], len(set(procs.ravel())))  # data spans hosts


def _shard(grid: np.ndarray, process: int) -> tuple[int, int]:
  fake = types.SimpleNamespace(mesh=types.SimpleNamespace(devices=grid))
  import jax
  real = jax.process_index
  jax.process_index = lambda: process
  try:
    return Parallel.data_shard(fake)
  finally:
    jax.process_index = real


@pytest.mark.parametrize("shape,n_hosts,expected", [
    ((2, 1, 1), 2, [(0, 2), (1, 2)]),          # data across hosts: different rows
    ((1, 2, 1), 2, [(0, 2), (1, 2)]),          # fsdp splits the batch too
    ((1, 1, 2), 2, [(0, 1), (0, 1)]),          # tensor across hosts: the same rows
    ((2, 2, 2), 4, [(0, 4), (1, 4), (2, 4), (3, 4)]),
    ((2, 1, 4), 4, [(0, 2), (0, 2), (1, 2), (1, 2)]),
])
def test_rows_per_process(shape, n_hosts, expected):
  per_host = int(np.prod(shape)) // n_hosts
  grid = S._device_grid(shape, hosts(n_hosts, per_host))
  assert [_shard(grid, p) for p in range(n_hosts)] == expected


SLICES = r"""
from jax.experimental import topologies
from jaxbert import sharding as S
devices = topologies.get_topology_desc(platform="tpu", topology_name="v5e:2x2",
                                       num_slices=2).devices
mesh = S.make_mesh(2, 2, 2, devices)
print("SLICES", [sorted({d.slice_index for d in mesh.devices[i].ravel()}) for i in range(2)])
try:
  S.make_mesh(1, 4, 2, devices)
except ValueError as e:
  print("ERROR", e)
"""


def test_tpu_slices_span_the_data_axis():
  pytest.importorskip("libtpu")
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS="cpu", ALLOW_MULTIPLE_LIBTPU_LOAD="1",
             TPU_SKIP_MDS_QUERY="1")
  proc = subprocess.run([sys.executable, "-c", SLICES], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "SLICES [[0], [1]]" in proc.stdout                   # data index i = slice i
  assert "not a multiple of the 2 TPU slices" in proc.stdout
