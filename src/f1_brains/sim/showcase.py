"""Documentation material for the embedded simulator: pictures of every circuit and a speed benchmark.

``pictures`` writes, per circuit, the camera view and an annotated map (start, driving direction, name
and length), plus a grid of appearance variations. ``sim_bench`` measures renderer frames/s on one
core and offline lockstep laps per minute with the explicit brain. Both back `f1-brains sim-pictures`
and `f1-brains sim-bench`.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..util.tables import markdown_table
from ..worlds import circuits
from . import offline
from .renderer import Appearance, Renderer
from .simulation import RunLimits

MAP_SIDE = 1200
CAMERA_S = 0.1          # camera pose: this fraction of the lap after the start
ARROW_M = 25.0          # the driving-direction arrow points from the start (spawn) ARROW_M along the line
MIN_ARROW_PX = 60       # ... drawn at least this long so it stays visible on long circuits
TILE = (320, 240)


def _label(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 1.0) -> None:
    """White text with a dark outline, legible on grass, asphalt and sky (in place, BGR)."""
    thick = max(1, int(round(2 * scale)))
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 4, cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def _camera(renderer: Renderer, s: float) -> np.ndarray:
    """BGR camera image with the car on the centre line at arc length ``s``, heading along the track."""
    return cv2.cvtColor(renderer.render(*renderer.track.pose_at(s)), cv2.COLOR_RGB2BGR)


def _map(renderer: Renderer) -> np.ndarray:
    track = renderer.track
    image = cv2.cvtColor(renderer.top_down(MAP_SIDE), cv2.COLOR_RGB2BGR)
    start_s = track.project(track.spawn.x, track.spawn.y).s if track.spawn else 0.0
    x0, y0, _ = track.pose_at(start_s)
    x1, y1, _ = track.pose_at(start_s + ARROW_M)
    start = np.array(renderer.to_pixel(x0, y0, MAP_SIDE), dtype=np.float64)
    towards = np.array(renderer.to_pixel(x1, y1, MAP_SIDE), dtype=np.float64) - start
    unit = towards / np.linalg.norm(towards)
    tip = start + unit * max(np.linalg.norm(towards), MIN_ARROW_PX)
    p, q = tuple(int(v) for v in start), tuple(int(v) for v in np.round(tip))
    cv2.arrowedLine(image, p, q, (0, 0, 0), 7, cv2.LINE_AA, tipLength=0.35)
    cv2.arrowedLine(image, p, q, (0, 220, 255), 3, cv2.LINE_AA, tipLength=0.35)
    cv2.circle(image, p, 9, (0, 0, 0), -1, cv2.LINE_AA)
    cv2.circle(image, p, 6, (255, 255, 255), -1, cv2.LINE_AA)
    _label(image, f"{track.name}  {track.length:.0f} m", (20, 45), 1.2)
    (tw, th), _ = cv2.getTextSize("start", cv2.FONT_HERSHEY_SIMPLEX, 0.7, 1)
    centre = start - unit * (tw / 2 + 20)          # behind the marker, away from the arrow
    h, w = image.shape[:2]
    _label(image, "spawn" if track.spawn else "start", (int(np.clip(centre[0] - tw / 2, 4, w - tw - 4)),
                            int(np.clip(centre[1] + th / 2, th + 4, h - 6))), 0.7)
    return image


def pictures(out_dir: Path) -> list[Path]:
    """Write <name>_camera.png and <name>_map.png per circuit and appearance_variation.png; their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(name: str, image: np.ndarray) -> None:
        path = out_dir / name
        if not cv2.imwrite(str(path), image):
            raise OSError(f"could not write {path}")
        written.append(path)

    for name in circuits.CIRCUITS:
        renderer = Renderer(circuits.named(name))
        save(f"{name}_camera.png", _camera(renderer, CAMERA_S * renderer.track.length))
        save(f"{name}_map.png", _map(renderer))
    track = circuits.named("simple_circuit")
    tiles = []
    for seed in range(1, 5):
        tile = cv2.resize(_camera(Renderer(track, Appearance.varied(seed)), CAMERA_S * track.length), TILE,
                          interpolation=cv2.INTER_AREA)
        _label(tile, f"seed {seed}", (10, 28), 0.7)
        tiles.append(tile)
    save("appearance_variation.png", np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    return written


def _render_times(renderer, track, frames: int) -> dict[str, float]:
    from ..util.timing import summarize
    image = renderer.render(*track.pose_at(0.0))
    times = []
    for i in range(frames):
        pose = track.pose_at(float(i) * track.length / frames)
        t = time.perf_counter()
        renderer.render(*pose, out=image)
        times.append(time.perf_counter() - t)
    r = summarize(times)
    return {**r, "frames_per_s": 1e3 / r["p50_ms"], "frames_per_s_mean": 1e3 / r["mean_ms"]}


def sim_bench(frames: int = 600, laps_circuit: str = "simple_circuit", customrobots: str | None = None
              ) -> dict[str, Any]:
    """Renderer frames/s on one core for every circuit (built-in field renderer; the real meshes too where a
    CustomRobots checkout is given), and offline lockstep laps per minute with the explicit brain."""
    from ..core.explicit import ExplicitBrain
    cv2.setNumThreads(1)
    render = {}
    for name in circuits.CIRCUITS:
        track = circuits.named(name)
        t = time.perf_counter()
        renderer = Renderer(track)
        render[name] = {"setup_s": time.perf_counter() - t, **_render_times(renderer, track, frames)}
    meshes: dict[str, dict] = {"render_real_meshes": {}, "render_real_meshes_process": {}}
    if customrobots:
        from ..worlds.import_circuits import WORLD_FILES, worlds_dir
        from .mesh_renderer import MeshRenderer
        from .renderer_process import RendererProcess
        for name in circuits.CIRCUITS:
            for key, make in (("render_real_meshes", MeshRenderer), ("render_real_meshes_process", RendererProcess)):
                t = time.perf_counter()
                mesh = make(worlds_dir(customrobots) / WORLD_FILES[name])
                setup = time.perf_counter() - t
                times = _render_times(mesh, circuits.named(name), max(50, frames // 4))
                meshes[key][name] = {"setup_s": setup, **times}
                mesh.close()
    lap_track = circuits.named(laps_circuit)
    t = time.perf_counter()
    sim = offline.drive(lap_track, ExplicitBrain(), RunLimits(laps=1, timeout=400))
    wall_s = time.perf_counter() - t
    return {"host": platform.node(), "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "render": render, **meshes,
            "laps": {"circuit": laps_circuit, "end_reason": sim.end_reason,
                     "lap_time_s": sim.laps[0].lap_time if sim.laps else None, "sim_time_s": sim.time,
                     "wall_s": wall_s, "laps_per_minute": 60.0 / wall_s, "realtime_factor": sim.time / wall_s}}


def sim_bench_markdown(result: dict[str, Any], command: str) -> str:
    lap = result["laps"]
    lap_time = f"{lap['lap_time_s']:.2f}" if lap["lap_time_s"] is not None else f"none ({lap['end_reason']})"
    lines = [f"Measured with `{command}` on {result['host']}, {result['utc']}: one core (cv2.setNumThreads(1); "
             f"pyrender on Mesa llvmpipe through EGL for the real meshes, in this process and in the child process the "
             f"simulator draws them in), 640x480 frames at poses spread along "
             f"each lap; one offline lockstep lap of {lap['circuit']} with the explicit brain.", ""]
    renders = [[name, label, f"{r['setup_s']:.2f}", f"{r['p50_ms']:.3f} / {r['p90_ms']:.3f} / {r['p99_ms']:.3f}",
                f"{r['frames_per_s']:.0f}; {r['frames_per_s_mean']:.0f}"]
               for key, label in (("render", "built-in (field)"), ("render_real_meshes", "real meshes (pyrender)"),
                                  ("render_real_meshes_process", "real meshes (child process, as the simulator)"))
               for name, r in result.get(key, {}).items()]
    laps = [["lap time (sim s)", lap_time], ["lap wall time s", f"{lap['wall_s']:.2f}"],
            ["laps per minute", f"{lap['laps_per_minute']:.1f}"], ["realtime factor", f"{lap['realtime_factor']:.1f}x"]]
    return "\n".join(lines) + "\n" + markdown_table(
        ["circuit", "renderer", "setup s", "p50 / p90 / p99 ms", "frames/s (p50; mean)"], renders) + "\n" + \
        markdown_table(["offline lap", "value"], laps)
