"""Labelled data for fine-tuning that installs offline, and the scripts that extract it.

  data/vader.py    VADER's gold sentences: binary sentiment and regression (MIT).
  data/wordnet.py  WordNet 3.0 glosses labelled with their lexicographer file (WordNet 3.0 licence).
  data/splits.py   the deterministic train/dev split both share, and how files are written.

data/README.md gives the licences, columns, rules and commands.
"""
