"""The training loop, shared by pretraining, distillation and fine-tuning.

    summary = train(config, workdir, task)

`task` (a `Task`) holds the run's collaborators: how to build the initial state
(`init_fn(rng) -> TrainState` with boxed params), the optimizer and its schedule, the
loss functions, the data (`jaxbert.data.PretrainingData` or anything with
`train_iterator` / `eval_batches`), an optional non-trained `extra` pytree (a teacher),
the model's EncoderConfig dict (refusing checkpoints of another model) and an
optional `export(params)` called at the end, and optionally its own `evaluate(params)`
(fine-tuning's metrics over gathered predictions). The loop owns: resume, the data
iterator's state, step dispatch with one step of host lag, non-finite checks,
periodic eval, metrics.jsonl + TensorBoard + progress bar, checkpoints, SIGTERM /
SIGINT (checkpoint at the next step boundary, then return), the final summary.

Best checkpoint and early stopping (config.best_metric, config.patience; fine-tuning
sets them): after each evaluation that improves `best_metric` the parameters are
saved under workdir/best (train/checkpoint.py: BestCheckpoint), and those are what
`export` receives; after `patience` evaluations in a row without improvement the run
saves its checkpoint and ends. Running it again finds it ended and only exports.

Multi-host (train/multihost.py): every process runs this loop on its own rows
(`Parallel.data_shard`); process 0 alone writes metrics.jsonl and TensorBoard and
calls `export`; checkpoints are written by every process through orbax. A SIGTERM
on any host is voted on at each step boundary (read one step late, like the metrics,
so the vote never stalls the device) and every host stops after the same step, saves
it, and returns. A signal that arrives during evaluation is voted on after it.

Resuming with another global batch size: the data stream continues at the first
whole batch after the examples already consumed (one line says so); with the same
global batch on any number of processes or devices it continues exactly.

Steps: `config.num_train_steps` counts optimizer updates; with gradient accumulation
(k = config.optimizer.grad_accum_steps) each update is k calls of the step on
micro-batches of batch_size / k rows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time
from typing import Any, Callable

import jax
import tqdm

from train import multihost, steps
from train.checkpoint import BestCheckpoint, Checkpointer, model_conflicts
from train.parallel import Parallel


class NonFiniteLossError(ValueError):
  pass


@dataclasses.dataclass
class Task:
  init_fn: Callable              # rng -> TrainState (boxed params), traced by eval_shape/jit
  tx: Any                        # optax.GradientTransformation
  schedule: Callable             # optimizer step -> learning rate
  loss_fn: Callable              # see train/steps.py
  loss_names: tuple[str, ...]    # the terms that make up "loss" in eval
  data: Any                      # train_iterator(B, shard_index=, shard_count=) / eval_batches(...)
  model_config: dict             # EncoderConfig.to_dict() of the trained model
  eval_loss_fn: Callable | None = None
  extra: Any = None              # a placed, non-trained pytree (e.g. teacher params)
  export: Callable | None = None # params (host) -> None, at the end (HF export)
  tokens_per_example: int = 128
  evaluate: Callable | None = None  # params -> {name: float}, instead of the (sum, count) eval
  eval_names: tuple[str, ...] = ("mlm/accuracy",)  # shown after the loss on the eval line


class _Stop:
  """SIGTERM/SIGINT -> a flag read at the next step boundary.

  Entered by the entry points before anything starts (`with loop.STOP:` in
  train/cli.py) and again by `train`: a signal during start-up or compilation stops
  the run at its first step boundary, saved, instead of killing one process of a
  cluster whose others would then wait for it."""

  def __init__(self):
    self.signal = None
    self._old = {}
    self._depth = 0
    self._vote = None       # multi-host: the previous boundary's vote, not yet read

  def __enter__(self):
    if self._depth == 0:
      self.signal, self._vote = None, None
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._old[sig] = signal.signal(sig, self._handle)
    self._depth += 1
    return self

  def _handle(self, signum, frame):
    self.signal = signal.Signals(signum).name

  def __exit__(self, *exc):
    self._depth -= 1
    if self._depth == 0:
      for sig, old in self._old.items():
        signal.signal(sig, signal.SIG_DFL if old is None else old)

  def agreed(self, now: bool = False) -> bool:
    """Whether any process has been signalled, the same answer on every process.

    One process: this process's flag. Several: the vote cast at the previous call
    (one step late, never blocking the dispatch), or a vote taken now (now=True, at
    a point where every process is already synchronised, e.g. after evaluation)."""
    if jax.process_count() == 1:
      return self.signal is not None
    if now:
      self._vote = None
      return multihost.any_process(self.signal is not None)
    previous, self._vote = self._vote, multihost.cast_vote(self.signal is not None)
    return previous is not None and bool(multihost.fetch(previous))


STOP = _Stop()


class MetricsWriter:
  """metrics.jsonl (one object per line) + TensorBoard events."""

  def __init__(self, workdir: str, resume_step: int):
    self.file = self.tb = None
    if not multihost.is_writer():   # one process writes the shared files
      return
    self.path = os.path.join(workdir, "metrics.jsonl")
    if os.path.exists(self.path):  # drop lines past the checkpoint we resume from
      with open(self.path) as f:
        keep = [l for l in f if l.strip() and json.loads(l)["step"] <= resume_step]
      with open(self.path, "w") as f:
        f.writelines(keep)
    self.file = open(self.path, "a")
    try:
      from tensorboardX import SummaryWriter
      self.tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
    except ImportError:
      self.tb = None

  def write(self, step: int, split: str, metrics: dict) -> None:
    if self.file is None:
      return
    record = {"step": step, "split": split, "loss": metrics.get("loss"),
              "mlm_accuracy": metrics.get("mlm/accuracy"), **metrics}
    self.file.write(json.dumps(record) + "\n")
    self.file.flush()
    if self.tb is not None:
      for k, v in metrics.items():
        self.tb.add_scalar(f"{split}/{k}", v, step)

  def close(self) -> None:
    if self.file is not None:
      self.file.close()
    if self.tb is not None:
      self.tb.close()


def evaluate(par: Parallel, eval_fn: Callable, params, data, batch_size: int, extra,
             loss_names) -> dict[str, float]:
  """All held-out batches, weighted sums accumulated across batches, divided once."""
  totals: dict[str, list[float]] = {}
  index, count = par.rows
  for batch in data.eval_batches(batch_size, shard_index=index, shard_count=count):
    terms = jax.device_get(eval_fn(params, par.put_batch(batch), extra))
    for k, (s, c) in terms.items():
      acc = totals.setdefault(k, [0.0, 0.0])
      acc[0] += float(s)
      acc[1] += float(c)
  return steps.finish_eval(totals, loss_names)


def _host(metrics) -> dict[str, float]:
  return {k: float(v) for k, v in multihost.fetch(metrics).items()}


def resume_data(it, saved: dict, global_batch: int) -> None:
  """Put the data iterator where the checkpoint left it (see the module docstring)."""
  if "iterator" not in saved:           # checkpoints written before the global batch was kept
    it.set_state(saved)
    return
  state, before = dict(saved["iterator"]), int(saved["global_batch"])
  if before != global_batch:
    if "next_index" not in state:
      raise ValueError(f"the checkpoint's global batch was {before}, this run's is "
                       f"{global_batch}, and the data iterator cannot be re-positioned; "
                       f"use --config.batch_size={before}")
    seen = int(state["next_index"]) * before
    state["next_index"] = -(-seen // global_batch)
    if multihost.is_writer():
      print(f"note: global batch {before} -> {global_batch}: the data stream continues at "
            f"example {state['next_index'] * global_batch} ({seen} were consumed)", flush=True)
  it.set_state(state)


def train(config, workdir: str, task: Task, par: Parallel) -> dict:
  """Run (or resume) training to config.num_train_steps; returns the final summary."""
  t_start = time.time()
  accum = int(config.optimizer.grad_accum_steps)
  shard, shards = par.rows
  global_batch = config.batch_size // accum
  par.check_batch(global_batch)
  local_batch = global_batch // shards
  total_calls = config.num_train_steps * accum
  rng = jax.random.key(config.seed)

  ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), config.get("keep_checkpoints", 3))
  best_metric, patience = config.get("best_metric", ""), int(config.get("patience", 0))
  best = BestCheckpoint(os.path.join(workdir, "best"), best_metric) if best_metric else None

  def exhausted(opt_step: int) -> bool:   # `patience` evaluations since the best one
    if best is None or best.record is None or patience <= 0:
      return False
    return opt_step // config.eval_every - best.record["step"] // config.eval_every >= patience

  latest = ckpt.latest_step()
  run_config = {"config": json.loads(config.to_json()), "model": task.model_config}
  abstract = par.abstract_state(task.init_fn, rng)
  it = task.data.train_iterator(local_batch, shard_index=shard, shard_count=shards)
  if latest is not None:
    saved = ckpt.restore_config(latest).get("model", {})
    diff = model_conflicts(saved, task.model_config)
    if diff:
      raise ValueError(f"workdir {workdir} holds a checkpoint of a different model "
                       f"({'; '.join(diff)}); use another --workdir or the same model")
    state, data_state = ckpt.restore(latest, abstract)
    resume_data(it, data_state, global_batch)
  else:
    state = par.init_state(task.init_fn, rng)
  start = int(multihost.fetch(state.step))

  step_fn = par.compile_train(loss_fn=task.loss_fn, tx=task.tx, schedule=task.schedule,
                              accum_steps=accum)
  eval_fn = par.compile_eval(loss_fn=task.eval_loss_fn or task.loss_fn)

  def run_eval(params) -> dict[str, float]:
    if task.evaluate is not None:
      return task.evaluate(params)
    return evaluate(par, eval_fn, params, task.data, local_batch, task.extra, task.loss_names)

  early_stop = start // accum if exhausted(start // accum) else None
  if early_stop is not None:
    total_calls = start
    if multihost.is_writer():
      print(f"note: this run stopped early at step {early_stop}: {patience} evaluations "
            f"without a better {best_metric} than step {best.record['step']}'s", flush=True)
  writer = MetricsWriter(workdir, start // accum)
  tokens_per_call = global_batch * task.tokens_per_example
  bar = tqdm.tqdm(total=config.num_train_steps, initial=start // accum, desc="train",
                  dynamic_ncols=True, disable=not config.get("progress_bar", True)
                  or jax.process_index() != 0)

  saved_at = start // accum

  def save(call: int):
    nonlocal saved_at
    data_state = {"iterator": it.get_state(), "global_batch": global_batch}
    ckpt.save(call // accum, par.global_state(state), data_state, run_config)
    saved_at = call // accum

  def check(m: dict, opt_step: int):
    if not math.isfinite(m["loss"]):
      last = ckpt.latest_step()
      raise NonFiniteLossError(
          f"loss is {m['loss']} at step {opt_step}; stopping. The last good checkpoint "
          f"({'none' if last is None else f'step {last}'}) is kept in {ckpt.directory}")

  eval_metrics: dict[str, float] = {}
  stopped_by = None
  timed_calls, timed_s, t_prev = 0, 0.0, None
  pending = None  # (opt_step, device metrics) of the previous call, read one step late
  with STOP as stop:
    try:
      for call in range(start, total_calls):
        batch = par.put_batch(next(it))
        state, metrics = step_fn(state, batch, rng, task.extra)
        boundary = (call + 1) % accum == 0
        opt_step = (call + 1) // accum
        if pending is not None:
          m = _host(pending[1])
          check(m, pending[0])
          now = time.time()
          if t_prev is not None:
            timed_calls, timed_s = timed_calls + 1, timed_s + now - t_prev
          t_prev = now
          tps = tokens_per_call * timed_calls / timed_s if timed_s else 0.0
          if pending[0] % config.log_every == 0 or pending[0] == 1:
            writer.write(pending[0], "train", {**m, "time/tokens_per_s": tps})
          bar.set_postfix(loss=f"{m['loss']:.3f}", mlm_acc=f"{m.get('mlm/accuracy', 0):.3f}",
                          tok_s=f"{tps:.0f}", refresh=False)
          pending = None
        if not boundary:
          continue
        bar.update(1)
        last = opt_step == config.num_train_steps
        stopping = stop.agreed()
        do_eval = opt_step % config.eval_every == 0 or last
        do_ckpt = opt_step % config.checkpoint_every == 0 or last or stopping
        if do_eval or do_ckpt:  # read this step's metrics now: never save a NaN state
          m = _host(metrics)
          check(m, opt_step)
          if opt_step % config.log_every == 0:
            writer.write(opt_step, "train", m)
          t_prev = None     # eval/checkpoint time is not training throughput
        else:
          pending = (opt_step, metrics)
        if do_ckpt:
          save(call + 1)
        if do_eval:
          eval_metrics = run_eval(state.params)
          writer.write(opt_step, "eval", eval_metrics)
          improved = best is not None and best.update(
              opt_step, par.global_state(state.params), eval_metrics)
          shown = "  ".join(f"{k.replace('/', '_')} {eval_metrics[k]:.4f}"
                            for k in ("loss",) + task.eval_names if k in eval_metrics)
          bar.write(f"eval step {opt_step}: {shown}" + ("  (best so far)" if improved else ""))
          if not stopping and stop.agreed(now=True):   # signalled during evaluation
            stopping = True
            if saved_at != opt_step:
              save(call + 1)
          if not stopping and not last and exhausted(opt_step):
            early_stop = opt_step
            if saved_at != opt_step:
              save(call + 1)
            bar.write(f"early stop at step {opt_step}: {patience} evaluations without a "
                      f"better {best_metric} than step {best.record['step']}'s")
            break
        if stopping:
          stopped_by = stop.signal or "a signal on another process"
          break
      if not eval_metrics and stopped_by is None:  # resumed a finished run
        eval_metrics = run_eval(state.params)
      export_params = state.params
      if stopped_by is None and task.export is not None and best and best.record:
        export_params = best.restore(abstract.params)
    finally:
      bar.close()
      ckpt.close()
      writer.close()
      if best is not None:
        best.close()

  step = int(multihost.fetch(state.step)) // accum
  tps = tokens_per_call * timed_calls / timed_s if timed_s else 0.0
  summary = {"step": step, "eval/mlm_accuracy": eval_metrics.get("mlm/accuracy"),
             "eval/loss": eval_metrics.get("loss"), "wall_s": time.time() - t_start,
             "tokens_per_s": tps, "stopped_by": stopped_by, "eval": eval_metrics,
             "best": best.record if best else None, "early_stop": early_stop}
  if stopped_by is None and task.export is not None:
    params = multihost.fetch(export_params)   # sharded across processes: all gather
    multihost.on_writer(lambda: task.export(params), "the Hugging Face export")
  return summary
