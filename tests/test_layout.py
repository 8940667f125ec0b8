"""The house rules of the code's layout, read from the source with `ast` (nothing is imported).

The module graph counts every import of a project module (voicebot, asr, nlu, tts): at the top,
inside functions, and `importlib.import_module("...")` with a literal name. `from pkg import name`
is an edge to pkg/name.py when that module exists, else to the package itself.
"""
from __future__ import annotations

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("voicebot", "asr", "nlu", "tts")
ENGINES = ("asr", "nlu", "tts")  # in order: each may import only those before it
MAX_LINES = 450
LONG_ALLOWED = {"nlu/data/generate.py"}  # generated-data tables, not code to read


def _modules() -> dict[str, Path]:
    """Dotted name -> file, for every .py under the project's packages."""
    out = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _package_of(name: str) -> str:
    """The package a module's relative imports start from."""
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _resolve(name: str) -> str | None:
    """The project module that importing `name` runs last: `name` itself or its nearest parent."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(name: str, tree: ast.Module):
    """(module, line, inside a function) for each project import in one module's tree, once each."""
    def visit(node, in_function):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, in_function
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(name).split(".")
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno, in_function
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.args[0].value, node.lineno, in_function
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    found = []
    for target, line, in_function in visit(tree, False):
        module = _resolve(target) if target.split(".")[0] in PACKAGES else None
        if module is not None and (module, line, in_function) not in found:
            found.append((module, line, in_function))
    return found


def _runs(importer: str, target: str) -> list[str]:
    """What importing `target` from `importer` may run: the module, and each of its parent packages'
    __init__ that is not already a parent of the importer (Python runs `a/b/__init__.py` before
    `a/b/c.py`, so a circle can pass through a package's __init__)."""
    mine = set(itertools.accumulate(importer.split("."), lambda a, b: f"{a}.{b}"))
    parents = itertools.accumulate(target.split(".")[:-1], lambda a, b: f"{a}.{b}")
    return [target] + [p for p in parents if p in MODULES and p not in mine]


TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}
EDGES = {name: _imports(name, tree) for name, tree in TREES.items()}


def _cycles() -> list[list[str]]:
    """One cycle (first module repeated last) through each strongly connected part of the graph
    that has more than one module or a module importing itself (Tarjan's algorithm)."""
    graph = {name: sorted({p for target, _, _ in edges for p in _runs(name, target)}) for name, edges in EDGES.items()}
    index, low, stack, on_stack, parts = {}, {}, [], set(), []

    def connect(v):  # recursive: the graph is only a few hundred modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = set()
            while v not in part:
                part.add(stack.pop())
            on_stack.difference_update(part)
            if len(part) > 1 or v in graph[v]:
                parts.append(part)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_shortest_cycle(graph, part) for part in parts]


def _shortest_cycle(graph: dict[str, list[str]], part: set[str]) -> list[str]:
    """The shortest way from the part's first module back to itself, inside the part (breadth first)."""
    start = min(part)
    came_from, frontier = {}, [start]
    while frontier:
        following = []
        for v in frontier:
            for w in graph[v]:
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if w in part and w not in came_from:
                    came_from[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle in {part}")


def _describe(cycle: list[str]) -> str:
    steps = []
    for a, b in itertools.pairwise(cycle):
        line = next((ln for t, ln, _ in EDGES[a] if t == b), "?")
        steps.append(f"{_rel(MODULES[a])}:{line} -> {b}")
    return "\n    ".join(steps)


def test_no_import_cycle():
    cycles = _cycles()
    assert not cycles, "import cycles (each line: file:line of the import -> module imported):\n  " + \
        "\n  ".join(_describe(c) for c in cycles)


def test_engines_import_nothing_from_the_app():
    wrong = [f"{_rel(MODULES[name])}:{line} imports {target}"
             for name, edges in EDGES.items() if name.split(".")[0] in ENGINES
             for target, line, _ in edges if target.split(".")[0] == "voicebot"]
    assert not wrong, "engines importing voicebot:\n  " + "\n  ".join(wrong)


def test_engines_keep_their_order():
    """asr <- nlu <- tts: an engine imports only itself and the engines before it."""
    wrong = []
    for name, edges in EDGES.items():
        top = name.split(".")[0]
        if top in ENGINES:
            allowed = ENGINES[:ENGINES.index(top) + 1]
            wrong += [f"{_rel(MODULES[name])}:{line} imports {target}" for target, line, _ in edges
                      if target.split(".")[0] in ENGINES and target.split(".")[0] not in allowed]
    assert not wrong, "engine imports against asr <- nlu <- tts:\n  " + "\n  ".join(wrong)


def test_modules_are_short():
    long = [f"{_rel(path)}: {n} lines" for path in MODULES.values()
            if _rel(path) not in LONG_ALLOWED and (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(long)


def test_packages_say_what_they_are():
    bare = [_rel(path) for name, path in MODULES.items()
            if path.name == "__init__.py" and not ast.get_docstring(TREES[name])]
    assert not bare, "packages without a docstring:\n  " + "\n  ".join(bare)


def test_project_imports_at_the_top():
    """Only heavy third-party packages are imported inside functions, never the project's own."""
    lazy = [f"{_rel(MODULES[name])}:{line} imports {target}"
            for name, edges in EDGES.items() for target, line, in_function in edges if in_function]
    assert not lazy, "project imports inside functions:\n  " + "\n  ".join(lazy)


def test_rooms_import_one_way():
    """voicebot's rooms (live, phone, serve, archive, bench, privacy, cli, and the top-level
    modules as one) form layers: no two rooms import each other, directly or round a circle."""
    def room(name):
        parts = name.split(".")
        if parts[0] != "voicebot":
            return None
        if name == "voicebot.__main__":
            return "voicebot.cli"  # `python -m voicebot` is the command
        sub = ".".join(parts[:2])
        return sub if sub in MODULES and MODULES[sub].name == "__init__.py" else "voicebot"

    graph: dict[str, set[str]] = {}
    for name, edges in EDGES.items():
        a = room(name)
        for target, _, _ in edges:
            b = room(target)
            if a and b and a != b:
                graph.setdefault(a, set()).add(b)
    circles = []
    for a in sorted(graph):  # a path back to a from each of its neighbours (depth-first)
        for b in sorted(graph[a]):
            seen, todo = set(), [[b]]
            while todo:
                path = todo.pop()
                if path[-1] == a:
                    circles.append(" -> ".join([a] + path))
                    break
                for c in sorted(graph.get(path[-1], ())):
                    if c not in seen:
                        seen.add(c)
                        todo.append(path + [c])
    assert not circles, "rooms that import each other:\n  " + "\n  ".join(circles)
