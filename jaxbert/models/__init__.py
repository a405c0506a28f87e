"""Flax modules of the BERT family: one encoder, configured by `EncoderConfig`."""

from jaxbert.models.encoder import Encoder
from jaxbert.models.pretraining import EncoderOutput, PretrainingModel, check_inputs
from jaxbert.models.tasks import (QuestionAnswerer, SequenceClassifier, TaskOutput,
                                  TokenClassifier, heads_of)

__all__ = ["Encoder", "EncoderOutput", "PretrainingModel", "QuestionAnswerer",
           "SequenceClassifier", "TaskOutput", "TokenClassifier", "check_inputs", "heads_of"]
