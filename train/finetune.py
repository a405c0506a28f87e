"""Fine-tuning for sequence classification and regression (Devlin et al. 2019, §4.1):
`python -m train.finetune --config=train/configs/finetune_default.py --workdir=DIR
--config.init=PATH`.

A linear recipe: load the encoder from `config.init` (a jaxbert workdir's last
checkpoint, or a Hugging Face directory) with its tokenizer; read the labelled train
and dev files (jaxbert/data/labelled.py); build the classifier, its head fresh, or the
checkpoint's own when it has one for the data's number of labels; tokenise, truncate
and (data.pack) pack the examples (jaxbert/data/packing.py); then hand
`classification_loss_fn` (jaxbert/losses.py) to the shared step, loop, checkpoints and
parallel modes. An epoch ends with an evaluation on dev (jaxbert/metrics.py: accuracy,
F1, Matthews correlation; Pearson, Spearman for regression); the best one's parameters
(config.best_metric) are kept in workdir/best, `patience` epochs without improvement
stop the run, and at the end the best parameters are exported to workdir/hf as
*ForSequenceClassification with the label names and the tokenizer. Running the same
command again resumes.
"""

from __future__ import annotations

import fnmatch
import functools
import math
import os
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import app

import jaxbert
from jaxbert import losses, metrics
from jaxbert.convert.hf_config import family_of
from jaxbert.data import labelled, packing
from jaxbert.data.tokenizer import load_tokenizer
from jaxbert.models.tasks import SequenceClassifier, model_with_heads
from train import cli, loop, multihost, optim, parallel, state as state_lib
from train.checkpoint import SHAPE_FIELDS, Checkpointer, model_conflicts, restore_params
from train.distill import rebox

METRICS = {"classification": ("loss", "accuracy", "f1", "mcc"),
           "regression": ("loss", "pearson", "spearman")}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model")


def validate(config) -> None:
  """Refuse bad values before anything is read or written."""
  if not config.init:
    raise ValueError("no encoder to fine-tune: pass --config.init=PATH (a jaxbert workdir or "
                     "a Hugging Face directory with config.json + model.safetensors)")
  if not config.data.train:
    raise ValueError("no training data: pass --config.data.train=FILE (.csv, .tsv, .jsonl) "
                     "or tfds:glue/NAME")
  if not config.data.dev and not config.data.train.startswith("tfds:"):
    raise ValueError("no dev data: pass --config.data.dev=FILE")
  if not isinstance(config.num_epochs, int) or config.num_epochs <= 0:
    raise ValueError(f"config.num_epochs must be a positive integer (got {config.num_epochs!r})")
  if config.patience < 0:
    raise ValueError(f"config.patience must be >= 0 (got {config.patience})")
  if config.data.max_segments < 1:
    raise ValueError(f"data.max_segments must be >= 1 (got {config.data.max_segments})")
  if config.data.open_rows < 1:
    raise ValueError(f"data.open_rows must be >= 1 (got {config.data.open_rows})")


def load_init(path: str):
  """(model, host params, tokenizer directory or None) of a jaxbert workdir (its last
  checkpoint; else its hf/ export) or a Hugging Face directory."""
  has = lambda name: os.path.exists(os.path.join(path, name))
  vocab_dir = path if any(has(n) for n in TOKENIZER_FILES) else None
  saved = restore_params(path)
  if saved is not None:
    cfg, params = saved
    return jaxbert.PretrainingModel(cfg), params, vocab_dir
  if has("config.json"):
    model, params = jaxbert.from_pretrained(path)
    return model, jax.device_get(params), vocab_dir
  if has(os.path.join("hf", "config.json")):
    model, params, hf_vocab = load_init(os.path.join(path, "hf"))
    return model, params, vocab_dir or hf_vocab
  raise ValueError(f"config.init {path!r} is neither a jaxbert workdir (checkpoints/ with a "
                   "saved step, or hf/) nor a Hugging Face directory (config.json + "
                   "model.safetensors)")


