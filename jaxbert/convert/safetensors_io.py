"""A small, strict reader and writer of the safetensors format (no pickle, ever).

The format: 8 bytes little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the raw little-endian tensor bytes. Reading checks every offset against the
file's size, so a truncated or corrupt file fails with a message naming it.
"""

from __future__ import annotations

import json
import os
import struct

import ml_dtypes
import numpy as np

DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16), "I64": np.dtype("<i8"), "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def read(path: str) -> dict[str, np.ndarray]:
  """All tensors of one .safetensors file as numpy arrays (ValueError if malformed)."""
  try:
    with open(path, "rb") as f:
      blob = f.read()
  except OSError as e:
    raise ValueError(f"cannot read checkpoint file {path}: {e}") from e

  def bad(why: str) -> ValueError:
    return ValueError(f"corrupt or truncated safetensors file {path}: {why}")

  if len(blob) < 8:
    raise bad(f"only {len(blob)} bytes")
  (n,) = struct.unpack("<Q", blob[:8])
  if 8 + n > len(blob):
    raise bad(f"header of {n} bytes runs past the end of the file ({len(blob)} bytes)")
  try:
    header = json.loads(blob[8:8 + n].decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise bad(f"header is not JSON ({e})") from e
  if not isinstance(header, dict):
    raise bad("header is not a JSON object")
  data = memoryview(blob)[8 + n:]
  tensors = {}
  for name, info in header.items():
    if name == "__metadata__":
      continue
    try:
      dtype = DTYPES[info["dtype"]]
      shape = tuple(int(s) for s in info["shape"])
      begin, end = (int(o) for o in info["data_offsets"])
    except (KeyError, TypeError, ValueError) as e:
      raise bad(f"entry {name!r} is malformed ({e})") from e
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if not 0 <= begin <= end <= len(data) or end - begin != size:
      raise bad(f"tensor {name!r} needs bytes [{begin}, {end}) of a {len(data)}-byte "
                f"data section for shape {shape} {info['dtype']}")
    tensors[name] = np.frombuffer(data[begin:end], dtype).reshape(shape)
  return tensors


def write(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None):
  """Write `tensors` to `path` atomically (a temporary file, then a rename)."""
  header, offset, chunks = {}, 0, []
  for name in sorted(tensors):
    array = np.ascontiguousarray(tensors[name])
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype not in NAMES:
      raise ValueError(f"cannot write tensor {name!r} of dtype {array.dtype} to safetensors")
    raw = array.astype(dtype, copy=False).tobytes()
    header[name] = {"dtype": NAMES[dtype], "shape": list(array.shape),
                    "data_offsets": [offset, offset + len(raw)]}
    offset += len(raw)
    chunks.append(raw)
  header["__metadata__"] = metadata or {"format": "pt"}
  text = json.dumps(header, separators=(",", ":")).encode("utf-8")
  text += b" " * (-len(text) % 8)                                          # 8-byte alignment
  tmp = f"{path}.tmp{os.getpid()}"
  try:
    with open(tmp, "wb") as f:
      f.write(struct.pack("<Q", len(text)))
      f.write(text)
      for raw in chunks:
        f.write(raw)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
