"""Hugging Face transformers Flax runners (4.57.6, the last release with Flax), jitted.

The training step follows transformers' examples/flax/language-modeling/run_mlm_flax.py:
logits at every position, softmax cross-entropy against one-hot labels weighted by
the label mask, optax AdamW, params and optimizer state donated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks import flops
from benchmarks.hf_models import classes, family, hf_config, model_inputs
from benchmarks.impl_jax import compile_ahead
from benchmarks.inputs import hf_labels
from benchmarks.timing import Runner
from jaxbert.configs import EncoderConfig


def _model(cfg: EncoderConfig, kind: str):
  return classes(cfg, flax=True)[kind](hf_config(cfg, attn_implementation=None), seed=0,
                                       dtype=jnp.dtype(cfg.dtype))


def _block(cfg: EncoderConfig, which: str):
  import transformers.models.albert.modeling_flax_albert as al
  import transformers.models.bert.modeling_flax_bert as bt
  import transformers.models.distilbert.modeling_flax_distilbert as db
  hcfg = hf_config(cfg.replace(dropout_rate=0.0, attention_dropout_rate=0.0),
                   attn_implementation=None)
  dtype = jnp.dtype(cfg.dtype)
  fam = family(cfg)
  if fam == "bert":
    return (bt.FlaxBertAttention if which == "attention" else bt.FlaxBertLayer)(hcfg, dtype=dtype)
  if fam == "albert":
    return (al.FlaxAlbertSelfAttention if which == "attention" else al.FlaxAlbertLayer)(
        hcfg, dtype=dtype)
  return (db.FlaxMultiHeadSelfAttention if which == "attention" else db.FlaxTransformerBlock)(
      hcfg, dtype=dtype)


def fwd_bwd(cfg: EncoderConfig, batch: int, length: int, which: str) -> Runner:
  module = _block(cfg, which)
  dtype = jnp.dtype(cfg.dtype)
  kx, kg, kp = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (batch, length, cfg.hidden_size), dtype)
  g = jax.random.normal(kg, (batch, length, cfg.hidden_size), dtype)
  mask = jnp.ones((batch, length), jnp.int32)
  fam = family(cfg)

  def apply(p, x):
    if fam == "distilbert":
      out = (module.apply(p, x, x, x, mask, deterministic=True) if which == "attention"
             else module.apply(p, x, mask, deterministic=True))
    elif fam == "albert":
      out = module.apply(p, x, mask, deterministic=True)
    else:
      out = module.apply(p, x, mask, None, deterministic=True)
    return out[0]

  params = module.init(kp, x, mask, None) if fam == "bert" else (
      module.init(kp, x, x, x, mask) if fam == "distilbert" and which == "attention"
      else module.init(kp, x, mask))

  def run(p, x, g):
    _, vjp = jax.vjp(apply, p, x)
    return vjp(g)

  compiled, seconds, mem = compile_ahead(run, params, x, g)
  f = (flops.attention_block(cfg, batch, length) if which == "attention"
       else flops.encoder_layer(cfg, batch, length))
  return Runner("hf-flax", lambda: jax.block_until_ready(compiled(params, x, g)),
                seconds, mem, flops.TRAIN_FACTOR * f)


def inference(cfg: EncoderConfig, batch: dict) -> Runner:
  model = _model(cfg, "base")
  inputs = model_inputs(cfg, batch, jnp.asarray)

  def forward(params, inputs):
    out = model(**inputs, params=params, train=False)
    return out[0]

  compiled, seconds, mem = compile_ahead(forward, model.params, inputs)
  b, l = batch["input_ids"].shape
  return Runner("hf-flax", lambda: jax.block_until_ready(compiled(model.params, inputs)),
                seconds, mem, flops.encoder(cfg, b, l))


def train(cfg: EncoderConfig, batch: dict, learning_rate: float = 1e-4) -> Runner:
  model = _model(cfg, "mlm")
  tx = optax.adamw(learning_rate, weight_decay=0.01)
  inputs = model_inputs(cfg, batch, jnp.asarray)
  labels = jnp.asarray(hf_labels(batch), jnp.int32)
  vocab = cfg.vocab_size

  def train_step(params, opt_state, rng, inputs, labels):
    rng, dropout_rng = jax.random.split(rng)

    def loss_fn(params):
      logits = model(**inputs, params=params, dropout_rng=dropout_rng, train=True)[0]
      label_mask = jnp.where(labels >= 0, 1.0, 0.0)
      loss = optax.softmax_cross_entropy(logits, jax.nn.one_hot(labels, vocab)) * label_mask
      return loss.sum() / label_mask.sum()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, rng, loss

  state = [model.params, tx.init(model.params), jax.random.key(0)]
  jitted = jax.jit(train_step, donate_argnums=(0, 1))
  compiled, seconds, mem = compile_ahead(jitted, *state, inputs, labels)

  def step():
    out = compiled(*state, inputs, labels)
    state[:] = out[:3]
    jax.block_until_ready(out[3])
  b, l = batch["input_ids"].shape
  return Runner("hf-flax", step, seconds, mem, flops.train_step(cfg, b, l, b * l, pooler=False))
