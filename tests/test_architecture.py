"""The layers of ganbench, drawn from its imports: no import circle, and the shared layer (runs,
handlers, results, data, metrics, report, ...) never imports a kind (``ganbench.gan``,
``ganbench.style``); the kinds never import each other; only ``builtins`` registers."""

import ast
from pathlib import Path

import ganbench

PACKAGE = Path(ganbench.__file__).parent
KINDS = ("ganbench.gan", "ganbench.style")
TOP = ("ganbench.builtins", "ganbench.cli", "ganbench.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every ganbench module and the ganbench modules it imports, at any depth of its code."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganbench"):
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if candidate in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.startswith("ganbench"))
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def test_no_import_circle():
    graph = imports()
    # A module's import of a package runs the package's __init__ too.
    for name in list(graph):
        for target in list(graph[name]):
            parts = target.split(".")
            graph[name].update(".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) in graph)
        graph[name].discard(name)
    visiting, done, circles = set(), set(), []

    def visit(node, path):
        visiting.add(node)
        for target in sorted(graph[node]):
            if target in visiting and not in_layer(node, target):  # a package's own modules may import it
                circles.append(path[path.index(target):] + [target] if target in path else [node, target])
            elif target not in done and target not in visiting:
                visit(target, path + [target])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])
    assert not circles, f"import circles: {circles}"


def test_shared_layer_imports_no_kind_and_kinds_not_each_other():
    wrong = []
    for module, targets in imports().items():
        if any(in_layer(module, top) for top in TOP):
            continue
        own = next((kind for kind in KINDS if in_layer(module, kind)), None)
        for target in targets:
            if any(in_layer(target, top) for top in TOP):
                wrong.append((module, target))
            for kind in KINDS:
                if in_layer(target, kind) and kind != own:
                    wrong.append((module, target))
    assert not wrong, f"imports against the layers: {wrong}"


def test_only_builtins_registers():
    """No module but builtins fills a registry when imported (a call at module level)."""
    registering = []
    for path in PACKAGE.rglob("*.py"):
        if module_name(path) == "ganbench.builtins":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                function = node.value.func
                name = getattr(function, "attr", getattr(function, "id", ""))
                if name in ("add", "register_dataset", "register_feature_extractor") or name.startswith("register"):
                    registering.append(f"{module_name(path)}: {ast.unparse(node)[:60]}")
    assert not registering, registering


def command_line_flags() -> set[str]:
    """Every ``--flag`` of every command, the registered kinds' options included."""
    import argparse

    from ganbench.builtins import register_builtins
    from ganbench.cli import build_parser

    register_builtins()
    flags: set[str] = set()
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            flags.update(flag for flag in action.option_strings if flag.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return flags


def test_shared_layer_names_options_not_flags():
    """Messages, help texts and docstrings of the shared layer name options (``nproc_per_node``,
    through ``ganbench.errors.option``), never a front end's spelling (``--nproc-per-node``):
    the command line renders the names as flags, the Python API as keywords."""
    import re

    flags = command_line_flags()
    assert {"--nproc-per-node", "--datasets", "--vgg-weights", "--held-out"} <= flags
    pattern = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if any(in_layer(module, layer) for layer in (*KINDS, *TOP)):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [f"{module}:{node.lineno} {flag}" for flag in pattern.findall(node.value) if flag in flags]
    assert not found, f"flags in the shared layer: {found}"
