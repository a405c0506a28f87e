"""Explicit parameter-name maps: Hugging Face tensor name -> jaxbert parameter path.

An `Entry` names one HF tensor, the path of our leaf, the group index g when the
leaf is stacked over layer groups ([G, ...]), and the transform between layouts:

  copy    same shape (embedding tables, LayerNorm scale/bias, vectors)
  flat    HF [prod(s)] <-> ours s (attention biases [H, K])
  dense1  torch Linear [out, in] <-> ours [in, *out]: transpose, then reshape
  dense2  torch Linear [out, in] <-> ours [a, b, out] (attention output [H, K, D])

Layer i of N uses group i * G // N; BERT and DistilBERT have G = N and one layer per
group, ALBERT stores G groups of `inner_group_num` layers.
"""

from __future__ import annotations

from typing import NamedTuple

from jaxbert.configs import EncoderConfig


class Entry(NamedTuple):
  hf: str
  path: tuple[str, ...]
  kind: str = "copy"
  group: int | None = None


PREFIX = {"bert": "bert.", "albert": "albert.", "distilbert": "distilbert."}

EMB = ("encoder", "embeddings")
EMBEDDINGS = {  # family -> [(HF name under the base prefix, our path, kind)]
    "bert": [
        ("embeddings.word_embeddings.weight", EMB + ("word", "embedding"), "copy"),
        ("embeddings.position_embeddings.weight", EMB + ("position", "embedding"), "copy"),
        ("embeddings.token_type_embeddings.weight", EMB + ("token_type", "embedding"), "copy"),
        ("embeddings.LayerNorm.weight", EMB + ("norm", "scale"), "copy"),
        ("embeddings.LayerNorm.bias", EMB + ("norm", "bias"), "copy"),
    ],
    "distilbert": [
        ("embeddings.word_embeddings.weight", EMB + ("word", "embedding"), "copy"),
        ("embeddings.position_embeddings.weight", EMB + ("position", "embedding"), "copy"),
        ("embeddings.LayerNorm.weight", EMB + ("norm", "scale"), "copy"),
        ("embeddings.LayerNorm.bias", EMB + ("norm", "bias"), "copy"),
    ],
}
EMBEDDINGS["albert"] = EMBEDDINGS["bert"] + [
    ("encoder.embedding_hidden_mapping_in.weight", EMB + ("projection", "kernel"), "dense1"),
    ("encoder.embedding_hidden_mapping_in.bias", EMB + ("projection", "bias"), "copy"),
]

