"""keep_large_buffers_in_heap: a socket read with the brain node's 16 MiB buff_size no longer maps fresh memory.

Each case runs in its own interpreter: the setting is process-wide. glibc's mallinfo2 counts the mapped blocks.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

READS = """
import ctypes, socket, sys
sys.path.insert(0, {src!r})
from f1_brains.util.allocator import keep_large_buffers_in_heap

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if {tuned}:
    assert keep_large_buffers_in_heap()
sender, receiver = socket.socketpair()
sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)   # one frame fits: sendall returns before recv
frames = []   # kept, so that no read reuses what an earlier one freed
before = libc.mallinfo2().hblks
for _ in range(5):
    sender.sendall(bytes(200_000))
    frames.append(receiver.recv(1 << 24))   # as rospy reads a subscription with buff_size 16 MiB
print(libc.mallinfo2().hblks - before, sum(map(len, frames)))
"""


def mapped_blocks_after_five_reads(tuned: bool) -> int:
    done = subprocess.run([sys.executable, "-c", READS.format(src=str(SRC), tuned=tuned)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    blocks, received = map(int, done.stdout.split())
    assert received == 5 * 200_000
    return blocks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_big_buffer_read_maps_memory_per_frame_by_default_and_not_once_kept_in_the_heap():
    assert mapped_blocks_after_five_reads(tuned=False) == 5   # the cost the setting removes: one mapping per read
    assert mapped_blocks_after_five_reads(tuned=True) == 0
