"""Where dropout sits, against transformers' PyTorch models in train mode.

Two random streams cannot be compared draw for draw, so each test switches on one
dropout site at a time and asks a yes/no question of both implementations: do two
train-mode runs with different seeds differ? The answer must be the same for every
family, and the config that jaxbert derives from the Hugging Face config
(jaxbert/convert/hf_config.py) decides it.

- Pair head: only the classifier dropout is on (0.9). BERT's NSP head has no dropout
  (HF BertPreTrainingHeads), ALBERT's SOP head has (AlbertSOPHead).
- Layer: only the hidden dropout is on (0.5) and the MLP's output projection is zeroed,
  so the one site left is the dropout after the attention output projection: BERT and
  ALBERT have it, DistilBERT has not (LN(x + Attn(x))).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxbert
from jaxbert.convert.hf_config import config_from_hf
from jaxbert.models.encoder import Group

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SIZES = {
    "bert": ("BertConfig", dict(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=24,
                                max_position_embeddings=16)),
    "albert": ("AlbertConfig", dict(vocab_size=50, embedding_size=8, hidden_size=16,
                                    num_hidden_layers=1, num_attention_heads=2,
                                    intermediate_size=24, max_position_embeddings=16)),
    "distilbert": ("DistilBertConfig", dict(vocab_size=50, dim=16, n_layers=1, n_heads=2,
                                            hidden_dim=24, max_position_embeddings=16)),
}
DROPOUT_KEYS = {  # family -> (hidden dropout, attention dropout, classifier dropout)
    "bert": ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"),
    "albert": ("hidden_dropout_prob", "attention_probs_dropout_prob",
               "classifier_dropout_prob"),
    "distilbert": ("dropout", "attention_dropout", "seq_classif_dropout"),
}
IDS = np.random.RandomState(0).randint(5, 50, (2, 8))


def hf_config(family, hidden, attention, classifier):
  cls, sizes = SIZES[family]
  keys = DROPOUT_KEYS[family]
  return getattr(transformers, cls)(**sizes, **dict(zip(keys, (hidden, attention, classifier))))


def varies(run) -> bool:
  a, b = np.asarray(run(0), np.float64), np.asarray(run(1), np.float64)
  return bool(np.max(np.abs(a - b)) > 1e-6)


@pytest.mark.parametrize("family", ["bert", "albert"])
def test_pair_head_dropout_matches_hf(family):
  config = hf_config(family, 0.0, 0.0, 0.9)
  hf = getattr(transformers, {"bert": "BertForPreTraining",
                              "albert": "AlbertForPreTraining"}[family])(config).train()

  def hf_run(seed):
    torch.manual_seed(seed)
    with torch.no_grad():
      out = hf(torch.tensor(IDS))
    return (out.seq_relationship_logits if family == "bert" else out.sop_logits).numpy()

  _, cfg = config_from_hf(config.to_dict())
  assert cfg.pair_head_dropout == (family == "albert")
  model = jaxbert.PretrainingModel(cfg)
  params = jaxbert.init_params(model)
  apply = jax.jit(lambda key: model.apply({"params": params}, jnp.asarray(IDS),
                                          deterministic=False, rngs={"dropout": key}))
  ours_run = lambda seed: apply(jax.random.key(seed)).sentence_logits
  assert varies(ours_run) == varies(hf_run) == (family == "albert")


def hf_layer(model, family):
  if family == "bert":
    return model.bert.encoder.layer[0], model.bert.encoder.layer[0].output.dense
  if family == "albert":
    layer = model.albert.encoder.albert_layer_groups[0].albert_layers[0]
    return layer, layer.ffn_output
  layer = model.distilbert.transformer.layer[0]
  return layer, layer.ffn.lin2


@pytest.mark.parametrize("family", ["bert", "albert", "distilbert"])
def test_attention_output_dropout_matches_hf(family):
  config = hf_config(family, 0.5, 0.0, 0.0)
  model = getattr(transformers, {"bert": "BertForMaskedLM", "albert": "AlbertForMaskedLM",
                                 "distilbert": "DistilBertForMaskedLM"}[family])(config)
  layer, mlp_out = hf_layer(model, family)
  with torch.no_grad():
    mlp_out.weight.zero_()
    mlp_out.bias.zero_()
  layer.train()
  x = np.random.RandomState(1).normal(size=(2, 8, 16)).astype(np.float32)

  def hf_run(seed):
    torch.manual_seed(seed)
    with torch.no_grad():
      return layer(torch.tensor(x))[0].numpy()

  _, cfg = config_from_hf(config.to_dict())
  assert cfg.attention_output_dropout == (family != "distilbert")
  group = Group(cfg, deterministic=False)
  mask = jnp.ones((2, 1, 1, 8), bool)
  params = group.init({"params": jax.random.key(0), "dropout": jax.random.key(0)},
                      jnp.asarray(x), mask)["params"]
  params = jax.tree_util.tree_map_with_path(
      lambda path, p: jnp.zeros_like(p) if "'mlp'" in jax.tree_util.keystr(path)
      and "'output'" in jax.tree_util.keystr(path) else p, params)
  apply = jax.jit(lambda key: group.apply({"params": params}, jnp.asarray(x), mask,
                                          rngs={"dropout": key})[0])
  ours_run = lambda seed: apply(jax.random.key(seed))
  assert varies(ours_run) == varies(hf_run) == (family != "distilbert")


def test_presets_place_dropout_like_their_family():
  assert not jaxbert.get_config("bert-base").pair_head_dropout
  assert jaxbert.get_config("albert-base").pair_head_dropout
  assert jaxbert.get_config("bert-base").attention_output_dropout
  assert not jaxbert.get_config("distilbert-base").attention_output_dropout
