"""Checkpoints: orbax CheckpointManager under workdir/checkpoints.

Each checkpoint step holds three items: `state` (the TrainState pytree, restored
straight into the current mode's shardings), `data` (the data iterator's
get_state(), JSON) and `config` (the resolved experiment config and the model's
EncoderConfig, JSON). Saving is asynchronous and atomic (orbax writes a temporary
directory and renames it); the last `max_to_keep` steps are kept.

`BestCheckpoint` keeps the parameters of the best evaluation so far (fine-tuning keeps
and exports them); `restore_params` reads a run's last parameters (a distillation
teacher, a fine-tuning start).
"""

from __future__ import annotations

import math
import os
from typing import Any

import orbax.checkpoint as ocp

# EncoderConfig fields that change parameter shapes: a checkpoint with other values
# is a different model and is never silently mixed into this run.
SHAPE_FIELDS = ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                "embedding_size", "num_groups", "inner_group_num", "max_position_embeddings",
                "type_vocab_size", "pair_head", "pooler", "param_dtype")


def model_conflicts(saved: dict, current: dict) -> list[str]:
  """Differences in shape-defining fields, as 'field saved -> current' strings."""
  return [f"{k} {saved.get(k)!r} -> {current.get(k)!r}" for k in SHAPE_FIELDS
          if k in saved and saved.get(k) != current.get(k)]


class Checkpointer:
  """Thin wrapper over ocp.CheckpointManager with the run's three items."""

  def __init__(self, directory: str, max_to_keep: int = 3, async_save: bool = True):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           enable_async_checkpointing=async_save)
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: Any, data_state: dict, config: dict) -> None:
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state),
        config=ocp.args.JsonSave(config)), force=True)

  def _restore(self, step: int, **items) -> Any:
    try:
      return self.manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # orbax raises many types for truncated or corrupt files
      raise ValueError(f"checkpoint {step} in {self.directory} cannot be restored "
                       f"(corrupt or incompatible): {type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else ''}") from None

  def restore_config(self, step: int) -> dict:
    return self._restore(step, config=ocp.args.JsonRestore())["config"]

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict]:
    """(state placed like abstract_state's shardings, data-iterator state)."""
    out = self._restore(step, state=ocp.args.StandardRestore(abstract_state),
                        data=ocp.args.JsonRestore())
    return out["state"], out["data"]

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


class BestCheckpoint:
  """The parameters of the best evaluation so far, in their own directory (one step).

  `metric` is better higher, or lower when its name ends in "loss"; a non-finite
  value never improves. The record {"step", "metrics"} is saved with the parameters,
  so a resumed run compares against it."""

  def __init__(self, directory: str, metric: str):
    self.metric, self.lower = metric, metric.endswith("loss")
    self.ckpt = Checkpointer(directory, max_to_keep=1, async_save=False)
    step = self.ckpt.latest_step()
    self.record = self.ckpt.restore_config(step) if step is not None else None

  def improves(self, metrics: dict[str, float]) -> bool:
    if self.metric not in metrics:
      raise ValueError(f"best_metric {self.metric!r} is not an evaluation metric (they are "
                       f"{', '.join(sorted(metrics))})")
    value = metrics[self.metric]
    if not math.isfinite(value):
      return False
    if self.record is None:
      return True
    best = self.record["metrics"][self.metric]
    return value < best if self.lower else value > best

  def update(self, step: int, params: Any, metrics: dict[str, float]) -> bool:
    """Save `params` if `metrics` improve on the best; whether they did."""
    if not self.improves(metrics):
      return False
    self.record = {"step": step, "metrics": metrics}
    self.ckpt.save(step, params, {}, self.record)
    return True

  def restore(self, abstract_params: Any) -> Any:
    return self.ckpt.restore(self.record["step"], abstract_params)[0]

  def close(self) -> None:
    self.ckpt.close()


def restore_params(workdir: str):
  """(EncoderConfig, host params) of the last checkpoint of a pretraining or
  distillation workdir, or None when it has none."""
  import jax
  import ml_collections
  import numpy as np

  import jaxbert
  from jaxbert.configs import EncoderConfig
  from train import multihost, optim, state as state_lib
  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt_dir):
    return None
  ckpt = Checkpointer(ckpt_dir, async_save=False)
  try:
    step = ckpt.latest_step()
    if step is None:
      return None
    saved = ckpt.restore_config(step)
    if "num_labels" in saved["model"]:
      raise ValueError(f"{workdir} is a fine-tuning workdir (a classifier's checkpoints); "
                       f"start from its export, {os.path.join(workdir, 'hf')}")
    cfg = EncoderConfig(**saved["model"])
    run = ml_collections.ConfigDict(saved["config"])
    tx, _ = optim.make_optimizer(run.learning_rate, run.num_train_steps, run.optimizer)
    model = jaxbert.PretrainingModel(cfg)
    abstract = jax.eval_shape(
        lambda: state_lib.create_state(jaxbert.init_params(model), tx))  # TrainState shapes
    # Replicated over every process's devices: orbax restores global arrays only.
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("d",))
    everywhere = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    abstract = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=everywhere), abstract)
    state, _ = ckpt.restore(step, abstract)
    return cfg, multihost.fetch(state.params)
  finally:
    ckpt.close()
