"""Every training objective in one place: the loss terms, and the loss functions the
training step calls (Devlin et al. 2019, §3.1 and §4; Lan et al. 2020, §3.1; Sanh et
al. 2019, §2; Hinton et al. 2015, §2).

Terms return `(sum, count)` in float32: the weighted sum over the local batch and the
total weight. The training step (train/steps.py) divides once, after any cross-device
sum, so every parallel mode computes the same gradient even with uneven padding.

Loss functions have the step's signature,
`loss_fn(params, batch, rng, extra, *, deterministic, ...) -> (losses, metrics)`, both
dicts of "/"-named (sum, count) terms; the step minimises sum_k losses_k:

  mlm_loss_fn             MLM (+ NSP/SOP)                    train/pretrain.py
  distill_loss_fn         soft targets, hard MLM, cosine     train/distill.py
  classification_loss_fn  classes, or regression (1 label)   train/finetune.py

Legend: B batch, L length, P predicted positions, S examples per (packed) row, V vocab,
C classes, D hidden.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxbert.models.heads import gather_positions

Array = jax.Array
Terms = dict[str, tuple[Array, Array]]


# --------------------------------------------------------------------------- terms

def _xent(logits: Array, labels: Array) -> Array:
  """Cross-entropy float32 [...] of logits [..., V] against int labels [...]."""
  logits = logits.astype(jnp.float32)
  logz = jax.nn.logsumexp(logits, axis=-1)                                  # [...]
  picked = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]  # [...]
  return logz - picked


def weighted_xent(logits: Array, labels: Array, weights: Array) -> tuple[Array, Array]:
  """(weighted cross-entropy sum, total weight): logits [..., V], labels int [...],
  weights [...] (0 for padding)."""
  w = weights.astype(jnp.float32)
  return jnp.sum(_xent(logits, labels) * w), jnp.sum(w)


def weighted_accuracy(logits: Array, labels: Array, weights: Array) -> tuple[Array, Array]:
  """(weighted number of correct argmax predictions, total weight)."""
  w = weights.astype(jnp.float32)
  correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
  return jnp.sum(correct * w), jnp.sum(w)


def squared_error(predictions: Array, targets: Array, weights: Array) -> tuple[Array, Array]:
  """(weighted sum of (prediction - target)^2, total weight): float [...] each."""
  w = weights.astype(jnp.float32)
  err = predictions.astype(jnp.float32) - targets.astype(jnp.float32)
  return jnp.sum(err * err * w), jnp.sum(w)


# Masked LM: logits [B, P, V], masked ids [B, P], masked weights [B, P].
mlm_loss, mlm_accuracy = weighted_xent, weighted_accuracy
# NSP / SOP: logits [B, 2], labels [B] (0 = IsNext / in order), example weights [B].
pair_loss, pair_accuracy = weighted_xent, weighted_accuracy


def soft_target_loss(student_logits: Array, teacher_logits: Array, weights: Array,
                     temperature: float = 2.0) -> tuple[Array, Array]:
  """T^2 * KL(softmax(t/T) || softmax(s/T)) summed over positions: (sum, count).

  logits float [B, N, V] (N = L positions or P predictions), weights float [B, N]
  (1 real position, 0 padding). The cross-entropy -sum softmax(t/T) log softmax(s/T)
  differs from the KL by the teacher's entropy, which has no gradient w.r.t. the
  student: both train identically, but the KL is 0 when the student matches. T^2
  keeps the gradient's scale independent of T (Hinton et al. §2.1).
  """
  t = jax.nn.log_softmax(teacher_logits.astype(jnp.float32) / temperature, axis=-1)
  s = jax.nn.log_softmax(student_logits.astype(jnp.float32) / temperature, axis=-1)
  kl = jnp.sum(jnp.exp(t) * (t - s), axis=-1)                             # [B, N]
  w = weights.astype(jnp.float32)
  return temperature ** 2 * jnp.sum(kl * w), jnp.sum(w)


def cosine_loss(student_hidden: Array, teacher_hidden: Array, mask: Array,
                eps: float = 1e-8) -> tuple[Array, Array]:
  """1 - cos(h_s, h_t) summed over tokens: (sum, count).

  hidden float [B, L, D] (same D), mask [B, L] (1 real token, 0 padding). The cosine
  is s.t / max(|s| |t|, eps), as torch's cosine_similarity.
  """
  s = student_hidden.astype(jnp.float32)
  t = teacher_hidden.astype(jnp.float32)
  dot = jnp.sum(s * t, axis=-1)                                            # [B, L]
  norms = jnp.linalg.norm(s, axis=-1) * jnp.linalg.norm(t, axis=-1)        # [B, L]
  cos = dot / jnp.maximum(norms, eps)
  w = mask.astype(jnp.float32)
  return jnp.sum((1.0 - cos) * w), jnp.sum(w)


def encoder_inputs(batch: dict) -> dict:
  """The encoder's keyword inputs from a batch: its mask, and the token types, positions
  and segment ids when the batch has them (packed rows do)."""
  return {"attention_mask": batch["attention_mask"],
          **{k: batch.get(k) for k in ("token_type_ids", "position_ids", "segment_ids")}}


# --------------------------------------------------------------------------- pretraining

def mlm_loss_fn(params: Any, batch: dict, rng: Array, extra: Any = None, *, model,
                pair: bool, deterministic: bool) -> tuple[Terms, Terms]:
  """MLM at the masked positions, plus NSP/SOP when `pair` (a PretrainingModel's
  batch: jaxbert/data/__init__.py); every term is (sum, count)."""
  del extra
  out = model.apply({"params": params}, batch["input_ids"], **encoder_inputs(batch),
                    masked_positions=batch["masked_positions"],
                    deterministic=deterministic, rngs={"dropout": rng})
  example_w = batch["example_weights"]                                         # [B]
  masked_w = batch["masked_weights"] * example_w[:, None]                      # [B, P]
  losses = {"mlm/loss": mlm_loss(out.mlm_logits, batch["masked_ids"], masked_w)}
  metrics = {"mlm/accuracy": mlm_accuracy(out.mlm_logits, batch["masked_ids"], masked_w)}
  if pair:
    labels = batch["sentence_labels"]
    losses["pair/loss"] = pair_loss(out.sentence_logits, labels, example_w)
    metrics["pair/accuracy"] = pair_accuracy(out.sentence_logits, labels, example_w)
  return losses, metrics


# --------------------------------------------------------------------------- distillation

# DistilBERT's weights of L_ce (soft), L_mlm and L_cos.
DISTILL_WEIGHTS = {"soft": 5.0, "mlm": 2.0, "cos": 1.0}


def distill_terms(student_logits: Array, teacher_logits: Array, student_hidden: Array,
                  teacher_hidden: Array, batch: dict, *, temperature: float = 2.0,
                  masked_only: bool = False) -> Terms:
  """The three distillation terms, unweighted, plus accuracies: {name: (sum, count)}.

  logits float32 [B, P, V] at batch["masked_positions"] when `masked_only`, else
  [B, L, V] at every position; hidden [B, L, D]. Rows with example_weights 0 (eval
  padding) and padding tokens (attention_mask 0) weigh nothing.
  Names: "soft" (T^2 KL), "mlm" (hard cross-entropy), "cos" (1 - cos),
  "accuracy" and "teacher_accuracy" (argmax at the masked positions).
  """
  example_w = batch["example_weights"].astype(jnp.float32)[:, None]        # [B, 1]
  masked_w = batch["masked_weights"] * example_w                           # [B, P]
  token_w = batch["attention_mask"].astype(jnp.float32) * example_w        # [B, L]
  soft = soft_target_loss(student_logits, teacher_logits,
                          masked_w if masked_only else token_w, temperature)
  if not masked_only:
    student_logits = gather_positions(student_logits, batch["masked_positions"])  # [B, P, V]
    teacher_logits = gather_positions(teacher_logits, batch["masked_positions"])  # [B, P, V]
  labels = batch["masked_ids"]
  return {
      "soft": soft,
      "mlm": mlm_loss(student_logits, labels, masked_w),
      "cos": cosine_loss(student_hidden, teacher_hidden, token_w),
      "accuracy": mlm_accuracy(student_logits, labels, masked_w),
      "teacher_accuracy": mlm_accuracy(teacher_logits, labels, masked_w),
  }


def distill_loss_fn(params: Any, batch: dict, rng: Array, extra: Any, *, student,
                    teacher, weights: dict[str, float] | None = None,
                    temperature: float = 2.0, masked_only: bool = False,
                    deterministic: bool) -> tuple[Terms, Terms]:
  """Distillation (jaxbert/distillation.py): `params` are the student's
  (differentiated), `extra` the teacher's (never: its forward is deterministic and
  under stop_gradient). `student` / `teacher` are PretrainingModels; the teacher may
  compute in bfloat16 (its config's dtype). Losses "distill/soft|mlm|cos" carry their
  weights; metrics report the unweighted terms.
  """
  weights = DISTILL_WEIGHTS if weights is None else weights
  positions = batch["masked_positions"] if masked_only else None
  inputs = dict(attention_mask=batch["attention_mask"], position_ids=batch.get("position_ids"),
                segment_ids=batch.get("segment_ids"), masked_positions=positions)
  types = batch.get("token_type_ids")
  t = teacher.apply({"params": extra}, batch["input_ids"], deterministic=True,
                    token_type_ids=types if teacher.config.type_vocab_size else None, **inputs)
  t_logits, t_hidden = jax.lax.stop_gradient((t.mlm_logits, t.last_hidden_state))
  s = student.apply({"params": params}, batch["input_ids"], deterministic=deterministic,
                    token_type_ids=types if student.config.type_vocab_size else None,
                    rngs={"dropout": rng}, **inputs)
  terms = distill_terms(s.mlm_logits, t_logits, s.last_hidden_state, t_hidden, batch,
                        temperature=temperature, masked_only=masked_only)
  losses = {f"distill/{k}": (w * terms[k][0], terms[k][1]) for k, w in weights.items() if w}
  metrics = {"soft/kl": terms["soft"], "mlm/loss": terms["mlm"], "cos/loss": terms["cos"],
             "mlm/accuracy": terms["accuracy"], "teacher/mlm_accuracy": terms["teacher_accuracy"]}
  return losses, metrics


# --------------------------------------------------------------------------- fine-tuning

def classify(params: Any, batch: dict, model, *, deterministic: bool = True,
             rng: Array | None = None) -> Array:
  """Logits float32 [B, S, C] of a SequenceClassifier on a fine-tuning batch
  (jaxbert/data/labelled.py): one row per example (S = 1) or packed rows, the head
  reading each example's first token at batch["first_positions"] [B, S]."""
  out = model.apply({"params": params}, batch["input_ids"], **encoder_inputs(batch),
                    first_positions=batch["first_positions"],
                    deterministic=deterministic,
                    rngs=None if rng is None else {"dropout": rng})
  return out.logits


def classification_loss_fn(params: Any, batch: dict, rng: Array, extra: Any = None, *,
                           model, deterministic: bool) -> tuple[Terms, Terms]:
  """Sequence classification: cross-entropy over C classes, or with one label the
  squared error of the score (regression, as transformers' MSELoss). Labels [B, S]
  (int classes or float scores), label_weights [B, S] (0 on empty slots and padding)."""
  del extra
  logits = classify(params, batch, model, deterministic=deterministic, rng=rng)  # [B, S, C]
  labels, w = batch["labels"], batch["label_weights"]
  if model.num_labels == 1:
    return {"regression/loss": squared_error(logits[..., 0], labels, w)}, {}
  return ({"classification/loss": weighted_xent(logits, labels, w)},
          {"classification/accuracy": weighted_accuracy(logits, labels, w)})
