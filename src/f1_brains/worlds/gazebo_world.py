"""A Gazebo ``.world`` file as the simulator needs it: the placed meshes, the car's spawn pose, the light.

Follows ``<include><uri>model://NAME</uri>`` through ``GAZEBO_MODEL_PATH`` (then the checkout layout,
``<world dir>/../models``) to each model's ``model.sdf``; composes the include, link and visual/collision
poses; resolves ``model://`` mesh URIs. Nothing is copied: the files are read where the user has them.
"""
from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError

CAR_MODEL = "f1_renault"
SUN_DIFFUSE = 0.8     # CustomRobots' sun model: <diffuse>0.8 0.8 0.8</diffuse>


@dataclass(frozen=True)
class Pose:
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0

    @classmethod
    def parse(cls, text: str | None, where: str) -> "Pose":
        values = (text or "").split()
        if not values:
            return cls()
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise ConfigError(f"{where}: pose {text!r} is not six numbers") from None
        if len(numbers) != 6 or not all(math.isfinite(v) for v in numbers):
            raise ConfigError(f"{where}: pose {text!r} is not six finite numbers")
        return cls(*numbers)

    def matrix(self) -> np.ndarray:
        cr, sr, cp, sp, cy, sy = (f(a) for a in (self.roll, self.pitch, self.yaw) for f in (math.cos, math.sin))
        m = np.eye(4)
        m[:3, :3] = np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                              [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                              [-sp, cp * sr, cp * cr]])
        m[:3, 3] = (self.x, self.y, self.z)
        return m


@dataclass
class PlacedMesh:
    path: Path                 # the mesh file (.dae or .obj)
    transform: np.ndarray      # 4x4 mesh -> world, scale included
    role: str                  # "visual" or "collision"
    model: str


@dataclass
class GazeboWorld:
    path: Path
    meshes: list[PlacedMesh] = field(default_factory=list)
    spawn: Pose | None = None                 # the car's pose in the world
    ambient: tuple[float, float, float] = (0.4, 0.4, 0.4)
    sun_direction: tuple[float, float, float] | None = None   # where the light travels (world frame)


def _model_dirs(world_path: Path) -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("GAZEBO_MODEL_PATH", "").split(":") if p]
    return dirs + [world_path.parent.parent / "models", world_path.parent / "models"]


def find_model(name: str, world_path: Path) -> Path:
    """The directory of model ``name`` (holding model.sdf), searched as Gazebo and a checkout lay them out."""
    searched = _model_dirs(world_path)
    for base in searched:
        if (base / name / "model.sdf").is_file():
            return base / name
    raise ConfigError(f"world {world_path}: model {name!r} not found (looked in GAZEBO_MODEL_PATH and "
                      f"{', '.join(str(d) for d in searched if d)}); set GAZEBO_MODEL_PATH to the models folder "
                      f"of your CustomRobots checkout")


def resolve_uri(uri: str, model_dir: Path, world_path: Path) -> Path:
    uri = uri.strip()
    if uri.startswith("model://"):
        name, _, rest = uri[len("model://"):].partition("/")
        base = model_dir if model_dir.name == name else find_model(name, world_path)
        path = base / rest
    elif uri.startswith("file://"):
        path = Path(uri[len("file://"):])
    else:
        path = model_dir / uri
    if not path.is_file():
        raise ConfigError(f"world {world_path}: mesh {uri} (model {model_dir.name}) not found at {path}")
    return path


def _parse_xml(path: Path, what: str) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ConfigError(f"{what} {path}: cannot be read as SDF: {e}") from None


def _model_meshes(model_dir: Path, placement: np.ndarray, world_path: Path) -> list[PlacedMesh]:
    sdf = model_dir / "model.sdf"
    model = _parse_xml(sdf, "model").find("model")
    if model is None:
        raise ConfigError(f"model {sdf}: no <model> element")
    placement = placement @ Pose.parse(model.findtext("pose"), str(sdf)).matrix()
    meshes = []
    for link in model.findall("link"):
        link_m = placement @ Pose.parse(link.findtext("pose"), str(sdf)).matrix()
        for role in ("visual", "collision"):
            for element in link.findall(role):
                mesh = element.find("geometry/mesh")
                if mesh is None or not (mesh.findtext("uri") or "").strip():
                    continue
                scale = np.ones(3)
                if mesh.findtext("scale"):
                    scale = np.array([float(v) for v in mesh.findtext("scale").split()])
                m = link_m @ Pose.parse(element.findtext("pose"), str(sdf)).matrix() @ np.diag([*scale, 1.0])
                meshes.append(PlacedMesh(resolve_uri(mesh.findtext("uri"), model_dir, world_path), m, role,
                                         model_dir.name))
    return meshes


def _sun_direction(model_dir: Path) -> tuple[float, float, float] | None:
    root = _parse_xml(model_dir / "model.sdf", "model")
    light = root.find(".//light")
    if light is None or not light.findtext("direction"):
        return None
    d = np.array([float(v) for v in light.findtext("direction").split()])
    return tuple(float(v) for v in d / np.linalg.norm(d))


def read_world(path: str | Path) -> GazeboWorld:
    """The meshes, spawn pose and lighting of a Gazebo world file (models read from the user's checkout)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"world {path} does not exist")
    root = _parse_xml(path, "world")
    world_element = root.find("world")
    if world_element is None:
        raise ConfigError(f"world {path}: no <world> element")
    world = GazeboWorld(path)
    ambient = world_element.findtext("scene/ambient")
    if ambient:
        world.ambient = tuple(float(v) for v in ambient.split()[:3])
    for include in world_element.findall("include"):
        uri = (include.findtext("uri") or "").strip()
        if not uri.startswith("model://"):
            continue
        name = uri[len("model://"):].strip("/")
        pose = Pose.parse(include.findtext("pose"), f"world {path}, include {name}")
        if name == CAR_MODEL:
            world.spawn = pose
            continue
        model_dir = find_model(name, path)
        if name == "sun" or (model_dir / "model.sdf").read_text(errors="replace").find("<light") >= 0:
            world.sun_direction = _sun_direction(model_dir)
            continue
        world.meshes.extend(_model_meshes(model_dir, pose.matrix(), path))
    if world.spawn is None:
        raise ConfigError(f"world {path}: no {CAR_MODEL} included, so no spawn pose for the car")
    if not world.meshes:
        raise ConfigError(f"world {path}: no model with a mesh (the circuit) is included")
    return world


def real_time_factor(path: str | Path) -> float:
    """The real-time factor a Gazebo world file asks for: real_time_update_rate x max_step_size of its last
    <physics> that sets a rate (BehaviorMetrics appends one from its RealTimeUpdateRate); Gazebo's defaults,
    1000 Hz x 1 ms, make 1.0; a rate of 0 (as fast as possible) gives 0."""
    world = _parse_xml(Path(path), "world").find("world")
    if world is None:
        raise ConfigError(f"world {path}: no <world> element")
    factor = 1.0
    for physics in world.findall("physics"):
        rate, step = physics.findtext("real_time_update_rate"), physics.findtext("max_step_size")
        if rate is None:
            continue
        try:
            factor = float(rate) * float(step if step is not None else 0.001)
        except ValueError:
            raise ConfigError(f"world {path}: <physics> rate {rate!r} / step {step!r} is not a number") from None
        if not factor >= 0:
            raise ConfigError(f"world {path}: a negative or NaN real-time factor ({factor})")
    return factor
