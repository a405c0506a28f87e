"""The loop's stop rules, in-process on synthetic data: a SIGTERM that arrives during
evaluation, at a step that is not a checkpoint step, still saves that step."""

import functools
import os
import signal

import jax
import numpy as np

import jaxbert
from synthetic import make_batch
from jaxbert import losses
from train import loop, optim, parallel, state as state_lib
from train.checkpoint import Checkpointer
from train.configs.default import get_config


class _Iterator:
  def __init__(self):
    self.next_index = 0

  def __next__(self):
    self.next_index += 1
    return make_batch(np.random.default_rng(self.next_index), batch=4, length=16, preds=4,
                      vocab=64)

  def get_state(self):
    return {"next_index": self.next_index}

  def set_state(self, state):
    self.next_index = state["next_index"]


class _SignalDuringEval:
  """Training batches as usual; the first evaluation sends this process a SIGTERM."""

  def train_iterator(self, batch_size, *, shard_index, shard_count):
    return _Iterator()

  def eval_batches(self, batch_size, *, shard_index, shard_count):
    os.kill(os.getpid(), signal.SIGTERM)
    yield make_batch(np.random.default_rng(0), batch=4, length=16, preds=4, vocab=64)


def test_sigterm_during_eval_saves_that_step(tmp_path):
  cfg = jaxbert.get_config("bert-tiny", vocab_size=64, hidden_size=32, num_heads=2,
                           num_layers=1, intermediate_size=64, max_position_embeddings=16)
  model = jaxbert.PretrainingModel(cfg)
  config = get_config()
  with config.unlocked():
    config.num_train_steps, config.batch_size = 10, 4
    config.eval_every, config.checkpoint_every, config.log_every = 2, 100, 1
    config.progress_bar = False
  tx, schedule = optim.make_optimizer(1e-3, 10, config.optimizer)
  init_fn = lambda rng: state_lib.create_state(
      model.init(rng, jax.numpy.zeros((1, 16), jax.numpy.int32))["params"], tx)
  task = loop.Task(init_fn=init_fn, tx=tx, schedule=schedule,
                   loss_fn=functools.partial(losses.mlm_loss_fn, model=model, pair=True),
                   loss_names=("mlm/loss", "pair/loss"), data=_SignalDuringEval(),
                   model_config=cfg.to_dict())
  summary = loop.train(config, str(tmp_path), task,
                       parallel.Parallel("jit", devices=jax.devices()[:1]))
  assert summary["stopped_by"] == "SIGTERM" and summary["step"] == 2
  ckpt = Checkpointer(str(tmp_path / "checkpoints"), async_save=False)
  assert ckpt.latest_step() == 2          # 2 is an eval step, not a checkpoint step
  ckpt.close()
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL   # handlers restored
