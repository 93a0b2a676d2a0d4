"""What this run ran on: package versions and the CPU, for run metadata and benchmark reports."""
from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

FRAMEWORKS = ("numpy", "tensorflow-cpu", "tensorflow", "keras", "ai-edge-litert", "torch", "onnxruntime", "onnx")


def versions() -> dict[str, str]:
    found = {}
    for name in FRAMEWORKS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


# Instruction sets that decide int8 / bf16 speed on x86 (VNNI: int8 dot products; AMX: int8/bf16 tiles)
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def cpu() -> str:
    """'<model name>, N cores, <int8-relevant flags>' from /proc/cpuinfo (Linux), else the platform's word."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    present = [f for f in CPU_FEATURES if f in flags]
    return f"{fields.get('model name', platform.machine())}, {os.cpu_count()} cores, " + \
        (" ".join(present) or "none of " + " ".join(CPU_FEATURES))
