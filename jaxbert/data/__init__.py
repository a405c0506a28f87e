"""Pretraining data: corpus -> WordPiece -> TFDS (array_record) -> examples -> masking -> grain.

One call prepares everything the training code needs:

  data = jaxbert.data.prepare(config.data, workdir, seed=config.seed)
  data.tokenizer, data.vocab_size        # set the model's vocab_size from data.vocab_size
  it = data.train_iterator(batch_size, shard_index=jax.process_index(),
                           shard_count=jax.process_count())
  batch = next(it)                       # infinite over epochs; it.get_state() / it.set_state()
  for batch in data.eval_batches(batch_size, shard_index=..., shard_count=...):
    ...                                  # one finite pass, fixed shapes, padded rows weigh 0

`prepare(config, workdir, seed=0) -> PretrainingData`
  - trains a WordPiece vocabulary on the training documents and writes
    `workdir/vocab.txt` + `workdir/tokenizer.json`, or, when `config.tokenizer_dir`
    is set (a Hugging Face checkpoint directory or an earlier workdir), loads it;
  - builds (once) or loads the tokenised corpus as a TFDS dataset with splits
    `train` and `eval` (held-out documents) under `config.data_dir`; the builder
    config name is a fingerprint of the corpus files and of the vocabulary, so a
    changed corpus or tokenizer rebuilds rather than reuses stale data;
  - creates the sentence-pair examples once per prepare() from the seed
    (jaxbert/data/examples.py); masking is dynamic, fresh each epoch.
Other PretrainingData members: train_dataset(B, shard_index=, shard_count=) (grain
IterDataset, for grain.checkpoint), eval_dataset(...) (grain MapDataset),
num_eval_batches(B, shard_count), train_examples / eval_examples (ExampleStore),
masker, seed, dataset_dir (the TFDS dataset), tokenizer_dir (vocab.txt's directory).
config.worker_count > 0 uses grain worker processes (same batches as 0).
`batch_size` is the per-process batch size B; with S processes the global batch
is S * B and its examples do not depend on S (process s takes every S-th example
of one global, per-epoch shuffled stream).

The batch contract (dict of numpy arrays; B batch, L max_seq_length,
P max_predictions_per_seq):

  input_ids         int32   [B, L]  masked tokens already replaced; padding = 0 ([PAD])
  attention_mask    int32   [B, L]  1 real token, 0 padding
  token_type_ids    int32   [B, L]  0 for [CLS] A [SEP], 1 for B [SEP], 0 on padding
  masked_positions  int32   [B, P]  positions of the predictions; 0 in padding slots
  masked_ids        int32   [B, P]  original token ids there; 0 in padding slots
  masked_weights    float32 [B, P]  1.0 real prediction, 0.0 padding slot
  sentence_labels   int32   [B]     NSP/SOP label, 0 = IsNext / in order (HF convention);
                                    0 when pair_objective is "none"
  example_weights   float32 [B]     1.0 real example, 0.0 padding row (last eval batches)
  and with config.packing=True (pair_objective "none" only):
  segment_ids       int32   [B, L]  1..n for the packed sequences of a row, 0 on padding
  position_ids      int32   [B, L]  restarting at 0 at each packed sequence

Modules: config.py (default_data_config), corpus.py (document sources and the
sentence splitter), tokenizer.py (WordPiece), tfds_corpus/ (the TFDS builder),
examples.py (Devlin et al. 2019 pair examples; Lan et al. 2020 SOP), masking.py
(dynamic MLM masking), loader.py (grain pipeline and `prepare`).
"""

from jaxbert.data.config import default_data_config
from jaxbert.data.corpus import read_documents, split_sentences
from jaxbert.data.loader import PretrainingData, prepare
from jaxbert.data.tokenizer import Tokenizer, check_token_ids, load_tokenizer, train_tokenizer
