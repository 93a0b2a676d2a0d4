"""The package's import graph, read from the code: no module imports itself back through others, and ROS stays
at the edges (the nodes, the camera player, and the recorder's reading of BehaviorMetrics' bags)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "f1_brains"
ROS_MODULES = ("rospy", "rosbag", "cv_bridge", "sensor_msgs", "geometry_msgs", "nav_msgs", "std_msgs", "std_srvs",
               "rosgraph_msgs")
ROS_EDGE = {"f1_brains.node", "f1_brains.camera_player", "f1_brains.recorder", "f1_brains.sim.node"}


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


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(path) if m in files and m != name} for name, path in files.items()}


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
    assert len(edges) > 30 and "f1_brains.brain" in edges["f1_brains.node"]    # the graph is really read
    assert cycles(edges) == []


def test_a_cycle_is_found_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_ros_stays_at_the_edges():
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    using_ros = {name for name, path in files.items()
                 if any(m.split(".")[0] in ROS_MODULES for m in imports(path))}
    assert using_ros == ROS_EDGE
