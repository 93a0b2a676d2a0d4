"""The package's public API: named in f1_brains/__init__.py, imported on first use."""
import subprocess
import sys

import pytest

import f1_brains


def test_import_f1_brains_loads_no_framework():
    code = ("import sys, f1_brains; heavy = {'tensorflow', 'torch', 'onnxruntime', 'cv2', 'rospy', 'pyrender'}; "
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_public_name_resolves_and_a_brain_drives():
    for name in f1_brains.__all__:
        assert getattr(f1_brains, name) is not None, name
    brain = f1_brains.load_brain("explicit")
    assert isinstance(brain, f1_brains.ExplicitBrain)
    assert f1_brains.load_circuit("montreal_line").name == "montreal" and "nurburgring" in f1_brains.CIRCUITS
    assert set(f1_brains.__all__) <= set(dir(f1_brains))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'drive'"):
        f1_brains.drive  # noqa: B018
