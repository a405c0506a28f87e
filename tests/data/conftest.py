"""Fixtures of the data tests: a tiny corpus and one shared prepared dataset."""

import pytest

from data_testing import synthetic_text, tiny_config
from jaxbert.data.loader import prepare


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
  path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
  path.write_text(synthetic_text())
  return str(path)


@pytest.fixture(scope="session")
def tiny_data(tiny_corpus, tmp_path_factory):
  """prepare() on the tiny corpus: L=32, P=6, NSP."""
  root = tmp_path_factory.mktemp("prepared")
  return prepare(tiny_config(tiny_corpus, str(root / "cache")), str(root / "work"), seed=3)
