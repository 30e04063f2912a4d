"""The Arrow C Data Interface, for the readers: a driver's Arrow data to Polars without pyarrow.

pyarrow's import alone costs about 70 MB of resident memory and a tenth of a second (numpy
with it), so the readers hand Arrow over by the C interface's structs, through ctypes:

- `chunk`: one array a driver built (ConnectorX gives a pair of pointers per column chunk),
  offered to Polars by the Arrow PyCapsule protocol, which moves it out without a copy;
- `read_stream`: an ArrowArrayStream (ADBC's result) read batch by batch. Each call into the
  stream is a ctypes call, which releases the GIL while the driver waits on the server and
  decodes rows, so the other segments' threads go on working meanwhile (Polars' own import
  of a stream holds the GIL throughout and stalls them).
"""

from __future__ import annotations

import ctypes
from ctypes import CFUNCTYPE, POINTER, byref, c_char_p, c_int, c_int64, c_void_p
from typing import Any

import polars as pl


class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", c_char_p),
    ("name", c_char_p),
    ("metadata", c_char_p),
    ("flags", c_int64),
    ("n_children", c_int64),
    ("children", c_void_p),
    ("dictionary", c_void_p),
    ("release", CFUNCTYPE(None, POINTER(ArrowSchema))),
    ("private_data", c_void_p),
]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", c_int64),
    ("null_count", c_int64),
    ("offset", c_int64),
    ("n_buffers", c_int64),
    ("n_children", c_int64),
    ("buffers", c_void_p),
    ("children", c_void_p),
    ("dictionary", c_void_p),
    ("release", CFUNCTYPE(None, POINTER(ArrowArray))),
    ("private_data", c_void_p),
]


class ArrowArrayStream(ctypes.Structure):
    pass


ArrowArrayStream._fields_ = [
    ("get_schema", CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowSchema))),
    ("get_next", CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowArray))),
    ("get_last_error", CFUNCTYPE(c_char_p, POINTER(ArrowArrayStream))),
    ("release", CFUNCTYPE(None, POINTER(ArrowArrayStream))),
    ("private_data", c_void_p),
]

_new_capsule = ctypes.pythonapi.PyCapsule_New
_new_capsule.restype = ctypes.py_object
_new_capsule.argtypes = (c_void_p, c_char_p, c_void_p)
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = c_void_p
_capsule_pointer.argtypes = (ctypes.py_object, c_char_p)
# Module constants: a capsule keeps a pointer to its name, which must outlive it.
_SCHEMA, _ARRAY, _STREAM = b"arrow_schema", b"arrow_array", b"arrow_array_stream"


class StreamError(Exception):
    """The stream's producer failed; the message is its own."""


class _Chunk:
    """One array and its schema, at two addresses, offered by the Arrow PyCapsule protocol."""

    __slots__ = ("array", "schema")

    def __init__(self, array: int, schema: int) -> None:
        self.array, self.schema = array, schema

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return _new_capsule(self.schema, _SCHEMA, None), _new_capsule(self.array, _ARRAY, None)


def chunk(name: str, array: int, schema: int) -> pl.Series:
    """The array at address `array` (its type at `schema`) as a Series; Polars moves both out."""
    return pl.Series(name, _Chunk(array, schema))


class _Stream:
    __slots__ = ("capsule",)

    def __init__(self, capsule: object) -> None:
        self.capsule = capsule

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self.capsule


def read_stream(capsule: Any) -> pl.DataFrame:
    """Every batch of the stream in an "arrow_array_stream" capsule, as one frame (a chunk per
    batch, not copied together). The capsule keeps the stream: it is released with it."""
    stream = ArrowArrayStream.from_address(_capsule_pointer(capsule, _STREAM))
    frames = []
    while True:
        array = ArrowArray()
        if stream.get_next(byref(stream), byref(array)):  # the GIL is released in the call
            raise StreamError(_last_error(stream))
        if not array.release:  # the end of the stream
            break
        schema = ArrowSchema()  # a schema per batch: Polars moves each one out
        if stream.get_schema(byref(stream), byref(schema)):
            array.release(byref(array))
            raise StreamError(_last_error(stream))
        try:
            batch = chunk("", ctypes.addressof(array), ctypes.addressof(schema))
        finally:  # what Polars did not move out (on an error) is released here
            if array.release:
                array.release(byref(array))
            if schema.release:
                schema.release(byref(schema))
        frames.append(batch.struct.unnest())
    if not frames:  # no batch: the columns and their types from the stream's schema
        return pl.DataFrame(_Stream(capsule))
    return frames[0] if len(frames) == 1 else pl.concat(frames, rechunk=False)


def _last_error(stream: ArrowArrayStream) -> str:
    said = stream.get_last_error(byref(stream))
    return said.decode(errors="replace") if said else "the Arrow stream failed"
