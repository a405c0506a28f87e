"""SentencePiece model files (`spiece.model`, ALBERT's vocabulary) read and written without
the sentencepiece library.

A model file is one protocol-buffer message, ModelProto of SentencePiece's
sentencepiece_model.proto (github.com/google/sentencepiece, src/); the fields used here:

  ModelProto       1 pieces (repeated SentencePiece)  2 trainer_spec  3 normalizer_spec
  SentencePiece    1 piece (string)  2 score (float32)  3 type (1 normal, 2 unknown,
                   3 control, 4 user defined, 5 unused, 6 byte)
  TrainerSpec      3 model_type (1 unigram)  4 vocab_size  35 byte_fallback
                   40 unk_id  41 bos_id  42 eos_id  43 pad_id  45 unk_piece  48 pad_piece
  NormalizerSpec   1 name  2 precompiled_charsmap (bytes)  3 add_dummy_prefix
                   4 remove_extra_whitespaces  5 escape_whitespaces

Other fields are skipped on reading and left at their defaults on writing. The wire
format: each field is a varint key (number << 3 | wire type) then a varint (type 0),
8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5).
"""

from __future__ import annotations

import dataclasses
import struct

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
UNIGRAM = 1


@dataclasses.dataclass
class SentencePieceModel:
  """The parts of a ModelProto a tokenizer needs. pieces: (piece, score, type) by id."""
  pieces: list[tuple[str, float, int]]
  model_type: int = UNIGRAM
  unk_id: int = 0
  byte_fallback: bool = False
  normalizer_name: str = ""
  precompiled_charsmap: bytes = b""
  add_dummy_prefix: bool = True
  remove_extra_whitespaces: bool = True


def _varint(data: bytes, i: int) -> tuple[int, int]:
  value = shift = 0
  while True:
    if i >= len(data):
      raise ValueError("truncated varint")
    b = data[i]
    value |= (b & 0x7F) << shift
    i, shift = i + 1, shift + 7
    if not b & 0x80:
      return value, i


def _fields(data: bytes):
  """(number, value) of each field: an int for varints, bytes for the other wire types."""
  i = 0
  while i < len(data):
    key, i = _varint(data, i)
    number, wire = key >> 3, key & 7
    if wire == 0:
      value, i = _varint(data, i)
    elif wire == 2:
      n, i = _varint(data, i)
      value, i = data[i:i + n], i + n
      if len(value) != n:
        raise ValueError("truncated field")
    elif wire in (1, 5):
      n = 8 if wire == 1 else 4
      value, i = data[i:i + n], i + n
    else:
      raise ValueError(f"unsupported wire type {wire}")
    yield number, value


def _int32(v: int) -> int:
  return v - (1 << 64) if v >= 1 << 63 else v


def parse(data: bytes) -> SentencePieceModel:
  """A SentencePieceModel from the bytes of a model file (ValueError if malformed)."""
  model = SentencePieceModel(pieces=[])
  for number, value in _fields(data):
    if number == 1:
      piece, score, kind = "", 0.0, NORMAL
      for n, v in _fields(value):
        if n == 1:
          piece = v.decode("utf-8")
        elif n == 2:
          score = struct.unpack("<f", v)[0]
        elif n == 3:
          kind = v
      model.pieces.append((piece, score, kind))
    elif number == 2:
      for n, v in _fields(value):
        if n == 3:
          model.model_type = v
        elif n == 35:
          model.byte_fallback = bool(v)
        elif n == 40:
          model.unk_id = _int32(v)
    elif number == 3:
      for n, v in _fields(value):
        if n == 1:
          model.normalizer_name = v.decode("utf-8")
        elif n == 2:
          model.precompiled_charsmap = bytes(v)
        elif n == 3:
          model.add_dummy_prefix = bool(v)
        elif n == 4:
          model.remove_extra_whitespaces = bool(v)
  if not model.pieces:
    raise ValueError("no pieces")
  return model


def read(path: str) -> SentencePieceModel:
  with open(path, "rb") as f:
    return parse(f.read())


def _key(number: int, wire: int) -> bytes:
  return _enc_varint(number << 3 | wire)


def _enc_varint(v: int) -> bytes:
  v &= (1 << 64) - 1                      # negative int32s take ten bytes, as in protobuf
  out = bytearray()
  while True:
    b = v & 0x7F
    v >>= 7
    out.append(b | (0x80 if v else 0))
    if not v:
      return bytes(out)


def _int(number: int, v: int) -> bytes:
  return _key(number, 0) + _enc_varint(int(v))


def _bytes(number: int, v: bytes | str) -> bytes:
  v = v.encode("utf-8") if isinstance(v, str) else v
  return _key(number, 2) + _enc_varint(len(v)) + v


def serialize(pieces: list[tuple[str, float, int]], *, unk_id: int, pad_id: int = -1,
              bos_id: int = -1, eos_id: int = -1, charsmap: bytes = b"") -> bytes:
  """A Unigram model file of `pieces` ((piece, score, type) by id): a "▁" prefixed to the
  text, extra whitespace removed, and no other normalisation (name "identity") unless a
  precompiled character map is given (name "nmt_nfkc", SentencePiece's default)."""
  trainer = b"".join([
      _int(3, UNIGRAM), _int(4, len(pieces)), _int(40, unk_id), _int(41, bos_id),
      _int(42, eos_id), _int(43, pad_id), _bytes(45, pieces[unk_id][0]),
      *([_bytes(48, pieces[pad_id][0])] if pad_id >= 0 else [])])
  normalizer = (_bytes(1, "nmt_nfkc" if charsmap else "identity")
                + (_bytes(2, charsmap) if charsmap else b"") + _int(3, 1) + _int(4, 1) + _int(5, 1))
  out = [_bytes(1, _bytes(1, p) + _key(2, 5) + struct.pack("<f", s) + _int(3, t))
         for p, s, t in pieces]
  return b"".join(out + [_bytes(2, trainer), _bytes(3, normalizer)])
