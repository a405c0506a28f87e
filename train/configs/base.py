"""Keys every experiment config has (docs/design.md, "Configuration"), with defaults.

Recipes call `base_config()` and override; every EncoderConfig field can be
overridden from the command line as `--config.model_overrides.FIELD=VALUE` (unset
fields keep the preset's value).
"""

import dataclasses
import typing

import ml_collections
from ml_collections import config_dict

from jaxbert.configs import EncoderConfig
from jaxbert.data import default_data_config


def _placeholder(field: dataclasses.Field):
  hint = typing.get_type_hints(EncoderConfig)[field.name]
  args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
  return config_dict.placeholder(args[0])


def model_overrides(**values) -> ml_collections.ConfigDict:
  """A typed slot for every EncoderConfig field (None = the preset's value)."""
  c = ml_collections.ConfigDict({f.name: _placeholder(f) for f in dataclasses.fields(EncoderConfig)})
  c.update(values)
  return c


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.model = "bert-tiny"               # a preset name (jaxbert/configs.py)
  c.model_overrides = model_overrides()
  c.dtype = "float32"                 # compute dtype (bfloat16 on TPU/GPU)
  c.param_dtype = "float32"           # master weights
  c.num_train_steps = 1000            # optimizer updates
  c.batch_size = 32                   # global, per optimizer update
  c.seed = 0
  c.learning_rate = 1e-3              # peak
  c.eval_every = 500
  c.checkpoint_every = 500
  c.keep_checkpoints = 3
  c.log_every = 50
  c.progress_bar = True
  c.workdir = "runs/default"          # relative to the current directory
  c.export_hf = True                  # write workdir/hf at the end

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adamw"          # adamw | lamb
  c.optimizer.warmup_steps = 100
  c.optimizer.decay = "linear"        # linear | cosine
  c.optimizer.end_lr_fraction = 0.0
  # Length of the warmup + decay schedule in updates; None: num_train_steps. Set it when
  # a run stops before its schedule ends (BERT's phase 1: 900k of a 1M-step schedule).
  c.optimizer.schedule_steps = config_dict.placeholder(int)
  c.optimizer.weight_decay = 0.01
  c.optimizer.clip_norm = 1.0         # global-norm clipping; 0 = off
  c.optimizer.grad_accum_steps = 1
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-6

  c.parallel = ml_collections.ConfigDict()
  c.parallel.mode = "jit"             # jit | pmap | shard_map
  c.parallel.data = -1                # mesh shape; -1 = the remaining devices
  c.parallel.fsdp = 1
  c.parallel.tensor = 1
  c.parallel.distributed = False      # multi-host: join a JAX cluster (train/multihost.py)
  c.parallel.coordinator_address = "" # "host:port" of process 0 (implies distributed);
  c.parallel.num_processes = 0        #   with these two; "" / 0 / -1: JAX auto-detects
  c.parallel.process_id = -1          #   (TPU VMs, SLURM, Open MPI, Kubernetes)
  c.parallel.init_timeout_s = 300     # give up joining (one error line) after this

  c.data = default_data_config()
  return c
