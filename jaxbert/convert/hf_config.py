"""Hugging Face `config.json` <-> `EncoderConfig`, for model_type bert, albert, distilbert.

Each family has an explicit field map (HF key -> EncoderConfig field) and the
defaults of its transformers config class, used when a key is absent. Where dropout
sits is a property of the family in transformers, so it is set here from model_type:
BERT's NSP head has none on the pooled output, ALBERT's SOP head has classifier
dropout, DistilBERT has none after the attention output projection.
"""

from __future__ import annotations

from typing import Any

from jaxbert.configs import ACTIVATIONS, EncoderConfig

FAMILIES = ("bert", "albert", "distilbert")

# HF key -> (EncoderConfig field, HF default).
BERT_FIELDS = {
    "vocab_size": ("vocab_size", 30522),
    "hidden_size": ("hidden_size", 768),
    "num_hidden_layers": ("num_layers", 12),
    "num_attention_heads": ("num_heads", 12),
    "intermediate_size": ("intermediate_size", 3072),
    "hidden_act": ("hidden_act", "gelu"),
    "hidden_dropout_prob": ("dropout_rate", 0.1),
    "attention_probs_dropout_prob": ("attention_dropout_rate", 0.1),
    "max_position_embeddings": ("max_position_embeddings", 512),
    "type_vocab_size": ("type_vocab_size", 2),
    "initializer_range": ("initializer_range", 0.02),
    "layer_norm_eps": ("layer_norm_eps", 1e-12),
    "pad_token_id": ("pad_token_id", 0),
    "classifier_dropout": ("classifier_dropout_rate", None),
}
ALBERT_FIELDS = {
    "vocab_size": ("vocab_size", 30000),
    "embedding_size": ("embedding_size", 128),
    "hidden_size": ("hidden_size", 4096),
    "num_hidden_layers": ("num_layers", 12),
    "num_hidden_groups": ("num_groups", 1),
    "num_attention_heads": ("num_heads", 64),
    "intermediate_size": ("intermediate_size", 16384),
    "inner_group_num": ("inner_group_num", 1),
    "hidden_act": ("hidden_act", "gelu_new"),
    "hidden_dropout_prob": ("dropout_rate", 0.0),
    "attention_probs_dropout_prob": ("attention_dropout_rate", 0.0),
    "max_position_embeddings": ("max_position_embeddings", 512),
    "type_vocab_size": ("type_vocab_size", 2),
    "initializer_range": ("initializer_range", 0.02),
    "layer_norm_eps": ("layer_norm_eps", 1e-12),
    "classifier_dropout_prob": ("classifier_dropout_rate", 0.1),
    "pad_token_id": ("pad_token_id", 0),
}
DISTILBERT_FIELDS = {
    "vocab_size": ("vocab_size", 30522),
    "max_position_embeddings": ("max_position_embeddings", 512),
    "n_layers": ("num_layers", 6),
    "n_heads": ("num_heads", 12),
    "dim": ("hidden_size", 768),
    "hidden_dim": ("intermediate_size", 3072),
    "dropout": ("dropout_rate", 0.1),
    "attention_dropout": ("attention_dropout_rate", 0.1),
    "activation": ("hidden_act", "gelu"),
    "initializer_range": ("initializer_range", 0.02),
    "seq_classif_dropout": ("classifier_dropout_rate", 0.2),
    "pad_token_id": ("pad_token_id", 0),
}
FIELDS = {"bert": BERT_FIELDS, "albert": ALBERT_FIELDS, "distilbert": DISTILBERT_FIELDS}
DISTILBERT_LAYER_NORM_EPS = 1e-12       # hard-coded in transformers' DistilBERT
PRETRAINING = ("mlm", "pooler", "pair")
ARCHITECTURES = {  # (family, heads as jaxbert/models/tasks.py's heads_of names them) -> HF class
    ("bert", ("mlm", "pooler", "pair")): "BertForPreTraining",
    ("bert", ("mlm",)): "BertForMaskedLM",
    ("bert", ("mlm", "pooler")): "BertForMaskedLM",       # the pooler exported, unused there
    ("bert", ("pooler",)): "BertModel",
    ("bert", ("pooler", "sequence_classification")): "BertForSequenceClassification",
    ("bert", ("token_classification",)): "BertForTokenClassification",
    ("bert", ("question_answering",)): "BertForQuestionAnswering",
    ("albert", ("mlm", "pooler", "pair")): "AlbertForPreTraining",
    ("albert", ("mlm",)): "AlbertForMaskedLM",
    ("albert", ("mlm", "pooler")): "AlbertForMaskedLM",
    ("albert", ()): "AlbertModel",
    ("albert", ("pooler",)): "AlbertModel",
    ("albert", ("pooler", "sequence_classification")): "AlbertForSequenceClassification",
    ("albert", ("token_classification",)): "AlbertForTokenClassification",
    ("albert", ("question_answering",)): "AlbertForQuestionAnswering",
    ("distilbert", ("mlm",)): "DistilBertForMaskedLM",
    ("distilbert", ()): "DistilBertModel",
    ("distilbert", ("sequence_classification",)): "DistilBertForSequenceClassification",
    ("distilbert", ("token_classification",)): "DistilBertForTokenClassification",
    ("distilbert", ("question_answering",)): "DistilBertForQuestionAnswering",
}
# Task classes, by name: their tensors alone do not say the task (BERT's token and
# sequence classifiers are both `classifier.*`), so import reads config.json's class.
TASK_CLASSES = {cls: heads for (_, heads), cls in ARCHITECTURES.items()
                if set(heads) - set(PRETRAINING)}
# Dropout before a task head where the family's HF config names its own key (others: the
# classifier dropout for classifiers, none for question answering).
HEAD_DROPOUT = {("distilbert", "token_classification"): "dropout",
                ("distilbert", "question_answering"): "qa_dropout"}


