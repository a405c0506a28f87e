"""The distillation loss inside the shared train step: teacher frozen, student learns."""

import functools
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxbert
from jaxbert import distillation as D, losses as L
from jaxbert.configs import EncoderConfig
from train import optim, parallel, state as state_lib
from train.configs.distill import distill_config

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train"))
from synthetic import make_batch  # noqa: E402  (the training tests' contract-shaped batches)

VOCAB, LENGTH = 64, 16


def tiny_setup(masked_only=False, seed=0, seeded=True, teacher_init=0.02):
  """(teacher params, student params (seeded from the teacher or random), loss_fn)."""
  t_cfg = EncoderConfig(vocab_size=VOCAB, hidden_size=16, num_layers=2, num_heads=2,
                        intermediate_size=32, max_position_embeddings=LENGTH,
                        dropout_rate=0.0, attention_dropout_rate=0.0, pair_head=None,
                        initializer_range=teacher_init)
  s_cfg = D.student_config(t_cfg, initializer_range=0.02)
  ids = jnp.zeros((1, LENGTH), jnp.int32)
  teacher, student = jaxbert.PretrainingModel(t_cfg), jaxbert.PretrainingModel(s_cfg)
  t_params = nn.unbox(jax.jit(teacher.init)(jax.random.key(seed), ids))["params"]
  s_rand = nn.unbox(jax.jit(student.init)(jax.random.key(seed + 1), ids))["params"]
  s_params = D.init_student(s_cfg, t_cfg, t_params, s_rand) if seeded else s_rand
  t_params = {k: v for k, v in t_params.items() if k != "pooler"}
  teacher = jaxbert.PretrainingModel(t_cfg.replace(pooler=False))
  loss_fn = functools.partial(L.distill_loss_fn, student=student, teacher=teacher,
                              masked_only=masked_only)
  return t_params, s_params, loss_fn


def _batch(seed=0, **kw):
  b = make_batch(np.random.default_rng(seed), batch=8, length=LENGTH, vocab=VOCAB, **kw)
  b["token_type_ids"] = np.zeros_like(b["token_type_ids"])
  return b


def test_teacher_gets_no_gradient_and_never_changes():
  t_params, s_params, loss_fn = tiny_setup()
  batch = _batch()

  def objective(params, extra):
    losses, _ = loss_fn(params, batch, jax.random.key(0), extra, deterministic=True)
    return sum(s / c for s, c in losses.values())

  g_student, g_teacher = jax.jit(jax.grad(objective, argnums=(0, 1)))(s_params, t_params)
  assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(g_teacher))
  assert float(optax_norm(g_student)) > 0.0

  config = distill_config()
  tx, schedule = optim.make_optimizer(1e-3, 10, config.optimizer)
  par = parallel.Parallel("jit")
  state = par.init_state(lambda _: state_lib.create_state(s_params, tx), jax.random.key(0))
  step = par.compile_train(loss_fn=loss_fn, tx=tx, schedule=schedule)
  teacher_before = jax.tree.map(np.array, t_params)
  extra = par.put_extra(t_params)
  student_before = jax.tree.map(np.array, s_params)
  for _ in range(3):
    state, metrics = step(state, par.put_batch(batch), jax.random.key(0), extra)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(extra), teacher_before)
  assert not all(np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(jax.device_get(state.params)), jax.tree.leaves(student_before)))
  # The optimizer state holds the student only: Adam's moments have its structure.
  for moment in ("mu", "nu"):
    tree = optax.tree_utils.tree_get(state.opt_state, moment)
    assert jax.tree_util.tree_structure(tree) == jax.tree_util.tree_structure(s_params)
    assert [x.shape for x in jax.tree.leaves(tree)] == [x.shape for x in jax.tree.leaves(s_params)]
  assert {"distill/soft", "distill/mlm", "distill/cos", "soft/kl", "mlm/accuracy",
          "teacher/mlm_accuracy", "loss"} <= set(metrics)


def optax_norm(tree):
  return jnp.sqrt(sum(jnp.sum(x ** 2) for x in jax.tree.leaves(tree)))


def test_weights_scale_the_terms():
  t_params, s_params, loss_fn = tiny_setup()
  batch = _batch(1)
  run = lambda fn: jax.jit(functools.partial(fn, deterministic=True))(
      s_params, batch, jax.random.key(0), t_params)
  losses, metrics = run(loss_fn)
  for name, w, metric in (("soft", 5.0, "soft/kl"), ("mlm", 2.0, "mlm/loss"),
                          ("cos", 1.0, "cos/loss")):
    np.testing.assert_allclose(float(losses[f"distill/{name}"][0]), w * float(metrics[metric][0]),
                               rtol=1e-6)
  only = functools.partial(loss_fn, weights={"soft": 1.0, "mlm": 0.0, "cos": 0.0})
  losses, _ = run(only)
  assert set(losses) == {"distill/soft"}


def test_short_run_lowers_soft_loss():
  # A peaky random teacher (large init) and a random student: only the soft term.
  t_params, s_params, loss_fn = tiny_setup(masked_only=True, seeded=False, teacher_init=0.3)
  loss_fn = functools.partial(loss_fn, weights={"soft": 1.0, "mlm": 0.0, "cos": 0.0})
  config = distill_config()
  config.optimizer.warmup_steps = 0
  tx, schedule = optim.make_optimizer(3e-3, 40, config.optimizer)
  par = parallel.Parallel("jit")
  state = par.init_state(lambda _: state_lib.create_state(s_params, tx), jax.random.key(0))
  step = par.compile_train(loss_fn=loss_fn, tx=tx, schedule=schedule)
  extra = par.put_extra(t_params)
  batches = [par.put_batch(_batch(i)) for i in range(4)]
  soft = []
  for i in range(40):
    state, metrics = step(state, batches[i % 4], jax.random.key(0), extra)
    soft.append(float(metrics["soft/kl"]))
  assert np.mean(soft[-4:]) < 0.8 * np.mean(soft[:4]), soft
