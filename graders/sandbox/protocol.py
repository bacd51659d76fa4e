"""Length-prefixed JSON frames between the grader and a sandboxed worker.

Frames are encoded and decoded with the C encoder and scanner built when this module is first
imported, and written with the ``os.write`` of that moment. In the worker that is before any
answer runs, so an answer that replaces ``json.dumps``, ``json.loads``, the ``JSONEncoder``
class, ``struct`` or ``os.write`` does not reach the frames: the tamper report that follows
such a patch still gets to the grader. (Code that reaches into this module's own globals is
caught by the integrity check, which watches this module too; see ``integrity.py``.)
"""

from __future__ import annotations

import json
import json.decoder
import json.encoder
import json.scanner
import os
import struct
from collections.abc import Callable
from typing import IO, Any

_HEADER = struct.Struct(">I")
MAX_FRAME = 128 * 1024 * 1024


class ProtocolError(RuntimeError):
    """The peer closed the pipe or sent something that is not a frame."""


def _make_encode() -> Callable[[Any], str]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the _json accelerator
        return json.JSONEncoder(default=str).encode
    # (markers, default, encoder, indent, key_sep, item_sep, sort_keys, skipkeys, allow_nan)
    encoder = make(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    join = "".join
    return lambda obj: join(encoder(obj, 0))


def _make_decode() -> Callable[[str], Any]:
    make = getattr(json.scanner, "c_make_scanner", None)
    if make is None:
        return json.JSONDecoder().decode
    scan = make(json.decoder.JSONDecoder())

    def decode(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration as exc:
            raise ValueError("not JSON") from exc
        if end != len(text):
            raise ValueError("extra data after the JSON value")
        return value

    return decode


_encode = _make_encode()
_decode = _make_decode()
_pack = _HEADER.pack
_unpack = _HEADER.unpack
_os_write = os.write
_os_read = os.read


def encode_frame(message: dict[str, Any]) -> bytes:
    """One message as header + JSON bytes."""
    data = _encode(message).encode()
    return _pack(len(data)) + data


def decode_body(data: bytes) -> dict[str, Any]:
    """The message in a frame's body; ProtocolError when it is not a JSON object."""
    try:
        message = _decode(data.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("frame is not an object")
    return message


def write_frame(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Send one message."""
    write_encoded(stream, encode_frame(message))


def write_encoded(stream: IO[bytes], frame: bytes) -> None:
    """Send a frame made by ``encode_frame``."""
    fd = stream.fileno()
    view = memoryview(frame)
    while view:
        view = view[_os_write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = _os_read(fd, n - len(buf))
        if not chunk:
            raise ProtocolError("pipe closed")
        buf += chunk
    return buf


def read_frame(stream: IO[bytes]) -> dict[str, Any]:
    """Receive one message; a size beyond MAX_FRAME means the peer is not speaking the protocol."""
    fd = stream.fileno()
    (size,) = _unpack(_read_exact(fd, _HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes")
    return decode_body(_read_exact(fd, size))