LAYER = {  # family -> [(HF name inside one layer, our path inside layer_j, kind)]
    "bert": [
        ("attention.self.query.weight", ("attention", "query", "kernel"), "dense1"),
        ("attention.self.query.bias", ("attention", "query", "bias"), "flat"),
        ("attention.self.key.weight", ("attention", "key", "kernel"), "dense1"),
        ("attention.self.key.bias", ("attention", "key", "bias"), "flat"),
        ("attention.self.value.weight", ("attention", "value", "kernel"), "dense1"),
        ("attention.self.value.bias", ("attention", "value", "bias"), "flat"),
        ("attention.output.dense.weight", ("attention", "output", "kernel"), "dense2"),
        ("attention.output.dense.bias", ("attention", "output", "bias"), "copy"),
        ("attention.output.LayerNorm.weight", ("attention_norm", "scale"), "copy"),
        ("attention.output.LayerNorm.bias", ("attention_norm", "bias"), "copy"),
        ("intermediate.dense.weight", ("mlp", "intermediate", "kernel"), "dense1"),
        ("intermediate.dense.bias", ("mlp", "intermediate", "bias"), "copy"),
        ("output.dense.weight", ("mlp", "output", "kernel"), "dense1"),
        ("output.dense.bias", ("mlp", "output", "bias"), "copy"),
        ("output.LayerNorm.weight", ("mlp_norm", "scale"), "copy"),
        ("output.LayerNorm.bias", ("mlp_norm", "bias"), "copy"),
    ],
    "albert": [
        ("attention.query.weight", ("attention", "query", "kernel"), "dense1"),
        ("attention.query.bias", ("attention", "query", "bias"), "flat"),
        ("attention.key.weight", ("attention", "key", "kernel"), "dense1"),
        ("attention.key.bias", ("attention", "key", "bias"), "flat"),
        ("attention.value.weight", ("attention", "value", "kernel"), "dense1"),
        ("attention.value.bias", ("attention", "value", "bias"), "flat"),
        ("attention.dense.weight", ("attention", "output", "kernel"), "dense2"),
        ("attention.dense.bias", ("attention", "output", "bias"), "copy"),
        ("attention.LayerNorm.weight", ("attention_norm", "scale"), "copy"),
        ("attention.LayerNorm.bias", ("attention_norm", "bias"), "copy"),
        ("ffn.weight", ("mlp", "intermediate", "kernel"), "dense1"),
        ("ffn.bias", ("mlp", "intermediate", "bias"), "copy"),
        ("ffn_output.weight", ("mlp", "output", "kernel"), "dense1"),
        ("ffn_output.bias", ("mlp", "output", "bias"), "copy"),
        ("full_layer_layer_norm.weight", ("mlp_norm", "scale"), "copy"),
        ("full_layer_layer_norm.bias", ("mlp_norm", "bias"), "copy"),
    ],
    "distilbert": [
        ("attention.q_lin.weight", ("attention", "query", "kernel"), "dense1"),
        ("attention.q_lin.bias", ("attention", "query", "bias"), "flat"),
        ("attention.k_lin.weight", ("attention", "key", "kernel"), "dense1"),
        ("attention.k_lin.bias", ("attention", "key", "bias"), "flat"),
        ("attention.v_lin.weight", ("attention", "value", "kernel"), "dense1"),
        ("attention.v_lin.bias", ("attention", "value", "bias"), "flat"),
        ("attention.out_lin.weight", ("attention", "output", "kernel"), "dense2"),
        ("attention.out_lin.bias", ("attention", "output", "bias"), "copy"),
        ("sa_layer_norm.weight", ("attention_norm", "scale"), "copy"),
        ("sa_layer_norm.bias", ("attention_norm", "bias"), "copy"),
        ("ffn.lin1.weight", ("mlp", "intermediate", "kernel"), "dense1"),
        ("ffn.lin1.bias", ("mlp", "intermediate", "bias"), "copy"),
        ("ffn.lin2.weight", ("mlp", "output", "kernel"), "dense1"),
        ("ffn.lin2.bias", ("mlp", "output", "bias"), "copy"),
        ("output_layer_norm.weight", ("mlp_norm", "scale"), "copy"),
        ("output_layer_norm.bias", ("mlp_norm", "bias"), "copy"),
    ],
}
LAYER_PREFIX = {  # family -> HF name of (group g, inner layer j)
    "bert": lambda g, j: f"encoder.layer.{g}.",
    "albert": lambda g, j: f"encoder.albert_layer_groups.{g}.albert_layers.{j}.",
    "distilbert": lambda g, j: f"transformer.layer.{g}.",
}
POOLER = {  # family -> HF name prefix of the pooler's dense layer (under the base prefix)
    "bert": "pooler.dense.", "albert": "pooler.",
}
MLM = {  # family -> [(HF name, our path under params["mlm"], kind)]
    "bert": [
        ("cls.predictions.transform.dense.weight", ("transform", "kernel"), "dense1"),
        ("cls.predictions.transform.dense.bias", ("transform", "bias"), "copy"),
        ("cls.predictions.transform.LayerNorm.weight", ("transform_norm", "scale"), "copy"),
        ("cls.predictions.transform.LayerNorm.bias", ("transform_norm", "bias"), "copy"),
        ("cls.predictions.bias", ("bias",), "copy"),
    ],
    "albert": [
        ("predictions.dense.weight", ("transform", "kernel"), "dense1"),
        ("predictions.dense.bias", ("transform", "bias"), "copy"),
        ("predictions.LayerNorm.weight", ("transform_norm", "scale"), "copy"),
        ("predictions.LayerNorm.bias", ("transform_norm", "bias"), "copy"),
        ("predictions.bias", ("bias",), "copy"),
    ],
    "distilbert": [
        ("vocab_transform.weight", ("transform", "kernel"), "dense1"),
        ("vocab_transform.bias", ("transform", "bias"), "copy"),
        ("vocab_layer_norm.weight", ("transform_norm", "scale"), "copy"),
        ("vocab_layer_norm.bias", ("transform_norm", "bias"), "copy"),
        ("vocab_projector.bias", ("bias",), "copy"),
    ],
}
PAIR = {"bert": "cls.seq_relationship.", "albert": "sop_classifier.classifier."}
TASK_HEADS = {  # task -> family -> [(HF Linear prefix, our path under params["head"])]
    "sequence_classification": {
        "bert": [("classifier.", ("classifier",))],
        "albert": [("classifier.", ("classifier",))],
        "distilbert": [("pre_classifier.", ("pre_classifier",)), ("classifier.", ("classifier",))]},
    "token_classification": {family: [("classifier.", ("classifier",))] for family in PREFIX},
    "question_answering": {family: [("qa_outputs.", ("span",))] for family in PREFIX},
}
HEAD_MARKERS = {  # family -> HF name prefixes showing that a head is present
    "bert": {"mlm": "cls.predictions.", "pair": "cls.seq_relationship."},
    "albert": {"mlm": "predictions.", "pair": "sop_classifier."},
    "distilbert": {"mlm": "vocab_"},
}
# Tied copies a checkpoint may also hold: alias -> (canonical HF name, under base prefix?).
TIED = {
    "bert": {"cls.predictions.decoder.weight": ("embeddings.word_embeddings.weight", True),
             "cls.predictions.decoder.bias": ("cls.predictions.bias", False)},
    "albert": {"predictions.decoder.weight": ("embeddings.word_embeddings.weight", True),
               "predictions.decoder.bias": ("predictions.bias", False)},
    "distilbert": {"vocab_projector.weight": ("embeddings.word_embeddings.weight", True)},
}
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")  # never parameters
def layout(family: str, cfg: EncoderConfig, heads: tuple[str, ...], prefix: str) -> list[Entry]:
  """Every tensor of a checkpoint of `family` with these heads (names as
  jaxbert/models/tasks.py's heads_of gives them), and where it goes."""
  entries = []
  for name, path, kind in EMBEDDINGS[family]:
    if ("token_type" in name and not cfg.type_vocab_size) or (
        "mapping_in" in name and not cfg.factorised):
      continue
    if path == EMB + ("position", "embedding") and cfg.position_embedding == "sinusoidal":
      path = EMB + ("frozen_position",)                                    # a frozen table
    entries.append(Entry(prefix + name, path, kind))
  layer_root = ("encoder", "layers", "groups", "group")
  for g in range(cfg.groups):
    for j in range(cfg.inner_group_num):
      for name, path, kind in LAYER[family]:
        entries.append(Entry(prefix + LAYER_PREFIX[family](g, j) + name,
                             layer_root + (f"layer_{j}",) + path, kind, g))
  for head in heads:
    if head == "pooler":
      entries += linear(prefix + POOLER[family], ("pooler", "dense"))
    elif head == "mlm":
      entries += [Entry(name, ("mlm",) + path, kind) for name, path, kind in MLM[family]]
    elif head == "pair":
      entries += linear(PAIR[family], ("pair", "classifier"))
    else:
      for name, path in TASK_HEADS[head][family]:
        entries += linear(name, ("head",) + path)
  return entries


def linear(hf_prefix: str, path: tuple[str, ...]) -> list[Entry]:
  """A torch Linear (weight [out, in], bias [out]) <-> our Dense (kernel [in, out], bias)."""
  return [Entry(hf_prefix + "weight", path + ("kernel",), "dense1"),
          Entry(hf_prefix + "bias", path + ("bias",), "copy")]
