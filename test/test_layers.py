"""The package's import graph, read from the code: no module imports itself back through others, every import
runs down the layers the folders show (docs/ARCHITECTURE.md), and ROS stays at the edges (the ros/ folder)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "f1_brains"
ROS_MODULES = ("rospy", "rosbag", "cv_bridge", "sensor_msgs", "geometry_msgs", "nav_msgs", "std_msgs", "std_srvs",
               "rosgraph_msgs")
# Layers from the ground up; a module may import its own layer's modules and any layer below, never one above
# nor a sibling on its floor (results and sim know nothing of each other, nor do zoo and evaluate).
LAYERS = (("f1_brains.errors",), ("f1_brains.util",), ("f1_brains.core", "f1_brains.worlds"),
          ("f1_brains.results", "f1_brains.sim"), ("f1_brains.ros",), ("f1_brains.zoo", "f1_brains.evaluate"),
          ("f1_brains.cli", "f1_brains"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module this file imports, anywhere in it (function-level imports included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}   # `from . import x` names a module
    return found


def package_files() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def graph() -> dict[str, set[str]]:
    files = package_files()
    return {name: {m for m in imports(path) if m in files and m != name} for name, path in files.items()}


def layer_of(module: str) -> tuple[int, str]:
    """(floor, part) of a module: the longest layer prefix that names it."""
    best = None
    for floor, parts in enumerate(LAYERS):
        for part in parts:
            if (module == part or module.startswith(part + ".")) and (best is None or len(part) > len(best[1])):
                best = (floor, part)
    assert best is not None, f"{module} is in no layer"
    return best


def against_the_layers(edges: dict[str, set[str]]) -> list[str]:
    """Imports that climb a floor or cross to a sibling part on the same floor."""
    wrong = []
    for a, targets in edges.items():
        for b in targets:
            (fa, pa), (fb, pb) = layer_of(a), layer_of(b)
            if fb > fa or (fb == fa and pa != pb and "f1_brains" not in (pa, pb)):
                wrong.append(f"{a} -> {b}")
    return sorted(wrong)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycles():
    edges = graph()
    assert len(edges) > 30 and "f1_brains.core.brain" in edges["f1_brains.ros.brain_node"]   # really read
    assert cycles(edges) == []


def test_a_cycle_is_found_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_import_runs_down_the_layers():
    assert against_the_layers(graph()) == []


def test_an_import_against_the_layers_is_found():
    assert against_the_layers({"f1_brains.core.brain": {"f1_brains.ros.recorder"},
                               "f1_brains.sim.offline": {"f1_brains.results.laps"},
                               "f1_brains.ros.recorder": {"f1_brains.results.laps"}}) == [
        "f1_brains.core.brain -> f1_brains.ros.recorder", "f1_brains.sim.offline -> f1_brains.results.laps"]


def test_every_module_lives_in_a_layer_folder():
    loose = [name for name in package_files() if name.count(".") == 1 and layer_of(name)[1] == "f1_brains"]
    assert loose == [], "modules outside the layer folders"


def test_ros_stays_at_the_edges():
    using_ros = {name for name, path in package_files().items()
                 if any(m.split(".")[0] in ROS_MODULES for m in imports(path))}
    assert using_ros and all(name.startswith("f1_brains.ros.") for name in using_ros), sorted(using_ros)
