"""What a result was measured on: device, CPU model, versions, commit, date, load.

Every result file carries this record (docs/design.md, "Benchmarks").
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def git_commit() -> str:
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  try:
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                            capture_output=True, text=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    return commit + ("+dirty" if dirty else "") if commit else "unknown"
  except (OSError, subprocess.SubprocessError):
    return "unknown"


def load_average() -> list[float]:
  try:
    return [round(x, 2) for x in os.getloadavg()]
  except OSError:
    return []


def _version(module: str) -> str | None:
  try:
    return __import__(module).__version__
  except Exception:  # not installed, or broken: recorded as missing
    return None


def describe() -> dict:
  """A JSON-able record of the machine and software."""
  import jax
  dev = jax.devices()[0]
  info = {
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "platform": dev.platform,
      "device": getattr(dev, "device_kind", str(dev)),
      "device_count": jax.device_count(),
      "cpu_model": cpu_model(),
      "cpu_count": os.cpu_count(),
      "load_average": load_average(),
      "commit": git_commit(),
      "python": platform.python_version(),
      "versions": {m: _version(m) for m in
                   ("jax", "jaxlib", "flax", "optax", "torch", "transformers", "numpy")},
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
  }
  try:
    import torch
    info["torch_threads"] = torch.get_num_threads()
  except Exception:
    pass
  return info
