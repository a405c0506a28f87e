"""The training state: a plain pytree that orbax saves and every parallel mode places."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
  step: jax.Array          # int32 scalar: number of train_step calls (micro-steps) done
  params: Any              # trained parameters, float32 master copy
  opt_state: Any           # optax state for `params` only


def create_state(params: Any, tx: optax.GradientTransformation) -> TrainState:
  """A step-0 state for `params` (plain or nn.Partitioned-boxed arrays)."""
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params))
