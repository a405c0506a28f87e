"""The encoder's architecture as one typed, validated value, and its named presets.

BERT, ALBERT and DistilBERT are the same encoder with different fields
(docs/design.md, "One encoder, three models"):

  field              BERT        ALBERT                 DistilBERT
  embedding_size     = hidden    128 (E -> D projection) = hidden
  num_groups         = layers    1 (all layers share)    = layers
  type_vocab_size    2           2                       0 (no token types)
  pair_head          "nsp"       "sop"                   None (and no pooler)
  position_embedding "learned"   "learned"               "learned" ("sinusoidal": frozen)
  attention_output_dropout  True  True                   False
  pair_head_dropout  False       True                   - (no pair head)

Layer i of num_layers uses parameter group i * num_groups // num_layers; each
group holds `inner_group_num` transformer layers applied in order (ALBERT's
`inner_group_num`, 1 everywhere else).
"""

from __future__ import annotations

import dataclasses
from typing import Any

ACTIVATIONS = ("gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu",
               "relu", "silu", "swish", "tanh")
PAIR_HEADS = (None, "nsp", "sop")
POSITION_EMBEDDINGS = ("learned", "sinusoidal")
DTYPES = ("float32", "bfloat16", "float16")
ATTENTION_IMPLS = (None, "xla", "cudnn")
REMAT_POLICIES = ("none", "full", "dots", "dots_no_batch")
DROPOUT_BITS = ("threefry", "hash")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Architecture of a BERT-family encoder with its pretraining heads.

  Sizes use the legend of the model files: V vocab_size, E embedding_size,
  D hidden_size, H num_heads, K = D // H, F intermediate_size.
  """
  vocab_size: int = 30522
  hidden_size: int = 768                # D
  num_layers: int = 12                  # L_layers: applications of a transformer group
  num_heads: int = 12                   # H
  intermediate_size: int = 3072         # F
  embedding_size: int | None = None     # E; None: E = D, no projection (set: E -> D projection)
  num_groups: int | None = None         # G; None means one group per layer (no sharing)
  inner_group_num: int = 1              # transformer layers inside one group
  max_position_embeddings: int = 512
  type_vocab_size: int = 2              # 0: no token-type embeddings
  position_embedding: str = "learned"   # "sinusoidal": a frozen sinusoidal table (not trained)
  hidden_act: str = "gelu"
  layer_norm_eps: float = 1e-12
  dropout_rate: float = 0.1
  attention_dropout_rate: float = 0.1
  classifier_dropout_rate: float | None = None  # None: dropout_rate
  # Where dropout_rate applies besides the embeddings and the MLP output:
  attention_output_dropout: bool = True  # LN(x + Drop(Attn(x))); DistilBERT: LN(x + Attn(x))
  pair_head_dropout: bool = False       # classifier dropout on the pooled output before
                                        # NSP/SOP: ALBERT's SOP head has it, BERT's NSP not
  dropout_bits: str = "threefry"        # how dropout masks are drawn: "threefry" (JAX's
                                        # default) or "hash", ~30x cheaper on CPU
                                        # (jaxbert/models/dropout.py)
  initializer_range: float = 0.02
  pair_head: str | None = "nsp"         # sentence-pair objective: "nsp", "sop" or None
  pooler: bool = True                   # tanh pooler over the first token
  pad_token_id: int = 0
  # Numerics and compilation.
  dtype: str = "float32"                # compute dtype of matmuls and activations
  param_dtype: str = "float32"          # storage dtype of the parameters
  attention_impl: str | None = None     # None: einsum attention; "xla"/"cudnn": jax.nn.dot_product_attention
  scan_layers: bool = True              # lax.scan over layers (False: unrolled loop)
  # Rematerialise each layer in the backward pass: "dots" keeps matmul outputs and
  # recomputes the elementwise work (LayerNorm, GELU, softmax, dropout). On CPU it was
  # faster than "none" (bert-base train step 1.06-1.19x, bert-mini 1.01-1.08x) with 21-32%
  # less compiled memory (benchmarks/results/optimisations_remat.md); not yet measured on
  # GPU/TPU, where "none" may win when memory allows.
  remat_policy: str = "dots"

  def __post_init__(self):
    def need(cond: bool, field: str, why: str):
      if not cond:
        raise ValueError(f"EncoderConfig.{field}: {why} (got {getattr(self, field)!r})")

    for name in ("vocab_size", "hidden_size", "num_layers", "num_heads",
                 "intermediate_size", "max_position_embeddings", "inner_group_num"):
      need(isinstance(getattr(self, name), int) and getattr(self, name) > 0, name,
           "must be a positive integer")
    need(self.hidden_size % self.num_heads == 0, "hidden_size",
         f"must be divisible by num_heads={self.num_heads}")
    need(self.embedding_size is None or self.embedding_size > 0, "embedding_size",
         "must be a positive integer or None")
    need(self.num_groups is None or (isinstance(self.num_groups, int) and self.num_groups > 0),
         "num_groups", "must be a positive integer or None")
    need(self.num_layers % self.groups == 0, "num_groups",
         f"must divide num_layers={self.num_layers}")
    need(self.type_vocab_size >= 0, "type_vocab_size", "must be >= 0")
    need(self.position_embedding in POSITION_EMBEDDINGS, "position_embedding",
         f"must be one of {POSITION_EMBEDDINGS}")
    need(self.hidden_act in ACTIVATIONS, "hidden_act", f"must be one of {ACTIVATIONS}")
    need(self.layer_norm_eps > 0, "layer_norm_eps", "must be > 0")
    for name in ("dropout_rate", "attention_dropout_rate"):
      need(0.0 <= getattr(self, name) < 1.0, name, "must be in [0, 1)")
    need(self.classifier_dropout_rate is None or 0.0 <= self.classifier_dropout_rate < 1.0,
         "classifier_dropout_rate", "must be in [0, 1) or None")
    for name in ("attention_output_dropout", "pair_head_dropout", "pooler"):
      need(isinstance(getattr(self, name), bool), name, "must be True or False")
    need(self.dropout_bits in DROPOUT_BITS, "dropout_bits", f"must be one of {DROPOUT_BITS}")
    need(self.pair_head in PAIR_HEADS, "pair_head", f"must be one of {PAIR_HEADS}")
    need(self.pair_head is None or self.pooler, "pair_head",
         "a sentence-pair head needs pooler=True")
    need(0 <= self.pad_token_id < self.vocab_size, "pad_token_id", "must be a vocabulary id")
    need(self.dtype in DTYPES, "dtype", f"must be one of {DTYPES}")
    need(self.param_dtype in DTYPES, "param_dtype", f"must be one of {DTYPES}")
    need(self.attention_impl in ATTENTION_IMPLS, "attention_impl",
         f"must be one of {ATTENTION_IMPLS}")
    need(self.remat_policy in REMAT_POLICIES, "remat_policy",
         f"must be one of {REMAT_POLICIES}")

  # Derived sizes.
  @property
  def embed_size(self) -> int:
    """E: width of the token embeddings (= D unless factorised)."""
    return self.embedding_size or self.hidden_size

  @property
  def factorised(self) -> bool:
    """An E -> D projection follows the embeddings (ALBERT: whenever E is given, even E = D)."""
    return self.embedding_size is not None

  @property
  def groups(self) -> int:
    """G: number of distinct parameter groups."""
    return self.num_groups or self.num_layers

  @property
  def repeats(self) -> int:
    """How many consecutive layers share one group (num_layers // G)."""
    return self.num_layers // self.groups

  @property
  def head_dim(self) -> int:
    return self.hidden_size // self.num_heads

  @property
  def classifier_dropout(self) -> float:
    return self.dropout_rate if self.classifier_dropout_rate is None else self.classifier_dropout_rate

  def replace(self, **changes: Any) -> "EncoderConfig":
    """A copy with fields changed (validated again)."""
    unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
    if unknown:
      raise ValueError(f"EncoderConfig has no field(s) {sorted(unknown)}")
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def _bert(layers: int, hidden: int, heads: int) -> EncoderConfig:
  return EncoderConfig(hidden_size=hidden, num_layers=layers, num_heads=heads,
                       intermediate_size=4 * hidden)


def _albert(layers: int, hidden: int, heads: int, embed: int = 128) -> EncoderConfig:
  return EncoderConfig(vocab_size=30000, hidden_size=hidden, num_layers=layers,
                       num_heads=heads, intermediate_size=4 * hidden, embedding_size=embed,
                       num_groups=1, hidden_act="gelu_new", pair_head="sop",
                       dropout_rate=0.0, attention_dropout_rate=0.0, pair_head_dropout=True)


PRESETS: dict[str, EncoderConfig] = {
    # Turc et al. 2019 ("Well-Read Students Learn Better") compact BERTs.
    "bert-tiny": _bert(2, 128, 2),
    "bert-mini": _bert(4, 256, 4),
    "bert-small": _bert(4, 512, 8),
    "bert-medium": _bert(8, 512, 8),
    # Devlin et al. 2019.
    "bert-base": _bert(12, 768, 12),
    "bert-large": _bert(24, 1024, 16),
    # Lan et al. 2020, Table 1 (E = 128, all layers shared).
    "albert-base": _albert(12, 768, 12),
    "albert-large": _albert(24, 1024, 16),
    "albert-xlarge": _albert(24, 2048, 16),
    "albert-xxlarge": _albert(12, 4096, 64),
    # Sanh et al. 2019: half of bert-base's layers, no token types, no pooler.
    "distilbert-base": EncoderConfig(num_layers=6, type_vocab_size=0, pair_head=None,
                                     pooler=False, position_embedding="learned",
                                     attention_output_dropout=False),
}


def get_config(name: str, **overrides: Any) -> EncoderConfig:
  """The preset `name` with `overrides` applied, e.g. get_config("bert-tiny", vocab_size=8192)."""
  if name not in PRESETS:
    raise ValueError(f"unknown model preset {name!r}; known presets: {', '.join(PRESETS)}")
  return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
