"""glibc's allocator told to keep large buffers in its heap: a node reading 0.9 MB camera frames then reuses memory
instead of mapping and faulting in fresh pages for every frame."""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1    # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
HEAP_LIMIT = 32 << 20    # glibc's own ceiling for a dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)


def keep_large_buffers_in_heap() -> bool:
    """Serve allocations below 32 MiB from the heap and keep up to 64 MiB of freed heap for reuse.

    rospy reads a subscription with one ``recv(buff_size)`` per read; with the brain node's 16 MiB buff_size each
    read is a fresh mapping under glibc's default. Measured on this project's AMD EPYC: a rospy Image subscriber
    (640x480 rgb8 at 50 Hz) spends 1.8-2.0 ms CPU per frame by default and 0.8 ms with this setting (docs/results/
    node_run.md). Returns False, changing nothing, where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_LIMIT)) and bool(mallopt(M_TRIM_THRESHOLD, 2 * HEAP_LIMIT))
