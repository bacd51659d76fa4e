"""Length-prefixed JSON frames between the grader and a sandboxed worker."""

from __future__ import annotations

import json
import struct
from typing import IO, Any

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(RuntimeError):
    """The peer closed the pipe or sent something that is not a frame."""


def write_frame(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Send one message."""
    data = json.dumps(message, default=str).encode()
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise ProtocolError("pipe closed")
        buf += chunk
    return buf


def read_frame(stream: IO[bytes]) -> dict[str, Any]:
    """Receive one message; a size beyond MAX_FRAME means the peer is not speaking the protocol."""
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes")
    message = json.loads(_read_exact(stream, size))
    if not isinstance(message, dict):
        raise ProtocolError("frame is not an object")
    return message
