"""Knowledge distillation: a small student learns from a large teacher's outputs
(Hinton et al. 2015, "Distilling the Knowledge in a Neural Network", §2; Sanh et al.
2019, "DistilBERT", §2 "Training loss" and §3 "Student initialization").

The student is trained on a weighted sum of three terms (DistilBERT's L_ce, L_mlm, L_cos):

  soft  T^2 * KL(softmax(t / T) || softmax(s / T)) at each MLM prediction,  weight 5.0, T = 2.0
  mlm   -log p_s(original token) at the masked positions,                     weight 2.0
  cos   1 - cos(h_s, h_t) between last hidden states at non-padding tokens,   weight 1.0

The soft term is reported as the KL divergence (0 when the student matches). It runs
over every non-padding position (the teacher's full distribution, as in DistilBERT),
or only over the masked positions (`masked_only`). The terms and `distill_loss_fn`,
the step's loss function (teacher forward without gradient, student forward, the
weighted terms), live with every other objective in jaxbert/losses.py; the hard MLM
term is the one pretraining uses. This file is the student.

The student (Sanh et al. §3): by default the teacher's width with half its layers, no
token types, no pooler or sentence head, initialised from the teacher: embeddings and
MLM head copied, and layer i seeded from teacher layer `layer_map[i]`. The named map
"uniform" takes evenly spaced layers including the first and the last,
round(i * (Lt - 1) / (Ls - 1)); for 12 -> 6 that is [0, 2, 4, 7, 9, 11], the layers the
DistilBERT authors' released extraction script takes ("distilbert" names that map).

Dimension legend: Lt / Ls teacher / student layers, G parameter groups.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxbert.configs import EncoderConfig

Params = Any

DISTILBERT_LAYER_MAP = (0, 2, 4, 7, 9, 11)  # Sanh et al.'s extraction of bert-base (12 -> 6)
LAYER_MAPS = ("uniform", "distilbert")      # named maps; or explicit indices "0,3"


# --------------------------------------------------------------------------- student


def student_config(teacher: EncoderConfig, **overrides: Any) -> EncoderConfig:
  """The DistilBERT shape of `teacher`: same width, half the layers (at least 1),
  no token types, no pooler, no sentence head, DistilBERT's layer (no dropout after
  the attention output); any field overridable."""
  layers = overrides.get("num_layers", max(1, teacher.num_layers // 2))
  groups = teacher.num_groups if teacher.num_groups and layers % teacher.num_groups == 0 else None
  base = teacher.replace(num_layers=layers, num_groups=groups, type_vocab_size=0,
                         pooler=False, pair_head=None, pair_head_dropout=False,
                         attention_output_dropout=False)
  return base.replace(**overrides) if overrides else base


def layer_map(teacher_layers: int, student_layers: int,
              spec: str | Sequence[int] = "uniform") -> tuple[int, ...]:
  """Which teacher layer seeds each student layer.

  "uniform": round(i * (Lt - 1) / (Ls - 1)), evenly spaced with the first and the last
  (halves rounded up; a 1-layer student takes layer 0). "distilbert": (0, 2, 4, 7, 9,
  11), only for 12 -> 6. Or explicit indices: a sequence or a string "0,3".
  """
  if isinstance(spec, str) and spec == "uniform":
    if student_layers == 1:
      return (0,)
    return tuple(int(math.floor(i * (teacher_layers - 1) / (student_layers - 1) + 0.5))
                 for i in range(student_layers))
  if isinstance(spec, str) and spec == "distilbert":
    if (teacher_layers, student_layers) != (12, 6):
      raise ValueError(f"layer map 'distilbert' is for a 12-layer teacher and 6-layer "
                       f"student; got {teacher_layers} -> {student_layers} (use 'uniform')")
    return DISTILBERT_LAYER_MAP
  if isinstance(spec, str):
    try:
      spec = [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
      raise ValueError(f"layer map {spec!r}: expected one of {LAYER_MAPS} or comma-separated "
                       "teacher layer indices such as '0,3'") from None
  spec = tuple(int(i) for i in spec)
  if len(spec) != student_layers:
    raise ValueError(f"layer map {list(spec)} has {len(spec)} entries for a "
                     f"{student_layers}-layer student")
  if any(not 0 <= i < teacher_layers for i in spec):
    raise ValueError(f"layer map {list(spec)} names layers outside the teacher's "
                     f"0..{teacher_layers - 1}")
  return spec


def _copy(dst: dict, src: dict, path: str, transform=None) -> dict:
  """dst with every leaf under it replaced by src's (optionally transformed), shapes checked."""
  flat_dst = jax.tree_util.tree_flatten_with_path(dst)[0]
  flat_src = dict(jax.tree_util.tree_flatten_with_path(src)[0])
  leaves = []
  for key, d in flat_dst:
    name = path + jax.tree_util.keystr(key)
    if key not in flat_src:
      raise ValueError(f"cannot initialise the student from the teacher: the teacher has no "
                       f"{name}")
    s = flat_src[key] if transform is None else transform(flat_src[key])
    if s.shape != d.shape:
      raise ValueError(f"cannot initialise the student from the teacher: {name} is "
                       f"{tuple(d.shape)} in the student but {tuple(s.shape)} in the teacher "
                       "(a student of another width cannot copy; set student.init='random')")
    leaves.append(jnp.asarray(s, d.dtype))
  return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(dst), leaves)


