"""Python package of the f1_brains catkin package.

Used both by catkin (``catkin_python_setup()`` in CMakeLists.txt) and by pip (``pip install -e .``,
which the bootstrap does so that the ``f1-brains`` command exists in the venv).
"""
from setuptools import find_packages, setup

PACKAGE_DATA = {"f1_brains.worlds": ["circuit_data/*.json"]}   # the real circuits, measured (world-import)

try:  # catkin reads the version and metadata from package.xml
    from catkin_pkg.python_setup import generate_distutils_setup
    metadata = generate_distutils_setup(packages=find_packages("src"), package_dir={"": "src"},
                                        package_data=PACKAGE_DATA)
except ImportError:
    metadata = dict(name="f1_brains", version="0.1.0",
                    packages=find_packages("src"), package_dir={"": "src"}, package_data=PACKAGE_DATA)

setup(
    **metadata,
    python_requires=">=3.8",
    entry_points={"console_scripts": ["f1-brains = f1_brains.cli:main"]},
)
