"""Losses against float64 numpy references; the optimizer's decay mask, LAMB against a
plain numpy LAMB, schedules, frozen parameters and the float16 refusal."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

import jaxbert
from jaxbert import losses
from train import cli, optim
from train.configs import bert_base
from train.configs.default import get_config


def _np_xent(logits, labels):
  logits = logits.astype(np.float64)
  m = logits.max(-1, keepdims=True)
  logz = np.log(np.exp(logits - m).sum(-1)) + m[..., 0]
  return logz - np.take_along_axis(logits, labels[..., None], -1)[..., 0]


def test_mlm_loss_and_accuracy_match_float64():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 4, 11)).astype(np.float32) * 5
  ids = rng.integers(0, 11, size=(3, 4))
  ids[0, 0] = logits[0, 0].argmax()
  w = rng.uniform(size=(3, 4)).astype(np.float32) * (rng.uniform(size=(3, 4)) > 0.3)
  total, count = losses.mlm_loss(jnp.asarray(logits), jnp.asarray(ids), jnp.asarray(w))
  assert total.dtype == count.dtype == jnp.float32
  np.testing.assert_allclose(total, (_np_xent(logits, ids) * w).sum(), rtol=1e-5)
  np.testing.assert_allclose(count, w.astype(np.float64).sum(), rtol=1e-6)
  correct, count = losses.mlm_accuracy(jnp.asarray(logits), jnp.asarray(ids), jnp.asarray(w))
  np.testing.assert_allclose(correct, ((logits.argmax(-1) == ids) * w).sum(), rtol=1e-6)


def test_pair_loss_and_accuracy_match_float64():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(6, 2)).astype(np.float32)
  labels = rng.integers(0, 2, size=6)
  w = np.array([1, 1, 1, 1, 0, 0], np.float32)
  total, count = losses.pair_loss(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(w))
  np.testing.assert_allclose(total, (_np_xent(logits, labels) * w).sum(), rtol=1e-5)
  assert float(count) == 4.0
  correct, _ = losses.pair_accuracy(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(w))
  assert float(correct) == ((logits.argmax(-1) == labels) * w).sum()


def test_decay_mask_skips_biases_and_layernorm():
  model = jaxbert.PretrainingModel(jaxbert.get_config("bert-tiny", vocab_size=64))
  params = jaxbert.init_params(model)
  flat = {jax.tree_util.keystr(p): m for p, m in
          jax.tree_util.tree_flatten_with_path(optim.decay_mask(params))[0]}
  for name, decayed in flat.items():
    expect = name.endswith("['kernel']") or name.endswith("['embedding']")
    assert decayed == expect, name
  assert not any(v for k, v in flat.items() if "norm" in k)
  assert flat["['encoder']['embeddings']['word']['embedding']"]


def test_weight_decay_leaves_masked_params_alone():
  opt = get_config().optimizer
  opt.weight_decay, opt.clip_norm, opt.warmup_steps = 0.5, 0.0, 0
  tx, _ = optim.make_optimizer(1e-2, 10, opt)
  params = {"dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)},
            "norm": {"scale": jnp.ones(2)}}
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zeros, tx.init(params), params)
  assert np.all(np.asarray(updates["dense"]["kernel"]) < 0)        # decayed towards 0
  assert np.all(np.asarray(updates["dense"]["bias"]) == 0)
  assert np.all(np.asarray(updates["norm"]["scale"]) == 0)


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_schedule_warms_up_then_decays(decay):
  opt = ml_collections.ConfigDict(dict(warmup_steps=10, decay=decay, end_lr_fraction=0.0))
  s = optim.make_schedule(1.0, 110, opt)
  assert float(s(0)) == 0.0 and float(s(5)) == pytest.approx(0.5)
  assert float(s(10)) == pytest.approx(1.0)
  assert float(s(60)) < 1.0 and float(s(110)) == pytest.approx(0.0, abs=1e-6)


def test_lamb_and_accumulation_build():
  opt = get_config().optimizer
  opt.name, opt.grad_accum_steps, opt.warmup_steps = "lamb", 2, 0
  tx, _ = optim.make_optimizer(1e-3, 10, opt)
  params = {"w": {"kernel": jnp.ones((2, 2))}}
  state = tx.init(params)
  g = {"w": {"kernel": jnp.ones((2, 2))}}
  u1, state = tx.update(g, state, params)
  assert float(jnp.abs(u1["w"]["kernel"]).sum()) == 0.0          # accumulating
  u2, state = tx.update(g, state, params)
  assert float(jnp.abs(u2["w"]["kernel"]).sum()) > 0.0           # applied on the 2nd



def _np_lamb(params, grads_seq, lr, b1, b2, eps, wd, excluded):
  """You et al. 2020 Algorithm 2 per tensor, in float64; `excluded` names (biases,
  LayerNorm) get neither weight decay nor the trust ratio (Google's BERT/ALBERT LAMB)."""
  p = {k: np.asarray(v, np.float64) for k, v in params.items()}
  m = {k: np.zeros_like(v) for k, v in p.items()}
  v = {k: np.zeros_like(x) for k, x in p.items()}
  for t, grads in enumerate(grads_seq, start=1):
    for k in p:
      g = np.asarray(grads[k], np.float64)
      m[k] = b1 * m[k] + (1 - b1) * g
      v[k] = b2 * v[k] + (1 - b2) * g * g
      r = (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
      if k in excluded:
        p[k] = p[k] - lr * r
        continue
      u = r + wd * p[k]
      wn, un = np.linalg.norm(p[k]), np.linalg.norm(u)
      ratio = wn / un if wn > 0 and un > 0 else 1.0
      p[k] = p[k] - lr * ratio * u
  return p


def test_lamb_matches_numpy_and_skips_norms_and_biases():
  opt = get_config().optimizer
  opt.name, opt.weight_decay, opt.clip_norm, opt.warmup_steps = "lamb", 0.1, 0.0, 0
  opt.decay, opt.end_lr_fraction, opt.schedule_steps = "linear", 1.0, None   # constant rate
  tx, _ = optim.make_optimizer(1e-2, 10, opt)
  rng = np.random.default_rng(0)
  shapes = {("dense", "kernel"): (3, 4), ("dense", "bias"): (4,), ("norm", "scale"): (4,),
            ("norm", "bias"): (4,), ("word", "embedding"): (5, 3)}
  flat = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
  nest = lambda f: {a: {b: jnp.asarray(f[(a, b)]) for (a2, b) in f if a2 == a} for a, _ in f}
  params, state = nest(flat), None
  state = tx.init(params)
  grads_seq = [{k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
               for _ in range(3)]
  for grads in grads_seq:
    updates, state = tx.update(nest(grads), state, params)
    params = jax.tree.map(lambda p, u: p + u, params, updates)
  excluded = {("dense", "bias"), ("norm", "scale"), ("norm", "bias")}
  ref = _np_lamb(flat, grads_seq, 1e-2, opt.b1, opt.b2, opt.eps, 0.1, excluded)
  for (a, b), want in ref.items():
    np.testing.assert_allclose(params[a][b], want, rtol=2e-5, atol=1e-6, err_msg=f"{a}/{b}")
  # The plain optax.lamb (trust ratio everywhere) differs on the excluded tensors.
  plain = _np_lamb(flat, grads_seq, 1e-2, opt.b1, opt.b2, opt.eps, 0.1, set())
  assert not np.allclose(plain[("norm", "scale")], ref[("norm", "scale")], atol=1e-4)


def test_bert_phases_share_one_schedule():
  """Devlin et al.: 1M steps, warmup 10k, linear decay; phase 1 stops at 900k."""
  p1, p2 = bert_base.get_config("1"), bert_base.get_config("2")
  assert (p1.num_train_steps, p2.num_train_steps) == (900_000, 1_000_000)
  s1 = optim.make_schedule(p1.learning_rate, p1.num_train_steps, p1.optimizer)
  s2 = optim.make_schedule(p2.learning_rate, p2.num_train_steps, p2.optimizer)
  paper = lambda t: 1e-4 * (1_000_000 - t) / (1_000_000 - 10_000)
  for step in (500_000, 899_999, 900_000):
    assert float(s1(step)) == pytest.approx(paper(step), rel=1e-4)
    assert float(s2(step)) == pytest.approx(float(s1(step)), rel=1e-6)
  assert float(s1(899_999)) > 0.09 * 1e-4            # phase 1 ends at 10% of the peak, not 0
  assert float(s2(1_000_000)) == pytest.approx(0.0, abs=1e-12)


def test_schedule_steps_shorter_than_the_run_is_refused():
  opt = ml_collections.ConfigDict(dict(warmup_steps=0, decay="linear", end_lr_fraction=0.0,
                                       schedule_steps=50))
  with pytest.raises(ValueError, match="schedule_steps"):
    optim.make_schedule(1.0, 100, opt)


def test_frozen_positions_get_no_gradient_and_no_update():
  cfg = jaxbert.get_config("bert-tiny", vocab_size=64, num_layers=1, type_vocab_size=0,
                           pair_head=None, pooler=False, position_embedding="sinusoidal",
                           max_position_embeddings=16)
  model = jaxbert.PretrainingModel(cfg)
  params = jaxbert.init_params(model)
  table = params["encoder"]["embeddings"]["frozen_position"]
  from jaxbert.models.embeddings import sinusoidal_table
  np.testing.assert_allclose(table, sinusoidal_table(16, 128), atol=1e-6)
  ids = jnp.asarray(np.random.default_rng(0).integers(5, 64, (2, 8)), jnp.int32)
  loss = lambda p: jnp.sum(model.apply({"params": p}, ids).mlm_logits ** 2)
  grads = jax.grad(loss)(params)
  assert float(jnp.abs(grads["encoder"]["embeddings"]["frozen_position"]).max()) == 0.0
  assert float(jnp.abs(grads["encoder"]["embeddings"]["word"]["embedding"]).max()) > 0.0
  opt = get_config().optimizer
  opt.weight_decay, opt.warmup_steps = 0.5, 0
  for name in ("adamw", "lamb"):
    opt.name = name
    tx, _ = optim.make_optimizer(1e-2, 10, opt)
    state = tx.init(params)
    noisy = jax.tree.map(jnp.ones_like, grads)     # even a non-zero gradient is ignored
    updates, _ = tx.update(noisy, state, params)
    assert float(jnp.abs(updates["encoder"]["embeddings"]["frozen_position"]).max()) == 0.0
    assert float(jnp.abs(updates["encoder"]["embeddings"]["word"]["embedding"]).max()) > 0.0


@pytest.mark.parametrize("key", ["dtype", "param_dtype", "model_overrides.dtype"])
def test_float16_training_is_refused(key):
  config = get_config()
  cli.check_common(config)                             # the default passes
  section, _, name = key.rpartition(".")
  (config[section] if section else config)[name] = "float16"
  with pytest.raises(ValueError, match="loss scaling"):
    cli.check_common(config)


def test_pair_head_learns_a_label_the_input_determines():
  """The NSP/SOP path end to end (pooler, pair head, mlm_loss_fn's pair term, gradients):
  a tiny ALBERT learns a pair label that is the parity of the first token after [CLS],
  so a pair task stuck at chance (train.sop_vs_nsp at 1200 steps) is the data's, not
  the wiring's."""
  import optax  # pylint: disable=import-outside-toplevel
  from synthetic import make_batch  # pylint: disable=import-outside-toplevel
  cfg = jaxbert.get_config("albert-base", vocab_size=64, hidden_size=64, embedding_size=32,
                           num_layers=2, num_heads=2, intermediate_size=128,
                           max_position_embeddings=16, dropout_rate=0.0,
                           attention_dropout_rate=0.0, pair_head="nsp")
  model = jaxbert.PretrainingModel(cfg)
  tx = optax.adam(1e-3)

  def batch(rng):
    b = make_batch(rng, batch=32)
    b["sentence_labels"] = (b["input_ids"][:, 1] % 2).astype(np.int32)
    return {k: jnp.asarray(v) for k, v in b.items()}

  def loss(p, b):
    terms, metrics = losses.mlm_loss_fn(p, b, jax.random.key(0), model=model, pair=True,
                                        deterministic=True)
    return sum(s / c for s, c in terms.values()), metrics

  @jax.jit
  def step(p, opt, b):
    (_, metrics), g = jax.value_and_grad(loss, has_aux=True)(p, b)
    updates, opt = tx.update(g, opt, p)
    return optax.apply_updates(p, updates), opt, metrics

  params, rng = jaxbert.init_params(model), np.random.default_rng(0)
  opt = tx.init(params)
  first = step(params, opt, batch(rng))[2]["pair/accuracy"]
  for _ in range(250):
    params, opt, _ = step(params, opt, batch(rng))
  _, held_out = jax.jit(loss)(params, batch(np.random.default_rng(1)))
  s0, c0 = first
  s, c = held_out["pair/accuracy"]
  assert float(s0 / c0) < 0.8 and float(s / c) >= 0.95, (float(s0 / c0), float(s / c))
