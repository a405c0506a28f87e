"""Checkpoints: orbax CheckpointManager under workdir/checkpoints.

Each checkpoint step holds three items: `state` (the TrainState pytree, restored
straight into the current mode's shardings), `data` (the data iterator's
get_state(), JSON) and `config` (the resolved experiment config and the model's
EncoderConfig, JSON). Saving is asynchronous and atomic (orbax writes a temporary
directory and renames it); the last `max_to_keep` steps are kept.
"""

from __future__ import annotations

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
