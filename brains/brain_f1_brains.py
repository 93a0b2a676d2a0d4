"""BehaviorMetrics brain module of f1_brains: every backend, model card and limit of f1_brains behind BM's
``Brain(sensors, actuators, model=None, handler=None, config=None)`` / ``execute()`` contract.

Install: link (or copy) this file to <BehaviorMetrics>/behavior_metrics/brains/gazebo/f1/brain_f1_brains.py
and use ``BrainPath: 'brains/gazebo/f1/brain_f1_brains.py'``. The f1_brains package must be importable by
BM's Python: ``pip install --no-deps -e <f1_brains checkout>``, or ``export F1_BRAINS_ROOT=<checkout>``
(a link to this file in the checkout finds it by itself). ``Parameters.Model``: one of our brains
(``pilotnet_onnx``), a brain YAML, or an artifact. Full guide: docs/behaviormetrics.md.
"""
import logging
import os
import sys
from pathlib import Path


def _make_f1_brains_importable() -> None:
    try:
        import f1_brains  # noqa: F401
        return
    except ImportError:
        pass
    for root in (os.environ.get("F1_BRAINS_ROOT"), Path(__file__).resolve().parents[1]):
        if root and (Path(root) / "src" / "f1_brains" / "__init__.py").is_file():
            sys.path.insert(0, str(Path(root) / "src"))
            return
    raise ImportError("brain_f1_brains: cannot import f1_brains; run `pip install --no-deps -e <f1_brains checkout>` "
                      "in BehaviorMetrics' Python, or set F1_BRAINS_ROOT=<f1_brains checkout>")


_make_f1_brains_importable()

from f1_brains.ros.behaviormetrics import BehaviorMetricsBrain, bm_model_dirs  # noqa: E402

_log = logging.getLogger("f1_brains")
if not _log.handlers:   # BM gives only its own logger a handler: without one our INFO lines (what runs) are lost
    _stream = logging.StreamHandler()
    _stream.setFormatter(logging.Formatter("[f1_brains] %(levelname)s: %(message)s"))
    _log.addHandler(_stream)
    _log.setLevel(logging.INFO)


class Brain(BehaviorMetricsBrain):
    """What BehaviorMetrics constructs; ``model`` is looked up under BM's models/ directories first."""

    def __init__(self, sensors, actuators, model=None, handler=None, config=None):
        super().__init__(sensors, actuators, model=model, handler=handler, config=config,
                         model_dirs=bm_model_dirs(__file__))
