"""The suite's layout: its modules import each other without a cycle, none is much over 400
lines, and `experiments/`'s stages (its sub-packages) import only the stages below them."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("custom_optimizers", "callbacks", "experiments")
#: "no module over about 400 lines"
MAX_LINES = 410


def modules():
    return {".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imports(path, known, top_level_only):
    """The suite's modules that `path` imports (at its top level only, or anywhere in it)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known}


def cycle(graph):
    """A cycle of `graph` ({module: imported modules}) as a list, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                return path[path.index(other):] + [other]
            if other not in state:
                found = visit(other, path + [other])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["at import", "anywhere"])
def test_no_import_cycle(top_level_only):
    """Not even through an import inside a function: modules along the path a batch takes."""
    known = modules()
    graph = {name: imports(path, known, top_level_only) - {name} for name, path in known.items()}
    graph = {name: {other for other in targets if other != name.rpartition(".")[0] or name == other}
             for name, targets in graph.items()}  # a module reading its own package's __init__
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_over_about_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


#: `experiments/`'s stages from the bottom up: each imports only those before it (its
#: `__init__.py` says what it does and which it may import); `experiments` itself, `runner`
#: and `__main__` are on top of them all.
STAGES = ("spec", "workloads", "plan", "store", "report", "engine")


def stage(module):
    """The rank of `module`'s stage in `STAGES` (len(STAGES) on top, None outside `experiments`)."""
    parts = module.split(".")
    if parts[0] != "experiments":
        return None
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else len(STAGES)


def test_every_module_of_experiments_is_in_a_stage_or_on_top():
    on_top = {name for name in modules() if stage(name) == len(STAGES)}
    assert on_top == {"experiments", "experiments.__main__", "experiments.runner", "experiments.benchmark"}
    for name in STAGES:
        assert (ROOT / "experiments" / name / "__init__.py").read_text().startswith('"""')


@pytest.mark.parametrize("top_level_only", [True, False], ids=["at import", "anywhere"])
def test_stages_import_only_the_stages_below_them(top_level_only):
    """The arrows between `experiments/`'s folders point one way, even through an import
    inside a function."""
    known = modules()
    upward = sorted(f"{name} -> {other}" for name, path in known.items() if stage(name) is not None
                    for other in imports(path, known, top_level_only)
                    if stage(other) is not None and stage(other) > stage(name))
    assert not upward, upward


def test_a_stage_package_imports_nothing_when_imported():
    """`from experiments.engine import startup` must not import the rest of the engine (nor
    TensorFlow) before `startup` quiets it: the stages' `__init__.py` hold only their docstring."""
    for name in STAGES:
        tree = ast.parse((ROOT / "experiments" / name / "__init__.py").read_text())
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr), name