def read_data(d):
  """(train, dev) Examples and the label space, every label checked."""
  columns = dict(text_column=d.text_column, pair_column=d.pair_column,
                 label_column=d.label_column, tfds_data_dir=d.tfds_data_dir)
  train = labelled.read_examples(d.train, split="train", **columns)
  dev_spec = d.dev or "tfds:" + labelled.parse_tfds(d.train, "train")[0]   # TFDS: its dev
  split = "validation"
  if dev_spec.startswith("tfds:"):
    name = labelled.parse_tfds(dev_spec, split)[0].split("/")[-1]
    split = labelled.GLUE_DEV.get(name, split)
  dev = labelled.read_examples(dev_spec, split=split, **columns)
  space = labelled.label_space(train, d.task)
  labelled.label_ids(dev, space)   # a dev label train never saw: refused here
  return train, dev, space


def classifier(config, source, space: labelled.LabelSpace):
  """The SequenceClassifier to train: the init's encoder shape with config.model_overrides
  (no shape changes), config's dtypes, and the data's labels."""
  cfg = source.config
  overrides = {k: v for k, v in config.model_overrides.items() if v is not None}
  changed = [k for k in SHAPE_FIELDS if k in overrides and overrides[k] != getattr(cfg, k)]
  if changed:
    raise ValueError(f"model_overrides {', '.join(changed)} would change the shapes of the "
                     f"init's parameters; fine-tuning keeps its encoder")
  overrides.setdefault("dtype", config.dtype)
  overrides.setdefault("param_dtype", config.param_dtype)
  cfg = cfg.replace(**overrides)
  if config.data.max_seq_length > cfg.max_position_embeddings:
    raise ValueError(f"data.max_seq_length {config.data.max_seq_length} exceeds the model's "
                     f"position table (max_position_embeddings={cfg.max_position_embeddings})")
  pooler = family_of(cfg.replace(pooler=False, pair_head=None)) != "distilbert"
  if (not config.reinit and isinstance(source, SequenceClassifier)
      and source.num_labels != space.num_labels):
    raise ValueError(f"config.init {config.init!r} has a sequence-classification head with "
                     f"{source.num_labels} labels but the data has {space.num_labels} "
                     f"({', '.join(space.names) or 'regression'}); fine-tune from its encoder "
                     f"alone (a checkpoint without that head) or give data with those labels")
  return model_with_heads(cfg, ("pooler",) * pooler + ("sequence_classification",),
                          num_labels=space.num_labels, labels=space.names)


def start_params(model, source, params, reinit: bool, fresh: str = "") -> tuple[dict, list]:
  """(the init's parameters the classifier takes, the paths of those among them that
  start from random weights instead, as in the twin: fresh_paths of `fresh`): the
  encoder, the pooler when both have one, the head when the init is a classifier too
  (none with `reinit`)."""
  if reinit:
    return {}, []
  names = ("encoder", "pooler", "head") if isinstance(source, SequenceClassifier) else (
      "encoder", "pooler")
  taken = {k: params[k] for k in names if k in params and (k != "pooler" or model.uses_pooler)}
  return taken, fresh_paths(taken, fresh)


def subtree_paths(tree: dict, prefix: str = ""):
  """The path of every subtree and leaf of a nested dict: "a", "a/b", ..."""
  for k, v in tree.items():
    yield prefix + k
    if isinstance(v, dict):
      yield from subtree_paths(v, prefix + k + "/")


def fresh_paths(params: dict, spec: str) -> list[str]:
  """The parameter subtrees config.fresh names: comma-separated paths ("pooler",
  "encoder/layers") or patterns ("*/attention/query": `*` matches across "/"), the
  outermost match of each. An entry that matches nothing is an error naming the parts."""
  paths = list(subtree_paths(params))
  chosen = set()
  for pattern in filter(None, (p.strip() for p in spec.split(","))):
    hits = [p for p in paths if fnmatch.fnmatchcase(p, pattern)]
    if not hits:
      parts = [f"encoder/{c}" for c in params.get("encoder", {})] + [
          k for k in params if k != "encoder"]
      raise ValueError(f"config.fresh {pattern!r}: the init has no such parameters to start "
                       f"fresh; its parts: {', '.join(parts)} (a pattern may use *)")
    chosen.update(hits)
  return sorted(p for p in chosen if not any(p.startswith(q + "/") for q in chosen))


