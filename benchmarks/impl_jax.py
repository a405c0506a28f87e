"""jaxbert runners: the library's own modules and the production steps, compiled
ahead of time so compile time and compiled memory are measured separately.

Nothing here re-implements a step: the training and distillation rows call
train/steps.py and train/distill*.py (docs/design.md, "Benchmarks").
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from benchmarks import flops
from benchmarks.timing import Runner, timed
from jaxbert import PretrainingModel, compiler_options, init_params
from jaxbert.configs import EncoderConfig
from jaxbert.models.layers import SelfAttention, TransformerLayer, make_attention_mask


def compile_ahead(fn, *args, static_argnums=(), donate_argnums=(), options=None):
  """(compiled, seconds to lower + compile, bytes from the compiled memory analysis).

  `options`: XLA compiler options; jaxbert's runners pass jaxbert.compiler_options()
  as train/parallel.py does (forward passes: CPU options; training: None), Hugging
  Face Flax's keep XLA's defaults.
  """
  jitted = fn if hasattr(fn, "lower") else jax.jit(fn, static_argnums=static_argnums,
                                                   donate_argnums=donate_argnums)
  def build():
    return jitted.lower(*args).compile(compiler_options=options)
  compiled, seconds = timed(build)
  return compiled, seconds, memory_bytes(compiled)


def memory_bytes(compiled) -> int | None:
  """Peak device bytes of one call: arguments + outputs + temporaries - aliased."""
  try:
    m = compiled.memory_analysis()
    if m is None:
      return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
               - m.alias_size_in_bytes)
  except Exception:  # not every backend implements it
    return None


def _fwd_bwd_runner(module: nn.Module, cfg: EncoderConfig, batch: int, length: int,
                    flop_count: float) -> Runner:
  """Forward + backward (gradients of params and input) of `module`(x, mask)."""
  dtype = jnp.dtype(cfg.dtype)
  kx, kg, kp = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (batch, length, cfg.hidden_size), dtype)        # [B, L, D]
  g = jax.random.normal(kg, (batch, length, cfg.hidden_size), dtype)        # cotangent
  mask = make_attention_mask(jnp.ones((batch, length), jnp.int32), None, batch, length)
  params = nn.unbox(module.init(kp, x, mask))

  def fwd_bwd(params, x, g):
    out, vjp = jax.vjp(lambda p, x: module.apply(p, x, mask), params, x)
    return vjp(g)

  compiled, seconds, mem = compile_ahead(fwd_bwd, params, x, g,
                                         options=compiler_options(training=True))
  return Runner("jaxbert", lambda: jax.block_until_ready(compiled(params, x, g)),
                seconds, mem, flop_count)


def attention(cfg: EncoderConfig, batch: int, length: int) -> Runner:
  module = SelfAttention(cfg.hidden_size, cfg.num_heads, 0.0, cfg.initializer_range,
                         cfg.attention_impl, jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype))
  return _fwd_bwd_runner(module, cfg, batch, length,
                         flops.TRAIN_FACTOR * flops.attention_block(cfg, batch, length))


def layer(cfg: EncoderConfig, batch: int, length: int) -> Runner:
  module = TransformerLayer(cfg.hidden_size, cfg.num_heads, cfg.intermediate_size,
                            cfg.hidden_act, cfg.layer_norm_eps, 0.0, 0.0,
                            cfg.initializer_range, cfg.attention_impl, jnp.dtype(cfg.dtype),
                            jnp.dtype(cfg.param_dtype))
  return _fwd_bwd_runner(module, cfg, batch, length,
                         flops.TRAIN_FACTOR * flops.encoder_layer(cfg, batch, length))


def inference(cfg: EncoderConfig, batch: dict, xla_defaults: bool = False) -> Runner:
  """Encoder forward (+ pooler): last hidden state and pooled output.

  xla_defaults=True compiles without jaxbert.compiler_options() (the 'before' of
  that optimisation)."""
  model = PretrainingModel(cfg, mlm_head=False)
  b, l = batch["input_ids"].shape
  params = init_params(model)
  ids, mask, types = (jnp.asarray(batch[k]) for k in
                      ("input_ids", "attention_mask", "token_type_ids"))

  def forward(params, ids, mask, types):
    out = model.apply({"params": params}, ids, attention_mask=mask,
                      token_type_ids=types if cfg.type_vocab_size else None)
    return out.last_hidden_state, out.pooled_output

  compiled, seconds, mem = compile_ahead(forward, params, ids, mask, types,
                                         options=None if xla_defaults else compiler_options())
  return Runner("jaxbert", lambda: jax.block_until_ready(compiled(params, ids, mask, types)),
                seconds, mem, flops.encoder(cfg, b, l))


def optimizer_config():
  """The production optimizer section (train/configs/base.py): AdamW, weight decay
  0.01 off biases and LayerNorm, global-norm clipping at 1.0, no accumulation."""
  from train.configs.base import base_config
  return base_config().optimizer


def train(cfg: EncoderConfig, batch: dict, all_positions: bool = False,
          xla_defaults: bool = True, impl: str = "jaxbert") -> Runner:
  """The production MLM training step (train/steps.py's train_step + jaxbert/losses.py's
  mlm_loss_fn).

  all_positions=True drops `masked_positions` from the model call so the MLM head runs
  on all L positions (the 'before' of the masked-positions optimisation);
  xla_defaults=False compiles with jaxbert.compiler_options() for a forward pass (the
  experiment in optimisations.py: the production step keeps XLA's defaults).
  `impl` names the row (run.py's "jaxbert-same-work" is all_positions=True).
  """
  import functools

  from jaxbert import losses as L

  model = PretrainingModel(cfg)
  pair = cfg.pair_head is not None
  loss_fn = functools.partial(L.mlm_loss_fn, model=model, pair=pair)
  if all_positions:
    loss_fn = functools.partial(_all_positions_loss, model=model, pair=pair)
  batch = {k: v for k, v in batch.items() if cfg.type_vocab_size or k != "token_type_ids"}
  step, seconds, mem = _compile_step(loss_fn, init_params(model), batch,
                                     options=compiler_options(training=xla_defaults))
  b, l = batch["input_ids"].shape
  rows = b * l if all_positions else b * batch["masked_positions"].shape[1]
  return Runner(impl, step, seconds, mem, flops.train_step(cfg, b, l, rows))


def _all_positions_loss(params, batch, rng, extra=None, *, model, pair,
                        deterministic):
  """mlm_loss_fn with logits at every position, gathered at the masked ones after
  the V-wide projection (what an implementation without masked_positions pays)."""
  from jaxbert import losses as L
  out = model.apply({"params": params}, batch["input_ids"],
                    attention_mask=batch["attention_mask"],
                    token_type_ids=batch.get("token_type_ids"),
                    deterministic=deterministic, rngs={"dropout": rng})
  logits = jnp.take_along_axis(out.mlm_logits, batch["masked_positions"][:, :, None], axis=1)
  w = batch["masked_weights"] * batch["example_weights"][:, None]
  losses = {"mlm/loss": L.mlm_loss(logits, batch["masked_ids"], w)}
  if pair:
    losses["pair/loss"] = L.pair_loss(out.sentence_logits, batch["sentence_labels"],
                                      batch["example_weights"])
  return losses, {}


def _compile_step(loss_fn, params, batch: dict, extra=None, options=None):
  """train/steps.py's train_step with `loss_fn`, compiled as train/parallel.py's jit mode
  compiles it (state donated, mesh + logical rules in context), on one device."""
  import functools

  from train import optim, parallel, state as state_lib, steps

  tx, schedule = optim.make_optimizer(1e-4, 10_000, optimizer_config())
  state = state_lib.create_state(params, tx)
  par = parallel.Parallel("jit", devices=jax.devices()[:1])
  body = functools.partial(steps.train_step, loss_fn=loss_fn, tx=tx, schedule=schedule)
  batch = par.put_batch(batch)
  rng = jax.random.key(0)
  with par.context():
    compiled, seconds, mem = compile_ahead(jax.jit(body, donate_argnums=(0,)),
                                           state, batch, rng, extra, options=options)
  box = [state]

  def step():
    box[0], metrics = compiled(box[0], batch, rng, extra)
    jax.block_until_ready(metrics["loss"])
  return step, seconds, mem


def distill(cfg: EncoderConfig, batch: dict) -> Runner:
  """The production distillation step: train/steps.py's train_step with
  jaxbert/losses.py's distill_loss_fn, wired as train/distill.py wires it
  (teacher without pooler/pair head in config.distill.teacher_dtype, its params as
  `extra`; student = distillation.student_config(teacher), seeded at random here),
  with train/configs/distill.py's loss weights and temperature. `cfg` is the teacher."""
  import functools

  from jaxbert import distillation as D, losses as L
  from train.configs.distill import distill_section

  d = distill_section()
  s_cfg = D.student_config(cfg)
  teacher = PretrainingModel(cfg.replace(dtype=d.teacher_dtype if cfg.dtype == "float32"
                                         else cfg.dtype, pooler=False, pair_head=None))
  student = PretrainingModel(s_cfg)
  t_params = init_params(teacher, seed=1)
  weights = {"soft": d.alpha_soft, "mlm": d.alpha_mlm, "cos": d.alpha_cos}
  loss_fn = functools.partial(L.distill_loss_fn, student=student, teacher=teacher,
                              weights=weights, temperature=d.temperature,
                              masked_only=d.masked_only)
  batch = {k: v for k, v in batch.items() if k != "token_type_ids"}
  step, seconds, mem = _compile_step(loss_fn, init_params(student), batch, t_params,
                                     options=compiler_options(training=True))
  b, l = batch["input_ids"].shape
  rows = b * batch["masked_positions"].shape[1] if d.masked_only else b * l
  return Runner("jaxbert", step, seconds, mem,
                flops.distill_step(s_cfg, teacher.config, b, l, rows),
                note=f"student {s_cfg.num_layers} layers; soft targets on "
                     f"{'masked' if d.masked_only else 'all'} positions")
