"""Optimisers (optax): AdamW or LAMB, warmup + linear/cosine decay, clipping, accumulation.

Devlin et al. 2019 (Appendix A.2): Adam, weight decay 0.01, linear warmup then linear
decay; Lan et al. 2020 (§4.1): LAMB for batch 4096 (You et al. 2020). Weight decay is
masked off biases and LayerNorm parameters; LAMB's layer adaptation (the trust ratio
||w|| / ||update||) is masked off them too, as in Google's BERT/ALBERT LAMB
(`exclude_from_layer_adaptation` defaults to the weight-decay exclusions). Parameters
named `frozen_*` (jaxbert/models/embeddings.py: DistilBERT's sinusoidal positions) get
no update at all. Accumulation is `optax.MultiSteps` and clipping is
`optax.clip_by_global_norm`: transforms, not branches in the step (docs/design.md).

The config section (`config.optimizer`) has: name (adamw|lamb), warmup_steps,
decay (linear|cosine), end_lr_fraction, schedule_steps, weight_decay, clip_norm
(0 = off), grad_accum_steps, b1, b2, eps. `config.learning_rate` is the peak rate and
`config.num_train_steps` counts optimizer updates. The schedule runs over
`optimizer.schedule_steps` updates (None: num_train_steps), so phases of one run that
stop at different steps share one schedule (BERT's 90% at 128 tokens, 10% at 512).
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from jaxbert.models.embeddings import FROZEN_PREFIX

DECAYED_LEAVES = ("kernel", "embedding")   # everything else (bias, LayerNorm scale) is not


def decay_mask(params: Any) -> Any:
  """True for weight matrices and embedding tables; False for biases and LayerNorm."""
  def keep(path, _):
    keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]   # skips boxes
    return bool(keys) and keys[-1] in DECAYED_LEAVES
  return jax.tree_util.tree_map_with_path(keep, params)


def frozen_mask(params: Any) -> Any:
  """True for constants stored as parameters (named frozen_*): they are never updated."""
  def frozen(path, _):
    keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]
    return bool(keys) and str(keys[-1]).startswith(FROZEN_PREFIX)
  return jax.tree_util.tree_map_with_path(frozen, params)


def lamb(learning_rate, b1: float, b2: float, eps: float, weight_decay: float,
         mask=decay_mask) -> optax.GradientTransformation:
  """LAMB (You et al. 2020, Algorithm 2): Adam's direction plus decoupled weight decay,
  scaled per tensor by ||w|| / ||update||; decay and that ratio only where `mask`."""
  return optax.chain(
      optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
      optax.add_decayed_weights(weight_decay, mask=mask),
      optax.masked(optax.scale_by_trust_ratio(), mask),
      optax.scale_by_learning_rate(learning_rate))


def make_schedule(learning_rate: float, num_train_steps: int, opt) -> optax.Schedule:
  """Linear warmup over opt.warmup_steps, then linear or cosine decay to end_lr_fraction
  at opt.schedule_steps (None or absent: num_train_steps)."""
  warmup = int(opt.warmup_steps)
  total = opt.get("schedule_steps") or num_train_steps
  if total < num_train_steps:
    raise ValueError(f"optimizer.schedule_steps ({total}) must be >= num_train_steps "
                     f"({num_train_steps})")
  rest = max(total - warmup, 1)
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
    core = lamb(schedule, **kwargs)
  else:
    raise ValueError(f"optimizer.name must be 'adamw' or 'lamb' (got {opt.name!r})")
  tx = optax.chain(optax.clip_by_global_norm(opt.clip_norm), core) if opt.clip_norm > 0 else core
  tx = optax.chain(tx, optax.masked(optax.set_to_zero(), frozen_mask))
  if opt.grad_accum_steps < 1:
    raise ValueError(f"optimizer.grad_accum_steps must be >= 1 (got {opt.grad_accum_steps})")
  if opt.grad_accum_steps > 1:
    tx = optax.MultiSteps(tx, every_k_schedule=opt.grad_accum_steps)
  return tx, schedule
