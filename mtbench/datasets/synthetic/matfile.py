"""A small, fast and deterministic MATLAB v5 (``.mat``) writer.

``scipy.io.savemat`` costs milliseconds per PASCAL-Part annotation (it walks nested structs in
Python) and stamps the creation time into the header, which breaks byte-identical regeneration.
This writer covers what the synthetic PASCAL_MT layout needs, in the layout ``scipy.io.loadmat``
and MATLAB read back:

* ``str`` -> ``char`` row vector (UTF-16 code units);
* numeric ``np.ndarray`` (uint8, uint16, int32, float64, ...) -> numeric matrix (column-major);
* :class:`MatStruct` -> struct array with the given field names and shape.

Every top-level variable is stored zlib-compressed (``miCOMPRESSED``), like MATLAB's default.
"""
import struct
import zlib
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ['MatStruct', 'mat_bytes', 'write_mat']

_MI = {'int8': 1, 'uint8': 2, 'int16': 3, 'uint16': 4, 'int32': 5, 'uint32': 6, 'float32': 7,
       'float64': 9, 'int64': 12, 'uint64': 13}
_MX = {'int8': 8, 'uint8': 9, 'int16': 10, 'uint16': 11, 'int32': 12, 'uint32': 13, 'float32': 7,
       'float64': 6, 'int64': 14, 'uint64': 15}
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_STRUCT, _MX_CHAR = 2, 4
_HEADER_TEXT = b'MATLAB 5.0 MAT-file, Platform: posix, Created by: mtbench synthetic generator'


class MatStruct:
    """A MATLAB struct array.

    Args:
        fields: field names, in order.
        elements: one ``{field: value}`` dict per element, in column-major order.
        shape: the array shape; defaults to ``(1, len(elements))``. ``(0, 0)`` gives an empty
            struct array that still declares its fields.
    """

    def __init__(self, fields: Sequence[str], elements: List[Dict], shape: Tuple[int, int] = None):
        self.fields = list(fields)
        self.elements = list(elements)
        self.shape = tuple(shape) if shape is not None else (1, len(self.elements))
        if int(np.prod(self.shape)) != len(self.elements):
            raise ValueError(f'shape {self.shape} does not match {len(self.elements)} elements')


def _element(mi_type: int, payload: bytes) -> bytes:
    pad = (-len(payload)) % 8
    return struct.pack('<II', mi_type, len(payload)) + payload + b'\0' * pad


def _matrix(mx_class: int, dims: Sequence[int], name: str, body: bytes) -> bytes:
    content = (_element(_MI['uint32'], struct.pack('<II', mx_class, 0))
               + _element(_MI['int32'], struct.pack(f'<{len(dims)}i', *dims))
               + _element(_MI['int8'], name.encode('ascii'))
               + body)
    return struct.pack('<II', _MI_MATRIX, len(content)) + content


def _encode(value, name: str = '') -> bytes:
    if isinstance(value, MatStruct):
        width = max([len(f) for f in value.fields] + [0]) + 1
        names = b''.join(f.encode('ascii').ljust(width, b'\0') for f in value.fields)
        body = _element(_MI['int32'], struct.pack('<i', width)) + _element(_MI['int8'], names)
        body += b''.join(_encode(el[f]) for el in value.elements for f in value.fields)
        return _matrix(_MX_STRUCT, value.shape, name, body)
    if isinstance(value, str):
        data = np.frombuffer(value.encode('utf-16-le'), dtype='<u2')
        return _matrix(_MX_CHAR, (1, data.size), name, _element(_MI['uint16'], data.tobytes()))
    arr = np.asarray(value)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.ndim < 2:
        arr = arr.reshape(1, -1)
    key = arr.dtype.name
    if key not in _MI:
        raise TypeError(f'unsupported dtype {arr.dtype} for a .mat matrix')
    data = np.asfortranarray(arr.astype(arr.dtype.newbyteorder('<'), copy=False))
    return _matrix(_MX[key], arr.shape, name, _element(_MI[key], data.tobytes(order='F')))


def mat_bytes(variables: Dict[str, object], compress_level: int = 1) -> bytes:
    """Serialise ``{name: value}`` to the bytes of a MATLAB v5 file (deterministic).

    Args:
        variables: top-level variables (str, numeric arrays or :class:`MatStruct`).
        compress_level: zlib level of the ``miCOMPRESSED`` elements.

    Returns:
        The file content.
    """
    header = _HEADER_TEXT.ljust(116, b' ') + b'\0' * 8 + struct.pack('<H', 0x0100) + b'IM'
    out = [header]
    for name, value in variables.items():
        raw = zlib.compress(_encode(value, name), compress_level)
        out.append(struct.pack('<II', _MI_COMPRESSED, len(raw)) + raw)
    return b''.join(out)


def write_mat(path, variables: Dict[str, object]) -> None:
    """Write ``variables`` to ``path`` as a MATLAB v5 file (see :func:`mat_bytes`)."""
    with open(path, 'wb') as f:
        f.write(mat_bytes(variables))
