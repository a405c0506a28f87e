"""Optimisers (optax): AdamW or LAMB, warmup + linear/cosine decay, clipping, accumulation.

Devlin et al. 2019 (Appendix A.2): Adam, weight decay 0.01, linear warmup then linear
decay; Lan et al. 2020 (§4.1): LAMB for batch 4096. Weight decay is masked off biases
and LayerNorm parameters. Accumulation is `optax.MultiSteps` and clipping is
`optax.clip_by_global_norm`: transforms, not branches in the step (STYLE.md §9).

The config section (`config.optimizer`) has: name (adamw|lamb), warmup_steps,
decay (linear|cosine), end_lr_fraction, weight_decay, clip_norm (0 = off),
grad_accum_steps, b1, b2, eps. `config.learning_rate` is the peak rate and
`config.num_train_steps` counts optimizer updates.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

DECAYED_LEAVES = ("kernel", "embedding")   # everything else (bias, LayerNorm scale) is not


def decay_mask(params: Any) -> Any:
  """True for weight matrices and embedding tables; False for biases and LayerNorm."""
  def keep(path, _):
    keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]   # skips boxes
    return bool(keys) and keys[-1] in DECAYED_LEAVES
  return jax.tree_util.tree_map_with_path(keep, params)


def make_schedule(learning_rate: float, num_train_steps: int, opt) -> optax.Schedule:
  """Linear warmup over opt.warmup_steps, then linear or cosine decay to end_lr_fraction."""
  warmup = int(opt.warmup_steps)
  rest = max(num_train_steps - warmup, 1)
  end = learning_rate * opt.end_lr_fraction
  if opt.decay == "linear":
    decay = optax.linear_schedule(learning_rate, end, rest)
  elif opt.decay == "cosine":
    decay = optax.cosine_decay_schedule(learning_rate, rest, alpha=opt.end_lr_fraction)
  else:
    raise ValueError(f"optimizer.decay must be 'linear' or 'cosine' (got {opt.decay!r})")
  if warmup <= 0:
    return decay
  return optax.join_schedules([optax.linear_schedule(0.0, learning_rate, warmup), decay],
                              [warmup])


def make_optimizer(learning_rate: float, num_train_steps: int,
                   opt) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """(transformation, schedule of the optimizer-update count)."""
  schedule = make_schedule(learning_rate, num_train_steps, opt)
  kwargs = dict(b1=opt.b1, b2=opt.b2, eps=opt.eps, weight_decay=opt.weight_decay,
                mask=decay_mask)
  if opt.name == "adamw":
    core = optax.adamw(schedule, **kwargs)
  elif opt.name == "lamb":
    core = optax.lamb(schedule, **kwargs)
  else:
    raise ValueError(f"optimizer.name must be 'adamw' or 'lamb' (got {opt.name!r})")
  tx = optax.chain(optax.clip_by_global_norm(opt.clip_norm), core) if opt.clip_norm > 0 else core
  if opt.grad_accum_steps < 1:
    raise ValueError(f"optimizer.grad_accum_steps must be >= 1 (got {opt.grad_accum_steps})")
  if opt.grad_accum_steps > 1:
    tx = optax.MultiSteps(tx, every_k_schedule=opt.grad_accum_steps)
  return tx, schedule
