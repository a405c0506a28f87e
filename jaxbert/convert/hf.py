"""Hugging Face checkpoint import and export (config.json + model.safetensors).

    model, params = from_pretrained("dir", dtype="bfloat16")   # config overrides
    save_pretrained("out", model, params)

Import is strict: every tensor of the checkpoint must map to a parameter of the model
and every parameter must be filled, with matching shapes; otherwise one ValueError
lists all the problems. Which heads the returned model has follows the checkpoint
(BertModel: no MLM head; BertForMaskedLM: no pooler or NSP head). Only safetensors
files are read: never pickle.
"""

from __future__ import annotations

import json
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxbert.configs import EncoderConfig
from jaxbert.convert import safetensors_io
from jaxbert.convert.hf_config import (ARCHITECTURES, TASK_CLASSES, config_from_hf,
                                       config_to_hf, family_of, task_from_hf, task_to_hf)
from jaxbert.convert.hf_names import BUFFERS, HEAD_MARKERS, PREFIX, POOLER, TIED, Entry, layout
from jaxbert.convert.hf_tokenizer import as_tokenizer, tokenizer_config, write_tokenizer
from jaxbert.models import PretrainingModel
from jaxbert.models.tasks import TaskModel, heads_of, model_with_heads

WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"


# ----------------------------------------------------------------------------- files

def read_config(path: str) -> dict[str, Any]:
  file = os.path.join(path, "config.json")
  if not os.path.isfile(file):
    raise ValueError(f"{path}: no config.json (not a Hugging Face model directory)")
  try:
    with open(file) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(f"{file}: not valid JSON ({e})") from e


def read_tensors(path: str) -> dict[str, np.ndarray]:
  """Tensors of `path`/model.safetensors or of the shards named by its index."""
  single, index = os.path.join(path, WEIGHTS), os.path.join(path, INDEX)
  if os.path.isfile(single):
    return safetensors_io.read(single)
  if os.path.isfile(index):
    try:
      with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
      raise ValueError(f"{index}: malformed shard index ({e})") from e
    tensors = {}
    for shard in sorted(set(weight_map.values())):
      tensors.update(safetensors_io.read(os.path.join(path, shard)))
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
      raise ValueError(f"{index}: tensors listed but absent from the shards: {missing}")
    return tensors
  pickles = [f for f in ("pytorch_model.bin", "flax_model.msgpack") if
             os.path.isfile(os.path.join(path, f))]
  raise ValueError(f"{path}: no {WEIGHTS} or {INDEX}" + (
      f" (found {pickles}: jaxbert reads only safetensors; convert with transformers' "
      f"save_pretrained(safe_serialization=True))" if pickles else ""))


# ----------------------------------------------------------------------------- shapes

def param_shapes(model: nn.Module) -> dict[str, Any]:
  """The parameter tree of `model` as ShapeDtypeStructs, without allocating."""
  ids = jnp.zeros((1, 1), jnp.int32)
  return jax.eval_shape(lambda: nn.unbox(model.init(jax.random.key(0), ids))["params"])


def count_params(config: EncoderConfig, mlm_head: bool = True) -> int:
  """Number of parameters of PretrainingModel(config), computed without allocating."""
  shapes = param_shapes(PretrainingModel(config, mlm_head=mlm_head))
  return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes))


def get_path(tree: dict, path: tuple[str, ...]) -> Any:
  for key in path:
    tree = tree[key]
  return tree