def merge_params(taken: dict, fresh: dict, dropped=()) -> dict:
  """A model's initial parameters `fresh` with the values of `taken`, cast to their
  dtypes. Top-level parts missing from `taken` (a new head) and the `dropped` paths
  stay fresh; any other difference between the trees is an error."""
  dropped = set(dropped)

  def merge(t, f, path):
    if path in dropped:
      return f
    if not isinstance(f, dict):
      return jnp.asarray(t, f.dtype)
    if not isinstance(t, dict) or set(t) - set(f):
      raise ValueError(f"the init's parameters at {path or '/'} do not match the model's")
    inner = lambda k: f"{path}/{k}" if path else k
    missing = [k for k in f if k not in t and path and inner(k) not in dropped]
    if missing:
      raise ValueError(f"the init has no parameters {inner(missing[0])}")
    return {k: merge(t[k], v, inner(k)) if k in t else v for k, v in f.items()}

  return merge(taken, fresh, "")


def check_workdir(workdir: str, model_config: dict) -> None:
  """A workdir holding checkpoints of another model or other labels is refused before
  anything in it is touched."""
  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt_dir):
    return
  ckpt = Checkpointer(ckpt_dir, async_save=False)
  try:
    step = ckpt.latest_step()
    saved = ckpt.restore_config(step).get("model", {}) if step is not None else {}
  finally:
    ckpt.close()
  diff = model_conflicts(saved, model_config) + [
      f"{k} {saved[k]!r} -> {model_config[k]!r}" for k in ("num_labels", "labels")
      if k in saved and saved[k] != model_config[k]]
  if diff:
    raise ValueError(f"workdir {workdir} holds a fine-tuning run of a different model or "
                     f"labels ({'; '.join(diff)}); use another --workdir")


def schedule_steps(config, rows_per_epoch: int) -> int:
  """Fill the derived keys (-1): num_train_steps (num_epochs epochs), eval_every (one
  epoch), checkpoint_every (= eval_every), optimizer.warmup_steps (10% of the steps,
  BERT's warmup_proportion). Returns the steps of an epoch."""
  epoch = max(1, math.ceil(rows_per_epoch / config.batch_size))
  with config.unlocked():
    if config.num_train_steps < 0:
      config.num_train_steps = config.num_epochs * epoch
    if config.eval_every < 0:
      config.eval_every = epoch
    if config.checkpoint_every < 0:
      config.checkpoint_every = config.eval_every
    if config.optimizer.warmup_steps < 0:
      config.optimizer.warmup_steps = round(0.1 * config.num_train_steps)
  return epoch


def make_evaluate(par, model, data: packing.LabelledData, batch_size: int):
  """params -> metrics over every dev example, from predictions gathered on the host."""
  predict = par.compile_predict(lambda params, batch, extra: {
      "logits": losses.classify(params, batch, model), "labels": batch["labels"],
      "weights": batch["label_weights"]})
  index, count = par.rows

  def evaluate(params) -> dict[str, float]:
    outs = [predict(params, par.put_batch(b))
            for b in data.eval_batches(batch_size, shard_index=index, shard_count=count)]
    real = np.concatenate([o["weights"] for o in outs]) > 0                  # [R, S]
    logits = np.concatenate([o["logits"] for o in outs])[real]               # [N, C]
    labels = np.concatenate([o["labels"] for o in outs])[real]               # [N]
    if data.space.regression:
      return metrics.regression_metrics(logits[:, 0], labels)
    return metrics.classification_metrics(logits, labels)
  return evaluate


