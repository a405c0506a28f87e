"""Multi-host runs: how processes meet, who writes, where they wait, how a stop is agreed.

Every process runs the same command. These are the only multi-host seams of the
training code (train/pretrain.py, train/distill.py, train/loop.py); with one process
each of them is a no-op, so single-host code paths are the multi-host ones.

  initialize(config.parallel)   join the JAX cluster: explicit coordinator_address /
                                num_processes / process_id, else JAX's auto-detection
                                (TPU VMs, SLURM, Open MPI, Kubernetes); a coordinator
                                that does not answer is one clear error within
                                parallel.init_timeout_s, on every process
  check_same_config(cfg, wd)    refuse processes started with different configs
  is_writer()                   process 0 writes the shared files (config.json, the
                                tokenizer, metrics.jsonl, TensorBoard, the export);
                                checkpoints are written by orbax with every process
  on_writer(fn)                 run fn on the writer, then every process waits; an
                                error there is raised on every process, same message
  barrier(name)                 wait for every process
  any_process(flag)             True on every process when it is True on any: how a
  cast_vote(flag)               SIGTERM on one host becomes a stop agreed by all (or
                                cast now, fetched one step later, without waiting)
  fetch(tree)                   a pytree of (possibly sharded, multi-process) arrays as
                                numpy on every process; every process must call it
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import threading
import time
from typing import Any, Callable

import jax
import numpy as np
from jax.experimental import multihost_utils

_MESSAGE_BYTES = 2048        # room for an error message broadcast from the writer


def _wait_for_coordinator(address: str, timeout_s: float) -> None:
  """Processes other than 0 first check that the coordinator answers on TCP."""
  host, _, port = address.rpartition(":")
  deadline = time.time() + timeout_s
  while True:
    try:
      with socket.create_connection((host.strip("[]"), int(port)), timeout=2):
        return
    except OSError:
      if time.time() > deadline:
        raise ValueError(f"the coordinator {address} did not answer within {timeout_s:.0f} s "
                         f"(parallel.init_timeout_s): start process 0 with the same command, "
                         f"or check parallel.coordinator_address") from None
      time.sleep(0.5)


def _watchdog(timeout_s: float, what: str) -> threading.Event:
  """One clear line and exit status 2 if `what` has not finished within timeout_s.

  JAX's distributed client aborts the process with a C++ stack trace when its own
  timeout expires; this fires first, on every process that waits."""
  done = threading.Event()

  def watch():
    if not done.wait(timeout_s):
      print(f"error: {what} did not complete within {timeout_s:.0f} s "
            f"(parallel.init_timeout_s); were all processes started, with the same "
            f"parallel.num_processes?", file=sys.stderr, flush=True)
      os._exit(2)
  threading.Thread(target=watch, daemon=True).start()
  return done


def initialize(pc) -> None:
  """jax.distributed.initialize from config.parallel; nothing when not distributed.

  Keys: distributed (bool), coordinator_address ("host:port"; implies distributed),
  num_processes and process_id (explicit, or 0 / -1 for JAX's auto-detection),
  init_timeout_s."""
  address = pc.get("coordinator_address", "") or None
  if not (pc.get("distributed", False) or address):
    return
  if jax.distributed.is_initialized():
    return
  num = int(pc.get("num_processes", 0)) or None
  pid = int(pc.get("process_id", -1))
  pid = None if pid < 0 else pid
  if address and (num is None or pid is None):
    raise ValueError("parallel.coordinator_address needs parallel.num_processes and "
                     "parallel.process_id too (or leave all three unset for auto-detection)")
  if pid is not None and num is not None and not 0 <= pid < num:
    raise ValueError(f"parallel.process_id {pid} is not in [0, {num})")
  timeout = float(pc.get("init_timeout_s", 300))
  if address and pid:
    _wait_for_coordinator(address, timeout)
  # Stops are agreed with any_process(); JAX's own SIGTERM notifier is not used.
  jax.config.update("jax_enable_preemption_service", False)
  done = _watchdog(timeout, "joining the JAX cluster")
  jax.distributed.initialize(coordinator_address=address, num_processes=num, process_id=pid,
                             initialization_timeout=int(timeout) + 30)
  done.set()


def is_writer() -> bool:
  return jax.process_index() == 0


def barrier(name: str) -> None:
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def _broadcast_text(text: str) -> str:
  """Process 0's `text` on every process (truncated to _MESSAGE_BYTES)."""
  raw = text.encode()[:_MESSAGE_BYTES]
  buf = np.zeros(_MESSAGE_BYTES + 4, np.uint8)
  buf[:4] = np.frombuffer(np.uint32(len(raw)).tobytes(), np.uint8)
  buf[4:4 + len(raw)] = np.frombuffer(raw, np.uint8)
  out = np.asarray(multihost_utils.broadcast_one_to_all(buf))
  size = int(np.frombuffer(out[:4].tobytes(), np.uint32)[0])
  return out[4:4 + size].tobytes().decode(errors="replace")


def on_writer(fn: Callable[[], Any], name: str) -> Any:
  """fn() on the writer only, then a barrier. An exception raised by fn is raised again
  on the writer and, as a ValueError with the same message, on every other process
  (nobody is left waiting for a writer that failed)."""
  if jax.process_count() == 1:
    return fn()
  result, error, failure = None, "", None
  if is_writer():
    try:
      result = fn()
    except Exception as e:   # every failure is told to the others, then re-raised here
      failure, error = e, " ".join(str(e).split()) or type(e).__name__
  error = _broadcast_text(error)      # also the barrier: every process waits for fn
  if failure is not None:
    raise failure
  if error:
    raise ValueError(f"{error} (reported by process 0 during {name})")
  return result


def any_process(flag: bool) -> bool:
  """The logical OR of `flag` over processes, the same on every process."""
  if jax.process_count() == 1:
    return bool(flag)
  flags = multihost_utils.process_allgather(np.asarray([int(bool(flag))], np.int32))
  return bool(np.max(flags))


def cast_vote(flag: bool) -> jax.Array:
  """any_process(flag) without waiting for it: a replicated scalar to `fetch` later
  (after the next step is dispatched, so the vote never stalls the device)."""
  mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("p",))
  flags = np.full((jax.local_device_count(),), int(flag), np.int32)       # [local devices]
  votes = multihost_utils.host_local_array_to_global_array(
      flags, mesh, jax.sharding.PartitionSpec("p"))                      # [devices]
  return jax.numpy.max(votes)


