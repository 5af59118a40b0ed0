"""The structure of a zstd frame, checked without decompressing it.

A blob is one zstd frame; a file cut short or with bytes appended can still decompress to
all of its content (a truncated frame may lack only its checksum, and the decoder ignores
trailing garbage), so the structure is checked on its own, block header by block header:
a few small reads per blob, cheap enough to run before an archive download starts.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import zstandard

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BLOCK_RAW, _BLOCK_RLE, _BLOCK_COMPRESSED = 0, 1, 2


def check_frame(fh: BinaryIO) -> str | None:
    """Walk a zstd frame's block headers without decompressing; return why it is broken.

    Decompressing a truncated frame can silently yield all the content when only the
    trailing checksum is missing, and trailing garbage is ignored by the decoder, so the
    structure is checked on its own: one frame, every block complete, nothing after it.
    """
    header = fh.read(18)
    if len(header) < 6 or not header.startswith(_ZSTD_MAGIC):
        return "not a zstd frame (bad magic or too short)"
    try:
        header_size = zstandard.frame_header_size(header)
        params = zstandard.get_frame_parameters(header)
    except zstandard.ZstdError as exc:
        return f"bad zstd frame header: {exc}"
    offset = header_size
    fh.seek(offset)
    while True:
        raw = fh.read(3)
        if len(raw) < 3:
            return f"truncated: block header missing at offset {offset}"
        value = int.from_bytes(raw, "little")
        last, block_type, block_size = value & 1, (value >> 1) & 3, value >> 3
        if block_type == _BLOCK_RLE:
            payload = 1
        elif block_type in (_BLOCK_RAW, _BLOCK_COMPRESSED):
            payload = block_size
        else:
            return f"reserved block type at offset {offset}"
        offset += 3 + payload
        fh.seek(offset)
        if last:
            break
    if params.has_checksum:
        offset += 4
    end = fh.seek(0, os.SEEK_END)
    if end < offset:
        return f"truncated: frame needs {offset} bytes, file has {end}"
    if end > offset:
        return f"{end - offset} unexpected bytes after the zstd frame"
    return None
