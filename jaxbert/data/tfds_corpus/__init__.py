"""The TFDS builder of tokenised corpora (a package: TFDS needs one per builder)."""

from jaxbert.data.tfds_corpus.builder import CorpusBuilder, CorpusConfig, build_corpus, heldout_documents
