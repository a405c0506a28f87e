"""The one training step and the one evaluation step, pure and module-level.

    train_step(state, batch, rng, extra, *, loss_fn, tx, schedule, accum_steps=1,
               axis_name=None) -> (state, metrics)
    eval_step(params, batch, extra, *, loss_fn, axis_name=None) -> {name: (sum, count)}

`loss_fn(params, batch, rng, extra, *, deterministic) -> (losses, metrics)` is the
pluggable collaborator: `losses` and `metrics` map "/"-names to `(sum, count)` over the
local batch. Every objective lives in jaxbert/losses.py: mlm_loss_fn (pretraining),
distill_loss_fn (distillation), classification_loss_fn (fine-tuning). The objective is
sum_k losses_k.sum / global count_k, where the counts are summed across devices BEFORE
dividing, so jit, pmap and shard_map compute the same gradient even when the padding
is uneven across devices. Every cross-device reduction goes through `cross_device_sum`
(a no-op when axis_name is None, i.e. under jit, where XLA inserts the collectives
itself).

Pretraining binds `mlm_loss_fn` with functools.partial(model=..., pair=...), fine-tuning
`classification_loss_fn` with functools.partial(model=...).

How distillation plugs in (train/distill.py): the student's parameters are the
trained `state.params`, with optimizer state for them only; the teacher's parameters
travel as `extra`, a non-trained pytree that every mode places replicated (or with
its logical shardings under jit) and never differentiates or updates. A distillation
loss function has the same signature,

    def distill_loss_fn(params, batch, rng, extra, *, student, teacher, temperature):
      t = teacher.apply({"params": extra}, ..., deterministic=True)   # no gradient flows:
      s = student.apply({"params": params}, ..., rngs={"dropout": rng})  # only params is
      return {"distill/loss": (sum, count), ...}, {"mlm/accuracy": (...)}  # differentiated

and is given to `train.parallel.Parallel.compile_train(loss_fn=..., ...)` and
`train.loop.train(..., extra=teacher_params, loss_fn=..., eval_loss_fn=...)`; the step,
the compilation, the optimizer, the checkpoints and the loop are reused unchanged
(checkpoints hold the student's state only; the teacher is re-read from its path).

Randomness: the run's key is folded with the step, then split by purpose (dropout);
per-device paths also fold in the device index. Masking randomness lives in the data
pipeline (jaxbert/data/masking.py).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from train.state import TrainState

DROPOUT = 0          # purpose tags folded into the step key
Terms = dict[str, tuple[jax.Array, jax.Array]]


def cross_device_sum(tree: Any, axis_name: Any = None) -> Any:
  """The one cross-device reduction: psum over `axis_name`, identity when it is None."""
  if axis_name is None:
    return tree
  return jax.lax.psum(tree, axis_name)


def _ratio(term: tuple[jax.Array, jax.Array]) -> jax.Array:
  total, count = term
  return total / jnp.maximum(count, 1e-9)


def train_step(state: TrainState, batch: dict, rng: jax.Array, extra: Any = None, *,
               loss_fn: Callable, tx: optax.GradientTransformation, schedule: optax.Schedule,
               accum_steps: int = 1, axis_name: Any = None) -> tuple[TrainState, dict]:
  """One micro-step: gradients of the summed losses / global counts, one optax update."""
  key = jax.random.fold_in(jax.random.fold_in(rng, state.step), DROPOUT)
  if axis_name is not None:
    key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))

  def objective(params):
    losses, metrics = loss_fn(params, batch, key, extra, deterministic=False)
    counts = cross_device_sum({k: c for k, (_, c) in losses.items()}, axis_name)
    total = sum(s / jnp.maximum(counts[k], 1e-9) for k, (s, _) in losses.items())
    return total, (losses, metrics)

  grads, (losses, metrics) = jax.grad(objective, has_aux=True)(state.params)
  grads = cross_device_sum(grads, axis_name)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  terms = cross_device_sum({**losses, **metrics}, axis_name)
  out = {k: _ratio(v) for k, v in terms.items()}
  out["loss"] = sum(out[k] for k in losses)
  out["learning_rate"] = schedule(state.step // accum_steps)
  out["grad_norm"] = optax.global_norm(grads)
  out["param_norm"] = optax.global_norm(params)
  out["update_norm"] = optax.global_norm(updates)
  return TrainState(step=state.step + 1, params=params, opt_state=opt_state), out


def eval_step(params: Any, batch: dict, extra: Any = None, *, loss_fn: Callable,
              axis_name: Any = None) -> Terms:
  """Deterministic forward pass: {name: (sum, count)} summed over devices (not divided)."""
  losses, metrics = loss_fn(params, batch, jax.random.key(0), extra, deterministic=True)
  return cross_device_sum({**losses, **metrics}, axis_name)


def finish_eval(totals: dict[str, tuple[float, float]], loss_names) -> dict[str, float]:
  """Accumulated eval (sum, count) -> ratios, plus "loss" = sum of the loss terms."""
  out = {k: float(s) / max(float(c), 1e-9) for k, (s, c) in totals.items()}
  out["loss"] = sum(out[k] for k in loss_names if k in out)
  return out
