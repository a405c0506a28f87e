"""benchmarks/pod_plan.py: the production step compiled for a 4-chip TPU v5e topology
on this CPU host (needs libtpu, in the test extra), and its refusals of bad input.

The planner runs in subprocesses: it sets its own environment (CPU platform, libtpu's
multi-process lock off) before JAX starts.
"""

import importlib.util
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("libtpu") is None,
                                reason='needs libtpu: pip install -e ".[tpu]"')

B, L, P = 8, 32, 5          # global batch, length, masked positions per row
# Widths stay multiples of 128 after a 2-way split (D 256, K 128), so TPU tiling pads no
# parameter: bert-tiny's 64-wide heads, 2-wide NSP kernel or a 4-way split of D = 256
# would be padded to 128 lanes and the count would no longer be params x 12 bytes.
FSDP = (1, 2)

SWEEP = f"""
import json
import benchmarks.pod_plan  # the planner's environment, before JAX starts
import flax.linen as nn, jax, jax.numpy as jnp, jaxbert
from benchmarks import pod_compile as pc
from train.configs.base import base_config
cfg = jaxbert.get_config("bert-tiny", vocab_size=1024, hidden_size=256, num_heads=2,
                         intermediate_size=512, num_layers=1, max_position_embeddings=64,
                         pair_head=None, pooler=False, dtype="bfloat16")
devices = pc.topology_devices("v5e:2x2")
out = {{"chips": len(devices)}}
for fsdp in {FSDP}:
  r = pc.compile_step(pc.Shape(cfg, {B}, {L}, {P}), devices, pc.Mesh(fsdp=fsdp),
                      base_config().optimizer)
  out[fsdp] = r.memory["arguments"]
params = jax.eval_shape(lambda: jaxbert.PretrainingModel(cfg).init(
    jax.random.key(0), jnp.zeros((1, 8), jnp.int32))["params"])
out["params"] = sum(x.size for x in jax.tree.leaves(nn.unbox(params)))
print(json.dumps(out))
"""


def run(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900)


def test_state_memory_per_chip_falls_as_one_over_fsdp():
  proc = run("-c", SWEEP)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["chips"] == 4
  # Independent reference: float32 parameters + AdamW's two float32 moments, split
  # over fsdp chips, plus this chip's quarter of the batch (int32 / float32 fields).
  state = 3 * 4 * out["params"]
  batch = B // 4 * 4 * (3 * L + 3 * P + 1)
  for fsdp in FSDP:
    expected = state / fsdp + batch
    got = out[str(fsdp)]
    assert abs(got - expected) < 0.02 * expected, (fsdp, got, expected)


@pytest.mark.parametrize("argv, message", [
    (["--topology", "v9z:2x2"], "error: unknown TPU topology 'v9z:2x2'; examples: v4:2x2x1"),
    (["--topology", "v5e:3x3"], "error: TPU topology 'v5e:3x3' rejected by libtpu"),
    (["--topology", "v5e:2x2", "--data", "2"],
     "error: v5e:2x2 has 4 chips: mesh data=2 x fsdp=1 x tensor=1 does not match"),
    (["--topology", "v5e:2x2", "--batch", "6"],
     "error: v5e:2x2 has 4 chips: batch size 6 is not a positive multiple of the 4"),
])
def test_bad_input_one_error_line(argv, message):
  proc = run("-m", "benchmarks.pod_plan", "--model", "bert-tiny", *argv)
  assert proc.returncode == 2, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
  assert proc.stderr.startswith(message), proc.stderr


def test_no_libtpu_says_how_to_install():
  code = ("import sys; sys.modules['libtpu'] = None\n"   # import libtpu now fails
          "from benchmarks import pod_plan; pod_plan.main(['--topology', 'v5e:2x2'])")
  proc = run("-c", code)
  assert proc.returncode == 2
  assert proc.stderr.strip() == ('error: libtpu is not installed; install it with: '
                                 'pip install -e ".[tpu]"'), proc.stderr


GIB, MIB = 2 ** 30, 2 ** 20
STAND_INS = {   # rows per chip -> (bytes per chip, or None: the compiler refuses)
    "affine": lambda r: 3 * GIB + 37 * MIB * r,
    # bert-mini on v5e as compiled: ~1 MB/row at small batches, 10.6 MB/row from ~1k rows
    "bent": lambda r: 0.2 * GIB + MIB * r if r <= 64 else 0.26 * GIB + 10.6 * MIB * (r - 64),
    "refuses": lambda r: None if r > 300 else 1 * GIB + 60 * MIB * r,
}


@pytest.mark.parametrize("name", STAND_INS)
def test_largest_batch_search_finds_the_hbm_crossing(monkeypatch, name):
  """The search against stand-in compilers: a row count that fits, a larger one that
  does not within 1/64 of it, and the largest row count a brute-force scan of the same
  stand-in says fits lies between them; at most 6 compiles."""
  from benchmarks import pod_compile as pc, pod_plan
  chip, shards, memory = pc.CHIPS["v5e"], 4, STAND_INS[name]
  calls = []

  def fake_compile(shape, devices, mesh, opt):
    calls.append(shape.batch)
    total = memory(shape.batch // shards)
    if total is None:
      return pc.Compiled({}, {}, {}, 0.0, {}, error="RESOURCE_EXHAUSTED")
    return pc.Compiled({"total": total}, {}, {}, 0.0, {})

  def fits(r):
    return memory(r) is not None and memory(r) <= chip.usable_gib * GIB
  expected = max(r for r in range(1, 5000) if fits(r))

  monkeypatch.setattr(pc, "compile_step", fake_compile)
  shape = pc.Shape(None, 8 * shards, 128, 20)
  rows, miss, spent = pod_plan.largest_batch(shape, None, pc.Mesh(), None, chip, shards,
                                             fake_compile(shape, None, None, None))
  assert fits(rows) and not fits(miss) and rows <= expected < miss
  assert miss - rows <= max(1, rows // 64)
  assert spent == len(calls) - 1 <= pod_plan.MAX_COMPILES


def test_largest_batch_search_stops_at_its_budget_with_a_bracket(monkeypatch):
  from benchmarks import pod_compile as pc, pod_plan
  chip, memory = pc.CHIPS["v4"], STAND_INS["bent"]
  monkeypatch.setattr(pc, "compile_step", lambda shape, *a: pc.Compiled(
      {"total": memory(shape.batch)}, {}, {}, 0.0, {}))
  shape = pc.Shape(None, 8, 128, 20)
  rows, miss, spent = pod_plan.largest_batch(shape, None, pc.Mesh(), None, chip, 1,
                                             pc.compile_step(shape), budget=2)
  limit = chip.usable_gib * GIB
  assert spent == 2 and memory(rows) <= limit and (miss is None or memory(miss) > limit)
