"""Whole models: the encoder with its pretraining heads (task models: tasks.py).

`PretrainingModel` is BERT's BertForPreTraining, ALBERT's AlbertForPreTraining and
DistilBERT's DistilBertForMaskedLM in one module: which heads exist follows the
config (`pair_head`, `pooler`) and `mlm_head`, never the model's name.

Dimension legend: B batch, L length, P predicted positions, D hidden, V vocab, N layers.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxbert.configs import EncoderConfig
from jaxbert.models.encoder import Encoder
from jaxbert.models.heads import MlmHead, PairHead, Pooler

Array = jax.Array


@flax.struct.dataclass
class EncoderOutput:
  last_hidden_state: Array                  # [B, L, D]
  hidden_states: tuple[Array, ...]          # N + 1 arrays [B, L, D], embeddings first
  pooled_output: Array | None = None        # [B, D]
  mlm_logits: Array | None = None           # float32 [B, L, V], or [B, P, V] at given positions
  sentence_logits: Array | None = None      # float32 [B, 2]: NSP (BERT) or SOP (ALBERT)


def check_inputs(config: EncoderConfig, input_ids: Any, token_type_ids: Any = None,
                 position_ids: Any = None) -> None:
  """Refuse ids the embedding tables cannot hold, with one clear message.

  JAX clamps out-of-range gather indices silently, so this must run before the model.
  Value checks need concrete arrays; under `jit` (tracers) only shapes are checked.
  """
  if input_ids.ndim != 2:
    raise ValueError(f"input_ids must be [batch, length]; got shape {tuple(input_ids.shape)}")
  length = input_ids.shape[1]
  if position_ids is None and length > config.max_position_embeddings:
    raise ValueError(f"sequence length {length} exceeds the position table "
                     f"(max_position_embeddings={config.max_position_embeddings})")
  checks = [("input_ids", input_ids, config.vocab_size),
            ("token_type_ids", token_type_ids, max(config.type_vocab_size, 1)),
            ("position_ids", position_ids, config.max_position_embeddings)]
  for name, ids, size in checks:
    if ids is None or isinstance(ids, jax.core.Tracer):
      continue
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() >= size):
      bad = int(ids.max()) if ids.max() >= size else int(ids.min())
      raise ValueError(f"{name} contains {bad}, outside [0, {size}) for this model")


class PretrainingModel(nn.Module):
  """Encoder + MLM head (+ pooler + NSP/SOP head when the config has them)."""
  config: EncoderConfig
  mlm_head: bool = True

  def setup(self):
    cfg = self.config
    dtype, param_dtype = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
    self.encoder = Encoder(cfg)
    if self.mlm_head:
      self.mlm = MlmHead(cfg.hidden_size, cfg.embed_size, cfg.vocab_size, cfg.hidden_act,
                         cfg.layer_norm_eps, cfg.initializer_range, dtype, param_dtype)
    if cfg.pooler:
      self.pooler = Pooler(cfg.hidden_size, cfg.initializer_range, dtype, param_dtype)
    if cfg.pair_head:
      self.pair = PairHead(cfg.hidden_size,
                           cfg.classifier_dropout if cfg.pair_head_dropout else 0.0,
                           cfg.initializer_range, dtype, param_dtype, cfg.dropout_bits)

  def __call__(self, input_ids: Array, attention_mask: Array | None = None,
               token_type_ids: Array | None = None, position_ids: Array | None = None,
               segment_ids: Array | None = None, masked_positions: Array | None = None,
               deterministic: bool = True) -> EncoderOutput:
    """Token ids int32 [B, L] -> EncoderOutput.

    attention_mask [B, L]: 1 for real tokens. segment_ids [B, L]: packed sequences
    (1..n, 0 = padding; attention stays inside each; pass position_ids too).
    masked_positions [B, P]: compute MLM logits only there ([B, P, V]).
    Dropout is active only with deterministic=False and a "dropout" rng.
    """
    check_inputs(self.config, input_ids, token_type_ids, position_ids)
    last, hidden_states = self.encoder(input_ids, attention_mask, token_type_ids,
                                       position_ids, segment_ids, deterministic)
    pooled = self.pooler(last[:, 0]) if self.config.pooler else None          # [B, D]
    return EncoderOutput(
        last_hidden_state=last,
        hidden_states=hidden_states,
        pooled_output=pooled,
        mlm_logits=(self.mlm(last, self.encoder.embeddings.word, masked_positions)
                    if self.mlm_head else None),
        sentence_logits=(self.pair(pooled, deterministic)
                         if self.config.pair_head else None))
