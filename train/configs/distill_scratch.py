"""The baseline of train/configs/distill.py: the same 2-layer student trained from scratch
(MLM only, the teacher's vocabulary, the same steps, batch and schedule).

Command:    python -m train.pretrain --config=train/configs/distill_scratch.py \\
                --workdir=runs/distill_scratch --config.data.tokenizer_dir=runs/distill_teacher
Hardware:   2-core CPU, no accelerator (shared)
Wall-clock / metric: see the measured table in train/configs/distill.py
"""

from train.configs.base import base_config, model_overrides


def get_config():
  c = base_config()
  # The student of distill.py: bert-mini's width (256, 4 heads, 1024 MLP), 2 layers,
  # no token types, no pooler (the DistilBERT preset's shape).
  c.model = "distilbert-base"
  c.model_overrides = model_overrides(hidden_size=256, num_heads=4, intermediate_size=1024,
                                      num_layers=2, max_position_embeddings=128,
                                      dropout_rate=0.0, attention_dropout_rate=0.0)
  c.data.pair_objective = "none"
  c.data.tokenizer_dir = "runs/distill_teacher"   # the teacher's vocabulary
  c.num_train_steps = 60
  c.batch_size = 32
  c.learning_rate = 1e-3
  c.optimizer.warmup_steps = 10
  c.eval_every = 60
  c.checkpoint_every = 60
  c.workdir = "runs/distill_scratch"
  return c