def _position_table(cfg: EncoderConfig, embeddings: Params):
  """The position table [P, E]: learned (position/embedding) or frozen (frozen_position)."""
  if cfg.position_embedding == "learned":
    return embeddings["position"]["embedding"]
  return embeddings["frozen_position"]


def init_student(student: EncoderConfig, teacher: EncoderConfig, teacher_params: Params,
                 student_params: Params, spec: str | Sequence[int] = "uniform") -> Params:
  """`student_params` (a random init of the student) seeded from the teacher.

  Copied: word/position embeddings (the first rows of the teacher's position table),
  their LayerNorm, the E -> D projection, token types when the student has them (first
  rows), the transformer layers through `layer_map` (a gather on the stacked [G, ...]
  axis: student group g takes the teacher group holding layer map[g * Rs]), the MLM
  head, and the pooler / sentence head when both models have them.
  Raises ValueError when a mapped tensor's shape differs (e.g. a wider student).
  """
  if student.vocab_size != teacher.vocab_size:
    raise ValueError(f"student vocab_size {student.vocab_size} != teacher vocab_size "
                     f"{teacher.vocab_size}: the student must use the teacher's vocabulary")
  if student.inner_group_num != teacher.inner_group_num:
    raise ValueError(f"student inner_group_num {student.inner_group_num} != teacher's "
                     f"{teacher.inner_group_num}: the layer map cannot copy groups")
  mapping = layer_map(teacher.num_layers, student.num_layers, spec)
  groups = np.array([mapping[g * student.repeats] * teacher.groups // teacher.num_layers
                     for g in range(student.groups)])                      # [Gs] teacher groups
  new = dict(student_params)
  s_emb, t_emb = dict(new["encoder"]["embeddings"]), teacher_params["encoder"]["embeddings"]
  for name in ("word", "norm", "projection"):
    if name in s_emb:
      s_emb[name] = _copy(s_emb[name], t_emb[name], f"['encoder']['embeddings']['{name}']")
  rows = lambda n: (lambda x: x[:n])
  # The position table, learned or frozen sinusoidal in either model: the student takes
  # the teacher's first rows (as DistilBERT's student did).
  s_table = _copy(_position_table(student, s_emb), _position_table(teacher, t_emb),
                  "['encoder']['embeddings'] positions", rows(student.max_position_embeddings))
  if student.position_embedding == "learned":
    s_emb["position"] = {"embedding": s_table}
  else:
    s_emb["frozen_position"] = s_table
  if "token_type" in s_emb and "token_type" in t_emb:
    s_emb["token_type"] = _copy(s_emb["token_type"], t_emb["token_type"],
                                "['encoder']['embeddings']['token_type']",
                                rows(student.type_vocab_size))
  layers = _copy(new["encoder"]["layers"], teacher_params["encoder"]["layers"],
                 "['encoder']['layers']", lambda x: np.asarray(x)[groups])  # [Gs, ...]
  new["encoder"] = dict(new["encoder"], embeddings=s_emb, layers=layers)
  for head in ("mlm", "pooler", "pair"):
    if head in new and head in teacher_params:
      new[head] = _copy(new[head], teacher_params[head], f"['{head}']")
  return new
