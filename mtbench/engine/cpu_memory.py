"""Keep freed memory in the process heap on Linux/glibc, so large CPU tensors avoid page faults.

glibc serves every large allocation (above its mmap threshold, at most 32 MiB) with a fresh
``mmap`` and returns it to the kernel on free, so each new activation-sized CPU tensor is
zero-filled page by page on first touch. On the 2-core machines this project is tested on that
made memory-bound ops 2-3x slower than the arithmetic (a [4, 6272, 768] ``bmm`` took 40 ms
instead of 12 ms) and hit the methods with more intermediate tensors hardest. Turning ``mmap``
off for malloc and never trimming the heap reuses freed memory instead, the effect PyTorch's CPU
tuning guide gets from jemalloc or tcmalloc. Peak RSS is unchanged in kind: the heap holds at
most what was live at the peak, plus fragmentation.

Set ``MTBENCH_MALLOC_TUNING=0`` to leave the allocator alone.
"""
import ctypes
import ctypes.util
import os
import sys

__all__ = ['tune_malloc']

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_applied = None


def tune_malloc() -> bool:
    """Apply the heap settings once per process; returns whether they are in effect."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get('MTBENCH_MALLOC_TUNING', '1') == '0' or not sys.platform.startswith(
            'linux'):
        return False
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _applied
