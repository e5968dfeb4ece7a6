# SPDX-License-Identifier: Apache-2.0
"""DESIGN.md sec. 3, enforced: who may import whom, and where the heavy libraries may appear."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "python" / "hemotwin"

# layer of each top-level module/package; a module may import only from its own layer or below
LAYER = {
    "units": 1, "config": 1, "_core": 1, "lattice": 1,
    "imaging": 2, "geometry": 2, "solver": 2, "analysis": 2, "io": 2,
    "viz": 3, "report": 3,
    "pipeline": 4, "cli": 4, "commands": 4, "verification": 4, "verification_extra": 4, "validation": 4,
    "credibility": 4, "cohort": 4, "app": 4, "bench": 4,
}


def imports_of(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.module, node
            elif node.level > 0:
                rel = path.relative_to(PKG).parts[:-1]
                base = list(rel[: len(rel) - (node.level - 1)]) if node.level > 1 else list(rel)
                mod = ".".join(["hemotwin", *base, *( [node.module] if node.module else [])])
                yield mod, node
                if not node.module:
                    for a in node.names:
                        yield ".".join(["hemotwin", *base, a.name]), node


def top(path: Path) -> str:
    parts = path.relative_to(PKG).parts
    return parts[0].removesuffix(".py")


def test_simpleitk_only_in_imaging():
    bad = [f"{p.relative_to(PKG)}:{n.lineno}" for p in PKG.rglob("*.py") for m, n in imports_of(p)
           if m.split(".")[0] == "SimpleITK" and top(p) not in ("imaging", "bench")]
    assert not bad, f"SimpleITK imported outside imaging/: {bad}"


def test_layers_import_downwards_only():
    bad = []
    for p in PKG.rglob("*.py"):
        me = top(p)
        if me not in LAYER:
            continue
        for m, n in imports_of(p):
            parts = m.split(".")
            if parts[0] != "hemotwin" or len(parts) < 2:
                continue
            other = parts[1]
            if other in LAYER and LAYER[other] > LAYER[me]:
                bad.append(f"{p.relative_to(PKG)}:{n.lineno} imports {m} (layer {LAYER[other]} > {LAYER[me]})")
    assert not bad, "\n".join(bad)


def test_only_viz_plots():
    # DESIGN.md: viz/ is the only place that renders (the app's 3-D view is a PyVista plotter it owns;
    # its profile picture comes from viz.plots)
    bad = [f"{p.relative_to(PKG)}:{n.lineno}" for p in PKG.rglob("*.py") for m, n in imports_of(p)
           if m.split(".")[0] == "matplotlib" and top(p) != "viz"]
    assert not bad, f"matplotlib imported outside viz/: {bad}"


def test_solver_and_core_import_without_heavy_libraries():
    # `import hemotwin` and the solver must work with no display, SimpleITK, VTK or PyVista (GPU nodes)
    heavy = {"SimpleITK", "vtk", "pyvista", "matplotlib", "meshio"}
    for sub in ("__init__.py", "units.py", "lattice.py", "solver", "verification.py"):
        for p in ([PKG / sub] if sub.endswith(".py") else list((PKG / sub).rglob("*.py"))):
            tree = ast.parse(p.read_text(encoding="utf-8"))
            for node in tree.body:  # module level only: lazy imports inside functions are fine
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for name in names:
                    assert name.split(".")[0] not in heavy, f"{p.relative_to(PKG)} imports {name} at module level"
