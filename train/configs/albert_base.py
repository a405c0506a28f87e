"""ALBERT-base pretraining as in Lan et al. 2020 (§4.1).

Command:    python -m train.pretrain --config=train/configs/albert_base.py \
              --workdir=runs/albert_base --config.data.corpus=tfds:wikipedia/20230601.en
Hardware:   TARGET TPU v4-128 (batch 4096), parallel.mode=jit; on fewer chips raise
            --config.optimizer.grad_accum_steps to keep the global batch
Wall-clock: TARGET ~1.5 days on a v4-128
Metric:     TARGET held-out MLM accuracy ~0.55, SOP accuracy ~0.85 (not measured here)

LAMB, batch 4096, learning rate 0.00176, 125k steps, sequences of 512 tokens (10% shorter),
n-gram masking (n <= 3), sentence-order prediction, no dropout; a 30k Unigram
(SentencePiece-style) vocabulary, "▁" marking word starts for the n-gram masking.
"""

from train.configs.base import base_config, model_overrides


def get_config():
  c = base_config()
  c.model = "albert-base"
  c.model_overrides = model_overrides(dropout_rate=0.0, attention_dropout_rate=0.0)
  c.dtype = "bfloat16"
  c.num_train_steps = 125_000
  c.batch_size = 4096
  c.learning_rate = 0.00176
  c.optimizer.name = "lamb"
  c.optimizer.warmup_steps = 3125
  c.optimizer.decay = "linear"
  c.optimizer.weight_decay = 0.01
  c.optimizer.clip_norm = 1.0
  c.optimizer.eps = 1e-6
  c.eval_every = 5_000
  c.checkpoint_every = 2_500
  c.log_every = 100
  c.workdir = "runs/albert_base"
  c.data.vocab_size = 30000
  c.data.tokenizer_model = "unigram"      # ALBERT's vocabulary: <pad> <unk> [CLS] [SEP] [MASK] first
  c.data.max_seq_length = 512
  c.data.max_predictions_per_seq = 80
  c.data.pair_objective = "sop"
  c.data.ngram_max = 3
  c.data.worker_count = 8
  return c
