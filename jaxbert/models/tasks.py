"""Fine-tuning models (Devlin et al. 2019, §4: GLUE, SQuAD, NER), and which heads
every model has.

Each task model is the encoder plus one head from jaxbert/models/heads.py:

  SequenceClassifier  logits [B, C] from the pooled output (BERT, ALBERT) or from
                      dense + ReLU of the first token (DistilBERT: no pooler); pairs
                      through token_type_ids; C = 1 is regression. With packed rows
                      (first_positions [B, S]): logits [B, S, C], one per example
  TokenClassifier     logits [B, L, C], one class per position
  QuestionAnswerer    start_logits, end_logits [B, L]: the answer span

`heads_of(model)` is the one place that says which heads a model has, by name; the
Hugging Face maps (jaxbert/convert/hf_names.py) and the export read it, and
`model_with_heads` builds the model back from those names on import. Adding a head
means: its module (heads.py), its model below, its name in HEADS, its map entry in
hf_names.py, and its parity test.

Dimension legend: B batch, L length, S packed examples per row, D hidden, C classes,
N layers.
"""

from __future__ import annotations

from typing import ClassVar

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from jaxbert.configs import EncoderConfig
from jaxbert.models.encoder import Encoder
from jaxbert.models.heads import (ClassifierHead, Pooler, SpanHead, TokenClassifierHead,
                                  gather_positions)
from jaxbert.models.pretraining import PretrainingModel, check_inputs

Array = jax.Array

# Every head a model can have, in the order heads_of lists them.
PRETRAINING_HEADS = ("mlm", "pooler", "pair")
TASKS = ("sequence_classification", "token_classification", "question_answering")
HEADS = PRETRAINING_HEADS + TASKS


@flax.struct.dataclass
class TaskOutput:
  last_hidden_state: Array                  # [B, L, D]
  hidden_states: tuple[Array, ...]          # N + 1 arrays [B, L, D], embeddings first
  pooled_output: Array | None = None        # [B(, S), D] (sequence classification, pooler)
  logits: Array | None = None               # float32 [B(, S), C] or [B, L, C]
  start_logits: Array | None = None         # float32 [B, L] (question answering)
  end_logits: Array | None = None           # float32 [B, L]


class TaskModel(nn.Module):
  """The encoder and one task head; subclasses name the task and apply the head.

  labels: class names (exported as id2label), () for LABEL_0, LABEL_1, ...
  head_dropout: dropout before the head; None: the config's classifier dropout for
  classifiers, none for question answering (as in BERT and ALBERT).
  """
  config: EncoderConfig
  num_labels: int = 2
  labels: tuple[str, ...] = ()
  head_dropout: float | None = None
  task: ClassVar[str] = ""

  @property
  def uses_pooler(self) -> bool:
    return False

  def head(self, last: Array, first: Array, pooled: Array | None,
           deterministic: bool) -> dict:
    """Outputs from the hidden states [B, L, D], the first tokens' [B(, S), D] and the
    pooled output [B(, S), D] (None without a pooler)."""
    raise NotImplementedError

  def dropout(self, default: float) -> float:
    return default if self.head_dropout is None else self.head_dropout

  def head_args(self) -> tuple:
    cfg = self.config
    return (cfg.initializer_range, jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype),
            cfg.dropout_bits)

  @nn.compact
  def __call__(self, input_ids: Array, attention_mask: Array | None = None,
               token_type_ids: Array | None = None, position_ids: Array | None = None,
               segment_ids: Array | None = None, first_positions: Array | None = None,
               deterministic: bool = True) -> TaskOutput:
    """Token ids int32 [B, L] -> TaskOutput (arguments as PretrainingModel's).

    first_positions int [B, S] (sequence classification of packed rows: segment_ids
    and position_ids given too): where each example starts; the head reads those
    tokens, one prediction per example ([B, S, C]). None: the first token ([B, C]).
    """
    cfg = self.config
    if self.labels and len(self.labels) != self.num_labels:
      raise ValueError(f"{len(self.labels)} label names for num_labels={self.num_labels}")
    if first_positions is not None and self.task != "sequence_classification":
      raise ValueError(f"first_positions are for sequence classification, not {self.task}")
    check_inputs(cfg, input_ids, token_type_ids, position_ids)
    last, hidden_states = Encoder(cfg, name="encoder")(
        input_ids, attention_mask, token_type_ids, position_ids, segment_ids, deterministic)
    first = (last[:, 0] if first_positions is None                          # [B, D]
             else gather_positions(last, first_positions))                  # [B, S, D]
    pooled = (Pooler(cfg.hidden_size, cfg.initializer_range, jnp.dtype(cfg.dtype),
                     jnp.dtype(cfg.param_dtype), name="pooler")(first)
              if self.uses_pooler else None)
    return TaskOutput(last_hidden_state=last, hidden_states=hidden_states,
                      pooled_output=pooled, **self.head(last, first, pooled, deterministic))


