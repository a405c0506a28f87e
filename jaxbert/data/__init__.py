"""Pretraining data: corpus -> vocabulary -> examples in array_record shards -> masking -> grain.

One call prepares everything the training code needs:

  data = jaxbert.data.prepare(config.data, workdir, seed=config.seed)
  data.tokenizer, data.vocab_size        # set the model's vocab_size from data.vocab_size
  it = data.train_iterator(batch_size, shard_index=jax.process_index(),
                           shard_count=jax.process_count())
  batch = next(it)                       # infinite over epochs; it.get_state() / it.set_state()
  for batch in data.eval_batches(batch_size, shard_index=..., shard_count=...):
    ...                                  # one finite pass, fixed shapes, padded rows weigh 0

`prepare(config, workdir, seed=0, writer=True) -> PretrainingData`
  - opens the run's prepared data: `config.prepared` (a directory written by
    `python -m train.prepare_data --out=DIR`), else the cache entry
    `config.data_dir/<key>`, the key a hash of the corpus files and of the data config;
  - when that entry is missing and `writer`, prepares it first (preparation.py: a
    streamed corpus, a WordPiece or Unigram vocabulary (`config.tokenizer_model`) trained
    or loaded from `config.tokenizer_dir`, examples created over a process pool,
    `dupe_factor` differently drawn copies, shards);
    with writer=False (the other processes of a multi-host run) it writes nothing and
    a missing preparation is a ValueError;
  - checks the preparation against the run's data config and seed, and its shards'
    sizes; copies the tokenizer into `workdir` (writer only).
Other PretrainingData members: train_dataset(B, shard_index=, shard_count=) (grain
IterDataset, for grain.checkpoint), eval_dataset(...) (grain MapDataset),
num_eval_batches(B, shard_count), examples_per_epoch, num_eval_examples, masker,
metadata, seed, dataset_dir (the preparation), tokenizer_dir.
config.worker_count > 0 uses grain worker processes (same batches as 0).
`batch_size` is the per-process batch size B; with S processes the global batch
is S * B and its rows, in order, do not depend on S (process s takes rows
[s*B, (s+1)*B) of every S*B rows of one global, per-epoch shuffled stream).

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

Modules: config.py (default_data_config), corpus.py (streamed document sources and the
sentence splitter), tokenizer.py (WordPiece, and ALBERT's Unigram from unigram.py),
examples.py (Devlin et al. 2019 pair examples; Lan et al. 2020 SOP), preparation.py
(the offline pipeline), shards.py (files and record format), masking.py (dynamic MLM
masking), loader.py (grain pipeline and `prepare`). Fine-tuning's data: labelled.py
(labelled CSV, TSV, JSONL or TFDS texts -> token ids), packing.py (batches, packed).
"""

from jaxbert import lazy

# Loaded on first use: preparation's worker processes import only what they run.
__getattr__, __dir__ = lazy.attach(__name__, {
    "default_data_config": "jaxbert.data.config",
    "read_documents": "jaxbert.data.corpus", "split_sentences": "jaxbert.data.corpus",
    "PretrainingData": "jaxbert.data.loader", "prepare": "jaxbert.data.loader",
    "prepare_corpus": "jaxbert.data.preparation",
    **dict.fromkeys(["Tokenizer", "check_token_ids", "load_tokenizer", "train_tokenizer"],
                    "jaxbert.data.tokenizer")})
