"""Knowledge distillation (Sanh et al. 2019):
`python -m train.distill --config=train/configs/distill.py --workdir=DIR --config.teacher=PATH`.

A linear recipe: load the teacher (a jaxbert workdir's last checkpoint, or a Hugging
Face directory), derive the student (jaxbert/distillation.py: the teacher's width with
half its layers, no token types, seeded from the teacher), prepare the data with the
teacher's vocabulary, then hand the student's state and the distillation loss to the
shared loop (train/loop.py). The teacher's parameters travel as the step's `extra`:
placed once, never differentiated, never in the optimizer state or the checkpoints.
Running the same command again resumes from the workdir's last checkpoint (the
teacher is re-read from its path). The student is exported to workdir/hf at the end
(DistilBertForMaskedLM, or BertForMaskedLM when it keeps token types).
"""

from __future__ import annotations

import functools
import json
import os
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import app

import jaxbert
from jaxbert import distillation as D, losses
from jaxbert.data.tokenizer import load_tokenizer
from train import cli, loop, multihost, optim, parallel, state as state_lib
from train.checkpoint import Checkpointer, model_conflicts, restore_params

def validate(config) -> None:
  """Refuse bad values before anything is read or written."""
  if not config.teacher:
    raise ValueError("no teacher: pass --config.teacher=PATH (a jaxbert workdir or a "
                     "Hugging Face directory with config.json + model.safetensors)")
  cli.check_common(config)   # config.model "" derives the student from the teacher
  d = config.distill
  if d.temperature <= 0:
    raise ValueError(f"distill.temperature must be > 0 (got {d.temperature})")
  if min(d.alpha_soft, d.alpha_mlm, d.alpha_cos) < 0 or not (d.alpha_soft or d.alpha_mlm
                                                             or d.alpha_cos):
    raise ValueError("distill.alpha_* must be >= 0 and not all 0")
  if config.student.init not in ("teacher", "random"):
    raise ValueError(f"student.init must be 'teacher' or 'random' (got {config.student.init!r})")


def load_teacher(path: str):
  """(EncoderConfig, params, vocabulary directory or None) of a jaxbert workdir (its last
  checkpoint) or a Hugging Face directory (config.json + model.safetensors)."""
  has = lambda *names: all(os.path.exists(os.path.join(path, n)) for n in names)
  vocab_dir = path if has("vocab.txt") or has("tokenizer.json") else None
  saved = restore_params(path)
  if saved is not None:
    return saved + (vocab_dir,)
  if has("config.json", "model.safetensors"):
    model, params = jaxbert.from_pretrained(path)
    if not model.mlm_head:
      raise ValueError(f"teacher {path} has no MLM head (a *Model checkpoint); distillation "
                       "needs the teacher's MLM distribution")
    return model.config, jax.device_get(params), vocab_dir
  if has("hf", "hf/config.json"):
    return load_teacher(os.path.join(path, "hf"))[:2] + (vocab_dir,)
  raise ValueError(f"teacher {path!r} is neither a jaxbert workdir (checkpoints/ with a "
                   "saved step) nor a Hugging Face directory (config.json + model.safetensors)")


def student_config(config, teacher):
  """The student's EncoderConfig: config.model (a preset) or the teacher's DistilBERT
  shape, with config.model_overrides, the run's dtypes and the teacher's vocabulary."""
  overrides = {k: v for k, v in config.model_overrides.items() if v is not None}
  if overrides.get("vocab_size", teacher.vocab_size) != teacher.vocab_size:
    raise ValueError(f"vocabulary mismatch: student vocab_size {overrides['vocab_size']} != "
                     f"the teacher's {teacher.vocab_size}; the student uses the teacher's vocabulary")
  overrides.update(vocab_size=teacher.vocab_size)
  overrides.setdefault("dtype", config.dtype)
  overrides.setdefault("param_dtype", config.param_dtype)
  if config.model:
    cfg = jaxbert.get_config(config.model, **overrides)
  else:
    cfg = D.student_config(teacher, **overrides)
  if cfg.hidden_size != teacher.hidden_size and config.distill.alpha_cos:
    raise ValueError(f"the cosine loss needs the teacher's width: student hidden_size "
                     f"{cfg.hidden_size} != teacher's {teacher.hidden_size} (set "
                     "distill.alpha_cos=0)")
  return cfg


def check_vocabulary(config, teacher, vocab_dir: str | None) -> str:
  """The data's tokenizer directory, refusing one that is not the teacher's vocabulary."""
  chosen = config.data.tokenizer_dir or vocab_dir
  if not chosen:
    raise ValueError(f"teacher {config.teacher!r} has no vocab.txt or tokenizer.json; "
                     "set --config.data.tokenizer_dir to the teacher's vocabulary")
  tok = load_tokenizer(chosen, config.data.lowercase)
  if vocab_dir and os.path.abspath(chosen) != os.path.abspath(vocab_dir):
    theirs = load_tokenizer(vocab_dir, config.data.lowercase)
    if tok.fingerprint() != theirs.fingerprint():
      raise ValueError(f"vocabulary mismatch: data.tokenizer_dir {chosen!r} is not the "
                       f"teacher's vocabulary ({vocab_dir})")
  if tok.vocab_size > teacher.vocab_size:
    raise ValueError(f"vocabulary mismatch: the tokenizer in {chosen} has {tok.vocab_size} "
                     f"tokens but the teacher's embedding table {teacher.vocab_size}")
  return chosen