def flat_paths(tree: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(flat_paths(value, prefix + (key,)))
    else:
      out[prefix + (key,)] = value
  return out


def hf_shape(kind: str, shape: tuple[int, ...]) -> tuple[int, ...]:
  """Shape of the HF tensor for our leaf `shape` (one group's slice)."""
  if kind == "copy":
    return tuple(shape)
  if kind == "flat":
    return (int(np.prod(shape)),)
  n_in = int(kind[-1])                                                   # dense1 / dense2
  return (int(np.prod(shape[n_in:])), int(np.prod(shape[:n_in])))


def to_ours(kind: str, tensor: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
  if kind.startswith("dense"):
    tensor = tensor.T                                                    # [out, in] -> [in, out]
  return tensor.reshape(shape)


def to_hf(kind: str, leaf: np.ndarray) -> np.ndarray:
  if kind == "flat":
    return leaf.reshape(-1)
  if kind.startswith("dense"):
    return np.ascontiguousarray(leaf.reshape(hf_shape(kind, leaf.shape)[::-1]).T)
  return leaf


# ----------------------------------------------------------------------------- import

def detect_heads(family: str, names: set[str], prefix: str,
                 architecture: str = "") -> tuple[str, ...]:
  """The heads of a checkpoint (names as jaxbert/models/tasks.py's heads_of gives them):
  a task class's from config.json's class, pretraining heads from the tensor names."""
  if architecture in TASK_CLASSES:
    return TASK_CLASSES[architecture]
  markers = HEAD_MARKERS[family]
  has = lambda start: any(n.startswith(start) for n in names)
  return (("mlm",) * has(markers["mlm"])
          + ("pooler",) * (family in POOLER and has(prefix + POOLER[family]))
          + ("pair",) * ("pair" in markers and has(markers["pair"])))


def resolve_tied(family: str, tensors: dict[str, np.ndarray], prefix: str,
                 source: str) -> dict[str, np.ndarray]:
  """Drop tied copies (decoder weight/bias) after checking they equal their originals."""
  tensors = dict(tensors)
  for alias, (canonical, under_prefix) in TIED[family].items():
    if alias not in tensors:
      continue
    canonical = prefix + canonical if under_prefix else canonical
    value = tensors.pop(alias)
    if canonical not in tensors:
      tensors[canonical] = value
    elif value.shape != tensors[canonical].shape or not np.array_equal(value, tensors[canonical]):
      raise ValueError(f"{source}: {alias} differs from {canonical}; jaxbert ties the MLM "
                       f"decoder to the word embedding, so this checkpoint cannot be loaded "
                       f"exactly")
  return tensors


def params_from_tensors(tensors: dict[str, np.ndarray], entries: list[Entry],
                        shapes: dict, dtype: str, source: str) -> dict:
  """Fill the parameter tree `shapes` from HF `tensors` by `entries` (strict)."""
  expected = {e.hf: e for e in entries}
  names = {n for n in tensors if not n.endswith(BUFFERS)}
  missing = sorted(set(expected) - names)
  unexpected = sorted(names - set(expected))
  wrong = []
  leaves = {path: np.zeros(leaf.shape, np.float32) for path, leaf in flat_paths(shapes).items()}
  filled = set()
  for name in sorted(set(expected) & names):
    e = expected[name]
    target = leaves[e.path].shape[1:] if e.group is not None else leaves[e.path].shape
    want = hf_shape(e.kind, target)
    if tuple(tensors[name].shape) != want:
      wrong.append(f"{name}: checkpoint {tuple(tensors[name].shape)}, model expects {want}")
      continue
    value = to_ours(e.kind, np.asarray(tensors[name], np.float32), target)
    if e.group is None:
      leaves[e.path] = value
    else:
      leaves[e.path][e.group] = value
    filled.add(e.path)
  unfilled = sorted("/".join(p) for p in set(leaves) - {e.path for e in entries})
  problems = ([f"missing tensors: {missing}"] if missing else []) + (
      [f"unexpected tensors: {unexpected}"] if unexpected else []) + (
      [f"shape mismatches: {wrong}"] if wrong else []) + (
      [f"parameters with no checkpoint tensor: {unfilled}"] if unfilled else [])
  if problems:
    raise ValueError(f"{source} does not match the model:\n  " + "\n  ".join(problems))
  tree: dict = {}
  for path, value in leaves.items():
    node = tree
    for key in path[:-1]:
      node = node.setdefault(key, {})
    node[path[-1]] = jnp.asarray(value, jnp.dtype(dtype))
  return tree


def from_pretrained(path: str, **overrides: Any) -> tuple[nn.Module, dict]:
  """(model, params) of a HF BERT / ALBERT / DistilBERT directory.

  The model has the checkpoint's heads: a PretrainingModel for *ForPreTraining,
  *ForMaskedLM and *Model, a task model (jaxbert/models/tasks.py) with its num_labels
  and label names for *ForSequenceClassification, *ForTokenClassification and
  *ForQuestionAnswering. `overrides` replace EncoderConfig fields (e.g.
  dtype="bfloat16", scan_layers=False); parameters are plain jnp arrays in `param_dtype`.
  """
  hf = read_config(path)
  family, cfg = config_from_hf(hf, os.path.join(path, "config.json"))
  tensors = read_tensors(path)
  source = os.path.join(path, WEIGHTS)
  prefix = PREFIX[family] if any(n.startswith(PREFIX[family]) for n in tensors) else ""
  tensors = resolve_tied(family, tensors, prefix, source)
  heads = detect_heads(family, set(tensors), prefix, (hf.get("architectures") or [""])[0])
  task_fields = task_from_hf(hf, family) if heads in TASK_CLASSES.values() else {}
  model = model_with_heads(cfg.replace(**overrides), heads, **task_fields)
  entries = layout(family, model.config, heads, prefix)
  params = params_from_tensors(tensors, entries, param_shapes(model), model.config.param_dtype,
                               source)
  return model, params


# ----------------------------------------------------------------------------- export

def tensors_from_params(params: dict, entries: list[Entry], shapes: dict) -> dict:
  """HF tensors of our `params` by `entries`; every parameter must be covered."""
  ours = flat_paths(jax.device_get(params))
  want = flat_paths(shapes)
  problems = sorted("/".join(p) for p in set(ours) ^ set(want))
  problems += [f"{'/'.join(p)}: {tuple(np.shape(ours[p]))} != {tuple(want[p].shape)}"
               for p in set(ours) & set(want) if tuple(np.shape(ours[p])) != want[p].shape]
  if problems:
    raise ValueError(f"params do not match the model (extra, missing or mis-shaped): {problems}")
  uncovered = sorted("/".join(p) for p in set(ours) - {e.path for e in entries})
  if uncovered:
    raise ValueError(f"parameters with no Hugging Face name: {uncovered}")
  tensors = {}
  for e in entries:
    leaf = np.asarray(ours[e.path])
    tensors[e.hf] = to_hf(e.kind, leaf if e.group is None else leaf[e.group])
  return tensors


def save_pretrained(path: str, model: nn.Module, params: dict,
                    tokenizer: Any = None) -> None:
  """Write config.json + model.safetensors loadable by transformers' PyTorch classes,
  as the class holding exactly the model's heads (hf_config.ARCHITECTURES).

  With `tokenizer` (a jaxbert Tokenizer or a directory holding tokenizer.json,
  vocab.txt or spiece.model) the tokenizer files go with them
  (jaxbert/convert/hf_tokenizer.py), so AutoTokenizer and pipeline(...) load the
  directory as is. A task model's config.json gets id2label / label2id (and
  problem_type "regression" for one label). Files are written to temporaries and
  renamed, so an existing export is never half-overwritten.
  """
  if not isinstance(model, (PretrainingModel, TaskModel)):
    raise ValueError(f"save_pretrained exports a PretrainingModel or a task model "
                     f"(jaxbert/models/tasks.py), got {type(model).__name__}")
  cfg, params = model.config, nn.unbox(params)
  family = family_of(cfg)
  heads = heads_of(model)
  if (family, heads) not in ARCHITECTURES:
    raise ValueError(f"no Hugging Face {family} class has exactly the heads {heads}"
                     + (" (BertModel always has a pooler)" if family == "bert" else ""))
  architecture = ARCHITECTURES[(family, heads)]
  prefix = "" if architecture.endswith("Model") else PREFIX[family]
  shapes = param_shapes(model)
  tensors = tensors_from_params(params, layout(family, cfg, heads, prefix), shapes)
  hf_config = config_to_hf(cfg, family, architecture)
  if isinstance(model, TaskModel):
    hf_config.update(task_to_hf(model.num_labels, model.labels, family, model.task,
                                model.head_dropout))
  if family == "albert" and not cfg.factorised:
    # ALBERT always projects E -> D; a shared-layer model without one gets the identity.
    eye = np.eye(cfg.hidden_size, dtype=tensors[prefix + "embeddings.LayerNorm.weight"].dtype)
    tensors[prefix + "encoder.embedding_hidden_mapping_in.weight"] = eye
    tensors[prefix + "encoder.embedding_hidden_mapping_in.bias"] = np.zeros_like(eye[0])
  if tokenizer is not None:
    tokenizer = as_tokenizer(tokenizer)
    if tokenizer.vocab_size > cfg.vocab_size:
      raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model's "
                       f"embedding table {cfg.vocab_size}")
    tokenizer_config(tokenizer, 1, True)   # refuses one neither WordPiece nor Unigram before any write
  os.makedirs(path, exist_ok=True)
  config_tmp = os.path.join(path, f"config.json.tmp{os.getpid()}")
  with open(config_tmp, "w") as f:
    json.dump(hf_config, f, indent=2, sort_keys=True)
  try:
    safetensors_io.write(os.path.join(path, WEIGHTS), tensors, {"format": "pt"})
    os.replace(config_tmp, os.path.join(path, "config.json"))
    if tokenizer is not None:
      write_tokenizer(path, tokenizer, cfg.max_position_embeddings, cfg.type_vocab_size > 0)
  finally:
    if os.path.exists(config_tmp):
      os.remove(config_tmp)
