"""The baseline of train/configs/distill.py: the same 1-layer student trained from
scratch (MLM only, the teacher's vocabulary, the same steps, batch and schedule).

Command:    python -m train.pretrain --config=train/configs/distill_scratch.py
Hardware:   2-core CPU, no accelerator
Wall-clock / metric: see the measured table in train/configs/distill.py (measured
            with data.mlm_smoothing = 0; both recipes now mask as DistilBERT, 0.7)
"""

from train.configs.base import base_config, model_overrides


def get_config():
  c = base_config()
  # The student of distill.py: bert-tiny's width (128, 2 heads, 512 MLP), 1 layer, no
  # token types, no pooler, no sentence head (the DistilBERT shape of the teacher).
  c.model = "distilbert-base"
  c.model_overrides = model_overrides(hidden_size=128, num_heads=2, intermediate_size=512,
                                      num_layers=1, dropout_rate=0.0,
                                      attention_dropout_rate=0.0, scan_layers=False,
                                      remat_policy="none")  # as measured
  c.data.pair_objective = "none"
  c.data.mlm_smoothing = 0.7              # DistilBERT's masking, as train/configs/distill.py
  c.data.tokenizer_dir = "runs/default"   # the teacher's vocabulary
  c.num_train_steps = 600
  c.batch_size = 32
  c.learning_rate = 2e-3
  c.optimizer.warmup_steps = 60
  c.eval_every = 300
  c.checkpoint_every = 300
  c.workdir = "runs/distill_scratch"
  return c