class SequenceClassifier(TaskModel):
  """Logits float32 [B, C] over the first token ([CLS]), or [B, S, C] over each packed
  example's; C = 1: a regression score."""
  task: ClassVar[str] = "sequence_classification"

  @property
  def uses_pooler(self) -> bool:
    return self.config.pooler

  def head(self, last, first, pooled, deterministic):
    cfg = self.config
    logits = ClassifierHead(cfg.hidden_size, self.num_labels, cfg.pooler,
                            self.dropout(cfg.classifier_dropout), *self.head_args(),
                            name="head")(pooled if cfg.pooler else first, deterministic)
    return {"logits": logits}


class TokenClassifier(TaskModel):
  """Logits float32 [B, L, C]: a class for every position."""
  task: ClassVar[str] = "token_classification"

  def head(self, last, first, pooled, deterministic):
    cfg = self.config
    return {"logits": TokenClassifierHead(cfg.hidden_size, self.num_labels,
                                          self.dropout(cfg.classifier_dropout),
                                          *self.head_args(), name="head")(last, deterministic)}


class QuestionAnswerer(TaskModel):
  """start_logits, end_logits float32 [B, L]: where the answer starts and ends."""
  task: ClassVar[str] = "question_answering"

  def head(self, last, first, pooled, deterministic):
    if self.num_labels != 2:
      raise ValueError(f"question answering has 2 outputs (start, end), not {self.num_labels}")
    start, end = SpanHead(self.config.hidden_size, self.dropout(0.0), *self.head_args(),
                          name="head")(last, deterministic)
    return {"start_logits": start, "end_logits": end}


TASK_MODELS = {cls.task: cls for cls in (SequenceClassifier, TokenClassifier, QuestionAnswerer)}


def heads_of(model: nn.Module) -> tuple[str, ...]:
  """The heads of `model`, by name, in HEADS order: ("mlm", "pooler", "pair") for BERT's
  pretraining model, ("pooler", "sequence_classification") for its classifier, ..."""
  if isinstance(model, TaskModel):
    return ("pooler",) * model.uses_pooler + (model.task,)
  if isinstance(model, PretrainingModel):
    cfg = model.config
    return (("mlm",) * model.mlm_head + ("pooler",) * cfg.pooler
            + ("pair",) * (cfg.pair_head is not None))
  raise ValueError(f"not a jaxbert model: {type(model).__name__}")


def model_with_heads(config: EncoderConfig, heads: tuple[str, ...],
                     **task_fields) -> nn.Module:
  """The model whose heads_of is `heads` (the inverse of heads_of). `config`'s pooler
  and pair head are set from `heads`; task_fields (num_labels, labels, head_dropout)
  go to a task model."""
  unknown = [h for h in heads if h not in HEADS]
  tasks = [h for h in heads if h in TASKS]
  if unknown or len(tasks) > 1 or (tasks and set(heads) - {"pooler"} - set(tasks)):
    raise ValueError(f"no jaxbert model has the heads {heads}")
  config = config.replace(pooler="pooler" in heads,
                          pair_head=config.pair_head if "pair" in heads else None)
  model = (TASK_MODELS[tasks[0]](config, **task_fields) if tasks
           else PretrainingModel(config, mlm_head="mlm" in heads))
  if heads_of(model) != tuple(heads):
    raise ValueError(f"no jaxbert model has the heads {heads} (closest: {heads_of(model)})")
  return model
