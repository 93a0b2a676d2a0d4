"""Run files: written atomically (a crash or Ctrl-C mid-write never leaves a truncated file), and output
directories checked before a run starts, so a run is never lost at its end to a directory it cannot write."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def write_text_atomic(path: str | Path, text: str) -> Path:
    """``text`` to ``path`` through a temporary file beside it, removed again when the write fails (full disk)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, default=str))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def check_writable_dir(path: str | Path, what: str = "output directory") -> Path:
    """Create ``path`` if needed and prove a file can be written there. Raises ConfigError naming it."""
    path = Path(path).expanduser()
    probe = path / f".write_check.{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"{what} {path} is not writable: {e.strerror or e}") from None
    return path