def config_digest(config, workdir: str) -> str:
  """A hash of the resolved config and workdir, without the keys that differ per process."""
  resolved = json.loads(config.to_json())
  resolved.get("parallel", {}).pop("process_id", None)
  text = json.dumps({"config": resolved, "workdir": os.path.abspath(workdir)}, sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()


def check_same_config(config, workdir: str) -> None:
  """Every process compares its config digest with every other's; a difference is an
  error on every process."""
  if jax.process_count() == 1:
    return
  digest = config_digest(config, workdir)
  mine = np.frombuffer(bytes.fromhex(digest[:16]), np.uint32)             # [2]
  every = np.asarray(multihost_utils.process_allgather(mine)).reshape(jax.process_count(), -1)
  odd = [i for i in range(len(every)) if not np.array_equal(every[i], every[0])]
  if odd:
    raise ValueError(f"processes {odd} were started with a different config or workdir "
                     f"than process 0 (config digests differ); start every process with "
                     f"the same command (only parallel.process_id may differ)")


def fetch(tree: Any) -> Any:
  """numpy copies of a pytree of jax.Arrays on every process. Arrays spanning other
  processes' devices are all-gathered, so every process must call this."""
  def get(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      if x.sharding.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(jax.device_get(x))
  return jax.tree.map(get, tree)
