"""Analytic FLOPs of one step (model FLOPs, not hardware FLOPs: no remat recompute).

Legend: B batch, L length, D hidden, F MLP width, E embedding width, V vocab,
N layer applications (ALBERT counts every application of its shared layer),
M rows the MLM head runs on (B * P at P masked positions per row for jaxbert's
training step, B * L for Hugging Face, which projects every position).

Forward, one multiply-add = 2 FLOPs:
  matmuls        2 * T * (matmul parameters the tokens pass through), T = B * L:
                   per layer  4 D^2 (Q, K, V, output) + 2 D F (MLP)
                   ALBERT's E -> D projection  E D
  attention      4 * B * L^2 * D per layer (Q K^T scores: 2 B L^2 D; probs V: 2 B L^2 D)
  MLM head       2 * M * (D E + E V)   (transform + tied decoder)
  pooler + pair  2 * B * (D^2 + 2 D)
Softmax, LayerNorm, GELU, embeddings gathers and the optimizer are not counted.
Training: backward = 2 x forward, so a training step is 3 x forward.
"""

from __future__ import annotations

from jaxbert.configs import EncoderConfig

TRAIN_FACTOR = 3  # forward + backward (2 x forward)


def layer_matmul(cfg: EncoderConfig, tokens: int) -> float:
  d, f = cfg.hidden_size, cfg.intermediate_size
  return 2.0 * tokens * (4 * d * d + 2 * d * f)


def attention_core(cfg: EncoderConfig, batch: int, length: int) -> float:
  return 4.0 * batch * length * length * cfg.hidden_size


def attention_block(cfg: EncoderConfig, batch: int, length: int) -> float:
  """Q, K, V and output projections + scores and values: one attention sublayer."""
  d = cfg.hidden_size
  return 2.0 * batch * length * 4 * d * d + attention_core(cfg, batch, length)


def encoder_layer(cfg: EncoderConfig, batch: int, length: int) -> float:
  return layer_matmul(cfg, batch * length) + attention_core(cfg, batch, length)


def encoder(cfg: EncoderConfig, batch: int, length: int, pooler: bool = True) -> float:
  tokens = batch * length
  total = cfg.num_layers * encoder_layer(cfg, batch, length)
  if cfg.factorised:
    total += 2.0 * tokens * cfg.embed_size * cfg.hidden_size
  if pooler and cfg.pooler:
    d = cfg.hidden_size
    total += 2.0 * batch * (d * d + (2 * d if cfg.pair_head else 0))
  return total


def mlm_head(cfg: EncoderConfig, rows: int) -> float:
  return 2.0 * rows * (cfg.hidden_size * cfg.embed_size + cfg.embed_size * cfg.vocab_size)


def pretraining_forward(cfg: EncoderConfig, batch: int, length: int, head_rows: int,
                        pooler: bool = True) -> float:
  """Encoder + MLM head on `head_rows` rows (+ pooler and pair head when present)."""
  return encoder(cfg, batch, length, pooler) + mlm_head(cfg, head_rows)


def train_step(cfg: EncoderConfig, batch: int, length: int, head_rows: int,
               pooler: bool = True) -> float:
  return TRAIN_FACTOR * pretraining_forward(cfg, batch, length, head_rows, pooler)


def distill_step(student: EncoderConfig, teacher: EncoderConfig, batch: int, length: int,
                 head_rows: int) -> float:
  """Teacher forward (no backward) + student training step, both heads on `head_rows`."""
  return (pretraining_forward(teacher, batch, length, head_rows)
          + train_step(student, batch, length, head_rows))
