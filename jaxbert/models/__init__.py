"""Flax modules of the BERT family: one encoder, configured by `EncoderConfig`."""

from jaxbert.models.encoder import Encoder
from jaxbert.models.pretraining import (EncoderOutput, PretrainingModel, SequenceClassifier,
                                        check_inputs)

__all__ = ["Encoder", "EncoderOutput", "PretrainingModel", "SequenceClassifier", "check_inputs"]
