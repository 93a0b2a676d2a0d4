"""Processes found by their command line (ROS nodes run in sessions of their own: their log paths name their run)."""
from __future__ import annotations

import os
from pathlib import Path


def pids_with(*parts: str) -> list[int]:
    """This user's processes (this one excepted) whose command line holds every one of ``parts``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if all(part.encode() in cmdline for part in parts):
            pids.append(int(proc.name))
    return pids
