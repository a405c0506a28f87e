"""Student construction and initialisation from the teacher."""

import functools

import flax.linen as nn
import jax
import numpy as np
import pytest

import jaxbert
from jaxbert import distillation as D
from jaxbert.configs import EncoderConfig


def _teacher(layers=4, **kw):
  return EncoderConfig(vocab_size=50, hidden_size=16, num_layers=layers, num_heads=2,
                       intermediate_size=32, max_position_embeddings=24, **kw)


@functools.lru_cache(maxsize=None)
def _params(cfg, seed):
  """Random parameters, initialised under jit (far fewer dispatches than eager init)."""
  init = jax.jit(jaxbert.PretrainingModel(cfg).init)
  return nn.unbox(init(jax.random.key(seed), np.zeros((1, 8), np.int32)))["params"]


def test_layer_maps():
  assert D.layer_map(12, 6) == (0, 2, 4, 7, 9, 11) == D.layer_map(12, 6, "distilbert")
  assert D.layer_map(4, 2) == (0, 3)
  assert D.layer_map(24, 12) == (0, 2, 4, 6, 8, 10, 13, 15, 17, 19, 21, 23)
  assert D.layer_map(6, 3) == (0, 3, 5)      # 2.5 rounds up
  assert D.layer_map(4, 1) == (0,)
  assert D.layer_map(4, 4) == (0, 1, 2, 3)
  assert D.layer_map(4, 2, "1,2") == (1, 2)
  for bad in ("0,4", "0", "x", "distilbert"):
    with pytest.raises(ValueError, match="layer map"):
      D.layer_map(4, 2, bad)


def test_student_config_is_distilbert_shape():
  s = D.student_config(jaxbert.get_config("bert-base"))
  assert (s.num_layers, s.hidden_size, s.type_vocab_size, s.pooler, s.pair_head) == (
      6, 768, 0, False, None)
  assert s.replace(dropout_rate=0.1) == jaxbert.get_config("distilbert-base")
  s = D.student_config(_teacher(), num_layers=3, intermediate_size=64)
  assert (s.num_layers, s.intermediate_size, s.vocab_size) == (3, 64, 50)
  albert = D.student_config(jaxbert.get_config("albert-base"))
  assert (albert.num_layers, albert.groups) == (6, 1)


@pytest.mark.parametrize("spec", ["uniform", "2,1"])
def test_init_copies_exactly_the_mapped_tensors(spec):
  t_cfg = _teacher()
  s_cfg = D.student_config(t_cfg, num_layers=2, max_position_embeddings=16)
  t_params, s_rand = _params(t_cfg, 0), _params(s_cfg, 1)
  s = D.init_student(s_cfg, t_cfg, t_params, s_rand, spec)
  mapping = D.layer_map(4, 2, spec)
  t_emb, s_emb = t_params["encoder"]["embeddings"], s["encoder"]["embeddings"]
  np.testing.assert_array_equal(s_emb["word"]["embedding"], t_emb["word"]["embedding"])
  np.testing.assert_array_equal(s_emb["position"]["embedding"],
                                t_emb["position"]["embedding"][:16])
  np.testing.assert_array_equal(s_emb["norm"]["scale"], t_emb["norm"]["scale"])
  assert "token_type" not in s_emb and "pooler" not in s and "pair" not in s
  t_layers = t_params["encoder"]["layers"]
  s_layers = s["encoder"]["layers"]
  for (key, sv), tv in zip(jax.tree_util.tree_flatten_with_path(s_layers)[0],
                           jax.tree_util.tree_leaves(t_layers)):
    np.testing.assert_array_equal(sv, np.asarray(tv)[list(mapping)], err_msg=str(key))
  jax.tree_util.tree_map(np.testing.assert_array_equal, s["mlm"], t_params["mlm"])
  # Same structure as the student's own init, and the model runs on it.
  assert jax.tree_util.tree_structure(s) == jax.tree_util.tree_structure(s_rand)
  out = jax.jit(jaxbert.PretrainingModel(s_cfg).apply)({"params": s}, np.ones((2, 8), np.int32))
  assert out.mlm_logits.shape == (2, 8, 50)


def test_init_copies_positions_into_a_frozen_sinusoidal_table():
  """DistilBERT's student: a frozen position table, seeded with the teacher's rows."""
  t_cfg = _teacher()
  s_cfg = D.student_config(t_cfg, num_layers=2, max_position_embeddings=16,
                           position_embedding="sinusoidal")
  s = D.init_student(s_cfg, t_cfg, _params(t_cfg, 0), _params(s_cfg, 1))
  s_emb = s["encoder"]["embeddings"]
  assert "position" not in s_emb
  np.testing.assert_array_equal(s_emb["frozen_position"],
                                _params(t_cfg, 0)["encoder"]["embeddings"]["position"]
                                ["embedding"][:16])


def test_init_keeps_token_types_and_shared_groups():
  t_cfg = _teacher(num_groups=1, layers=4)
  s_cfg = D.student_config(t_cfg, type_vocab_size=2, pooler=True, pair_head="nsp")
  assert s_cfg.groups == 1
  t_params = _params(t_cfg, 0)
  s = D.init_student(s_cfg, t_cfg, t_params, _params(s_cfg, 1))
  jax.tree_util.tree_map(np.testing.assert_array_equal, s["encoder"]["layers"],
                         t_params["encoder"]["layers"])
  np.testing.assert_array_equal(s["encoder"]["embeddings"]["token_type"]["embedding"],
                                t_params["encoder"]["embeddings"]["token_type"]["embedding"])
  jax.tree_util.tree_map(np.testing.assert_array_equal, s["pooler"], t_params["pooler"])


def test_wider_student_or_other_vocab_refused():
  t_cfg = _teacher()
  wide = D.student_config(t_cfg, hidden_size=32, intermediate_size=64)
  with pytest.raises(ValueError, match="cannot initialise the student.*width"):
    D.init_student(wide, t_cfg, _params(t_cfg, 0), _params(wide, 1))
  other = D.student_config(t_cfg, vocab_size=60)
  with pytest.raises(ValueError, match="vocab"):
    D.init_student(other, t_cfg, _params(t_cfg, 0), _params(other, 1))