def config_from_hf(hf: dict[str, Any], source: str = "config.json") -> tuple[str, EncoderConfig]:
  """(family, EncoderConfig) of a Hugging Face config dict; ValueError if unsupported."""
  family = hf.get("model_type")
  if family not in FAMILIES:
    raise ValueError(f"{source}: unsupported model_type {family!r}; jaxbert loads "
                     f"{', '.join(FAMILIES)}")
  if hf.get("position_embedding_type", "absolute") != "absolute":
    raise ValueError(f"{source}: position_embedding_type "
                     f"{hf['position_embedding_type']!r} is not supported (only 'absolute')")
  if hf.get("is_decoder") or hf.get("add_cross_attention"):
    raise ValueError(f"{source}: decoder / cross-attention models are not supported")
  kw = {field: default if hf.get(key) is None else hf[key]
        for key, (field, default) in FIELDS[family].items()}
  if not isinstance(kw["hidden_act"], str) or kw["hidden_act"] not in ACTIVATIONS:
    raise ValueError(f"{source}: activation {kw['hidden_act']!r} is not supported; "
                     f"known: {', '.join(ACTIVATIONS)}")
  if family == "bert":
    kw.update(pair_head="nsp", pooler=True, pair_head_dropout=False)
  elif family == "albert":
    if kw["num_layers"] % kw["num_groups"]:
      raise ValueError(f"{source}: num_hidden_groups={kw['num_groups']} must divide "
                       f"num_hidden_layers={kw['num_layers']}")
    kw.update(pair_head="sop", pooler=True, pair_head_dropout=True)
  else:
    kw.update(type_vocab_size=0, pair_head=None, pooler=False, attention_output_dropout=False,
              layer_norm_eps=DISTILBERT_LAYER_NORM_EPS,
              position_embedding="sinusoidal" if hf.get("sinusoidal_pos_embds") else "learned")
  try:
    return family, EncoderConfig(**kw)
  except ValueError as e:
    raise ValueError(f"{source}: {e}") from e


def family_of(cfg: EncoderConfig) -> str:
  """The Hugging Face model_type that can hold `cfg` (ValueError if none can)."""
  if cfg.embedding_size is not None or cfg.groups != cfg.num_layers or cfg.inner_group_num > 1:
    family = "albert"
  elif cfg.type_vocab_size == 0:
    family = "distilbert"
    if cfg.pooler or cfg.pair_head:
      raise ValueError("a model without token types but with a pooler or sentence head has "
                       "no Hugging Face equivalent (DistilBERT has neither)")
    if cfg.layer_norm_eps != DISTILBERT_LAYER_NORM_EPS:
      raise ValueError(f"DistilBERT's layer_norm_eps is fixed at {DISTILBERT_LAYER_NORM_EPS}; "
                       f"got {cfg.layer_norm_eps}")
  else:
    family = "bert"
  if family != "distilbert" and cfg.type_vocab_size == 0:
    raise ValueError(f"{family} needs type_vocab_size >= 1")
  return family


def config_to_hf(cfg: EncoderConfig, family: str, architecture: str) -> dict[str, Any]:
  """A Hugging Face config dict for `cfg` in `family` (see family_of)."""
  values = cfg.to_dict()
  values["embedding_size"] = cfg.embed_size
  values["num_groups"] = cfg.groups
  out = {"architectures": [architecture], "model_type": family}
  for key, (field, default) in FIELDS[family].items():
    out[key] = values[field]
  if family == "bert" and cfg.classifier_dropout_rate is None:
    out["classifier_dropout"] = None
  if family == "albert":
    out["classifier_dropout_prob"] = cfg.classifier_dropout
    out.update(position_embedding_type="absolute", bos_token_id=2, eos_token_id=3)
  if family == "bert":
    out["position_embedding_type"] = "absolute"
  if family == "distilbert":
    out.update(sinusoidal_pos_embds=cfg.position_embedding == "sinusoidal",
               seq_classif_dropout=cfg.classifier_dropout, qa_dropout=cfg.dropout_rate,
               tie_weights_=True)
  out["dtype"] = cfg.param_dtype
  return out


def task_from_hf(hf: dict[str, Any], family: str) -> dict[str, Any]:
  """num_labels, labels (from id2label; () for transformers' LABEL_i names) and
  head_dropout of a task class's config.json."""
  id2label = hf.get("id2label") or {}
  labels = tuple(str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}")))
                 for i in range(len(id2label)))
  num_labels = len(labels) or int(hf.get("num_labels", 2))
  default = tuple(f"LABEL_{i}" for i in range(num_labels))
  fields = {"num_labels": num_labels, "labels": () if labels == default else labels}
  task = [h for h in TASK_CLASSES.get((hf.get("architectures") or [""])[0], ())
          if h not in PRETRAINING]
  key = HEAD_DROPOUT.get((family, task[0])) if task else None
  if key is not None:
    fields["head_dropout"] = float(hf.get(key, 0.1))       # both keys default to 0.1
  return fields


def task_to_hf(num_labels: int, labels: tuple[str, ...], family: str, task: str,
               head_dropout: float | None) -> dict[str, Any]:
  """id2label, label2id (and problem_type "regression" for one label) for config.json."""
  names = list(labels) or [f"LABEL_{i}" for i in range(num_labels)]
  out = {"id2label": {str(i): n for i, n in enumerate(names)},
         "label2id": {n: i for i, n in enumerate(names)}}
  if num_labels == 1 and task == "sequence_classification":
    out["problem_type"] = "regression"
  if head_dropout is not None and HEAD_DROPOUT.get((family, task)) == "qa_dropout":
    out["qa_dropout"] = head_dropout
  return out