def check_workdir(workdir: str, student) -> None:
  """A workdir holding another model's checkpoints is refused before anything is written."""
  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt_dir):
    return
  ckpt = Checkpointer(ckpt_dir, async_save=False)
  try:
    step = ckpt.latest_step()
    diff = model_conflicts(ckpt.restore_config(step).get("model", {}), student.to_dict()) \
        if step is not None else []
  finally:
    ckpt.close()
  if diff:
    raise ValueError(f"workdir {workdir} holds a checkpoint of a different model "
                     f"({'; '.join(diff)}); use another --workdir")


def rebox(boxed, values):
  """`values` (plain arrays) inside the logical-axis boxes of `boxed`."""
  is_box = lambda x: isinstance(x, nn.Partitioned)
  return jax.tree.map(lambda b, v: b.replace_boxed(v) if is_box(b) else v, boxed, values,
                      is_leaf=is_box)


def run(config, workdir: str) -> dict:


  t0 = time.time()
  validate(config)
  par = parallel.Parallel.from_config(config.parallel)   # joins the cluster if distributed
  multihost.check_same_config(config, workdir)
  par.check_batch(config.batch_size // config.optimizer.grad_accum_steps)
  t_cfg, t_params, vocab_dir = load_teacher(config.teacher)
  s_cfg = student_config(config, t_cfg)
  tokenizer_dir = check_vocabulary(config, t_cfg, vocab_dir)
  check_workdir(workdir, s_cfg)
  length = config.data.max_seq_length
  ids = jnp.zeros((1, length), jnp.int32)
  student = jaxbert.PretrainingModel(s_cfg)
  seed_from_teacher = config.student.init == "teacher"
  t_host = jax.tree.map(np.asarray, t_params)
  if seed_from_teacher:   # refuse a student the layer map cannot fill, before any write
    jax.eval_shape(lambda: D.init_student(s_cfg, t_cfg, t_host, jaxbert.init_params(student),
                                          config.student.layer_map))

  # The teacher as the step sees it: MLM head only, optionally bfloat16 compute.
  teacher = jaxbert.PretrainingModel(t_cfg.replace(dtype=config.distill.teacher_dtype,
                                                   pooler=False, pair_head=None))
  t_params = {k: v for k, v in t_params.items() if k not in ("pooler", "pair")}
  t_boxed = jax.eval_shape(teacher.init, jax.random.key(0), ids)["params"]
  extra = par.put_extra(t_params, t_boxed if par.mode == "jit" else None)

  with config.unlocked():
    config.data.tokenizer_dir = tokenizer_dir
  data = cli.prepare_data(config.data, workdir, config.seed)   # process 0 writes
  cli.write_config(workdir, config)

  tx, schedule = optim.make_optimizer(config.learning_rate, config.num_train_steps,
                                      config.optimizer)

  def init_fn(rng):
    boxed = student.init(rng, ids)["params"]
    if seed_from_teacher:
      boxed = rebox(boxed, D.init_student(s_cfg, t_cfg, t_host, nn.unbox(boxed),
                                          config.student.layer_map))
    return state_lib.create_state(boxed, tx)

  d = config.distill
  weights = {"soft": d.alpha_soft, "mlm": d.alpha_mlm, "cos": d.alpha_cos}
  loss_fn = functools.partial(losses.distill_loss_fn, student=student, teacher=teacher,
                              weights=weights, temperature=d.temperature,
                              masked_only=d.masked_only)
  task = loop.Task(
      init_fn=init_fn, tx=tx, schedule=schedule, loss_fn=loss_fn,
      loss_names=tuple(f"distill/{k}" for k, w in weights.items() if w), data=data,
      model_config=s_cfg.to_dict(), extra=extra, tokens_per_example=length,
      export=(functools.partial(cli.export_hf, os.path.join(workdir, "hf"), student,
                                tokenizer=data.tokenizer)
              if config.export_hf else None))
  summary = loop.train(config, workdir, task, par)
  summary["wall_s"] = time.time() - t0
  summary["eval/teacher_mlm_accuracy"] = last_eval(workdir).get("teacher/mlm_accuracy")
  return summary


def last_eval(workdir: str) -> dict:
  """The last eval record of workdir/metrics.jsonl ({} if none)."""
  path, out = os.path.join(workdir, "metrics.jsonl"), {}
  if os.path.exists(path):
    with open(path) as f:
      for line in f:
        if line.strip() and (rec := json.loads(line)).get("split") == "eval":
          out = rec
  return out


def main(argv):
  del argv
  s = cli.run_or_fail(run)
  if s is None:
    return
  acc, teacher_acc = s["eval/mlm_accuracy"], s["eval/teacher_mlm_accuracy"]
  retention = acc / teacher_acc if teacher_acc else float("nan")
  print(f"final: step {s['step']}  eval/mlm_accuracy {acc:.4f}  teacher {teacher_acc:.4f}  "
        f"retention {retention:.3f}  eval/loss {s['eval/loss']:.4f}  wall {s['wall_s']:.0f}s  "
        f"tokens/s {s['tokens_per_s']:.0f}")


if __name__ == "__main__":
  cli.define_flags("distill.py")
  app.run(main, flags_parser=cli.parse_flags)