def run(config, workdir: str) -> dict:
  t0 = time.time()
  validate(config)
  par = parallel.Parallel.from_config(config.parallel)   # joins the cluster if distributed
  multihost.check_same_config(config, workdir)
  par.check_batch(config.batch_size // config.optimizer.grad_accum_steps)
  source, source_params, vocab_dir = load_init(config.init)
  d = config.data
  if not (d.tokenizer_dir or vocab_dir):
    raise ValueError(f"config.init {config.init!r} has no tokenizer (tokenizer.json, vocab.txt "
                     "or spiece.model); set --config.data.tokenizer_dir")
  tokenizer = load_tokenizer(d.tokenizer_dir or vocab_dir)
  if tokenizer.vocab_size > source.config.vocab_size:
    raise ValueError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model's "
                     f"embedding table {source.config.vocab_size}")
  train, dev, space = read_data(d)
  if (not config.reinit and isinstance(source, SequenceClassifier) and source.labels
      and set(source.labels) == set(space.names)):
    space = labelled.LabelSpace(source.labels)     # the head's rows keep their classes
  model = classifier(config, source, space)
  taken, dropped = start_params(model, source, source_params, config.reinit, config.fresh)
  kind = "regression" if space.regression else "classification"
  best_metric = config.best_metric or ("pearson" if space.regression else "accuracy")
  if best_metric not in METRICS[kind]:
    raise ValueError(f"best_metric {best_metric!r} is not a {kind} metric "
                     f"({', '.join(METRICS[kind])})")
  model_config = {**model.config.to_dict(), "num_labels": space.num_labels,
                  "labels": list(space.names)}
  check_workdir(workdir, model_config)

  length = d.max_seq_length
  enc_train, enc_dev = (labelled.encode(x, space, tokenizer, length) for x in (train, dev))
  data = packing.LabelledData(enc_train, enc_dev, space, max_length=length,
                              max_segments=d.max_segments, open_rows=d.open_rows,
                              pack=d.pack,
                              token_types=model.config.type_vocab_size > 0, seed=config.seed)
  rows = data.epoch_rows(0)
  epoch = schedule_steps(config, len(rows))
  with config.unlocked():
    config.best_metric = best_metric
  cli.check_common(config)
  if multihost.is_writer():
    classes = f"{len(space.names)} classes" if space.names else "regression"
    print(f"data: {len(train.texts)} train and {len(dev.texts)} dev examples, {classes}; "
          f"{enc_train.truncated} train and {enc_dev.truncated} dev texts truncated to "
          f"{length} tokens", flush=True)
    fill = enc_train.lengths.sum() / (len(rows) * length)
    print(f"rows: {len(enc_train) / len(rows):.2f} examples per row of {length} tokens "
          f"({fill:.0%} real tokens), {epoch} steps per epoch of {config.batch_size} rows, "
          f"{config.num_train_steps} steps", flush=True)
  cli.write_config(workdir, config)

  tx, schedule = optim.make_optimizer(config.learning_rate, config.num_train_steps,
                                      config.optimizer)
  ids = jnp.zeros((1, length), jnp.int32)

  def init_fn(rng):
    boxed = model.init(rng, ids)["params"]
    values = merge_params(taken, nn.unbox(boxed), dropped)
    return state_lib.create_state(rebox(boxed, values), tx)

  local_batch = config.batch_size // config.optimizer.grad_accum_steps // par.rows[1]
  task = loop.Task(
      init_fn=init_fn, tx=tx, schedule=schedule,
      loss_fn=functools.partial(losses.classification_loss_fn, model=model),
      loss_names=(f"{kind}/loss",), data=data, model_config=model_config,
      tokens_per_example=length, evaluate=make_evaluate(par, model, data, local_batch),
      eval_names=METRICS[kind][1:],
      export=(functools.partial(cli.export_hf, os.path.join(workdir, "hf"), model,
                                tokenizer=tokenizer) if config.export_hf else None))
  summary = loop.train(config, workdir, task, par)
  counts = np.bincount(enc_dev.labels) if not space.regression else None
  summary.update(wall_s=time.time() - t0, kind=kind, best_metric=best_metric,
                 examples_per_row=len(enc_train) / len(rows),
                 labels=space.names, truncated=(enc_train.truncated, enc_dev.truncated),
                 majority=(float(counts.max() / counts.sum()) if counts is not None else None))
  return summary


def main(argv):
  del argv
  s = cli.run_or_fail(run)
  if s is None:
    return
  best = s["best"] or {"step": s["step"], "metrics": s["eval"]}
  shown = "  ".join(f"{k} {best['metrics'][k]:.4f}" for k in METRICS[s["kind"]])
  stop = f"  (early stop at step {s['early_stop']})" if s["early_stop"] else ""
  base = f"  (majority class: {s['majority']:.4f})" if s["majority"] is not None else ""
  print(f"final: step {s['step']}{stop}  best dev at step {best['step']}: {shown}{base}  "
        f"wall {s['wall_s']:.0f}s")


if __name__ == "__main__":
  cli.define_flags("finetune_default.py")
  app.run(main, flags_parser=cli.parse_flags)
