"""The layers of ganbench, drawn from its imports: no import circle, and the shared layer (runs,
handlers, results, data, metrics, report, ...) never imports a kind (``ganbench.gan``,
``ganbench.style``); the kinds never import each other; only ``builtins`` registers. And its
sizes: no module over 400 lines, no function over 60 without a reason in its docstring."""

import ast
from pathlib import Path

import ganbench

PACKAGE = Path(ganbench.__file__).parent
KINDS = ("ganbench.gan", "ganbench.style")
MODULE_LINES = 400  # at most, per module of ganbench/
FUNCTION_LINES = 60  # at most, per function or method (its def line to its last), unless it says why
LONG_REASON = "Long because"
TOP = ("ganbench.builtins", "ganbench.plugins", "ganbench.api", "ganbench.cli", "ganbench.__main__")


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


def builtin_entries() -> dict[str, dict[str, tuple[str, set[str]]]]:
    """Every built-in variant, dataset, evaluator and backbone, by registry: {name: (the module that
    defines it, the Python identifiers builtins.py may name it by besides its name)}."""
    from ganbench.builtins import register_builtins
    from ganbench.data import DATASETS
    from ganbench.gan.model import VARIANTS
    from ganbench.metrics import EVALUATORS
    from ganbench.metrics.backbones import BACKBONES

    register_builtins()
    return {  # the built-ins: not what a plugin loaded in this process (an installed one) added
        "variant": {name: (variant.build.__module__, set()) for name, variant in VARIANTS.items()
                    if VARIANTS.origin(name) is None},
        "dataset": {name: (factory.__module__, {factory.__name__}) for name, factory in DATASETS.items()
                    if DATASETS.origin(name) is None},
        "evaluator": {name: (type(evaluator).__module__, {type(evaluator).__name__})
                      for name, evaluator in EVALUATORS.items() if EVALUATORS.origin(name) is None},
        "backbone": {name: (backbone.locate.__module__, {backbone.locate.__name__})
                     for name, backbone in BACKBONES.items() if BACKBONES.origin(name) is None},
    }


def mentions_in(node: ast.AST) -> tuple[set[str], set[str]]:
    """The strings and the identifiers (names, attributes) a statement mentions."""
    strings, identifiers = set(), set()
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            strings.add(child.value)
        elif isinstance(child, ast.Name):
            identifiers.add(child.id)
        elif isinstance(child, ast.Attribute):
            identifiers.add(child.attr)
    return strings, identifiers


def test_a_builtin_is_its_module_and_one_line_of_builtins():
    """Adding a variant, dataset, evaluator or backbone is its module and one line of builtins.py:
    builtins.py names each built-in in exactly one statement (imports aside), and no other module
    keeps a table of them -- a dict whose keys are two or more names of one registry, as the GAN
    suites' per-variant budget tables were -- outside the module that defines them (a variant
    declares how it scales with the budgets itself)."""
    entries = builtin_entries()
    tree = ast.parse((PACKAGE / "builtins.py").read_text())
    statements = [node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef))]
    statements += [node for function in tree.body if isinstance(function, ast.FunctionDef) for node in function.body]
    mentions = [mentions_in(statement) for statement in statements]
    wrong = []
    for registry, named in entries.items():
        for name, (_, identifiers) in named.items():
            count = sum(1 for strings, found in mentions if name in strings or found & identifiers)
            if count != 1:
                wrong.append(f"builtins.py names {registry} {name!r} in {count} statements")
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        if module == "ganbench.builtins":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Dict) or len(node.keys) < 2:
                continue
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)]
            for registry, named in entries.items():
                if len(keys) == len(node.keys) and set(keys) <= set(named) and \
                        any(named[key][0] != module for key in keys):
                    wrong.append(f"{module}:{node.lineno} keeps a table of {registry}s {', '.join(keys)}")
    assert not wrong, wrong


def test_metrics_and_report_do_not_import_each_other():
    """Metrics write numbers into records; the report reads records and the column declarations
    (:mod:`ganbench.columns`). The maths both need is in the neutral :mod:`ganbench.stats`."""
    wrong = [(module, target) for module, targets in imports().items() for target in targets
             for a, b in (("ganbench.metrics", "ganbench.report"), ("ganbench.report", "ganbench.metrics"))
             if in_layer(module, a) and in_layer(target, b)]
    assert not wrong, f"imports between metrics and report: {wrong}"


def test_the_report_loads_no_dataset():
    """The report is made from records and run folders alone: neither the shared report nor a
    kind's report module imports the data layer."""
    reports = [module for module in imports() if in_layer(module, "ganbench.report")
               or module in (f"{kind}.report" for kind in KINDS)]
    wrong = [(module, target) for module in reports for target in imports()[module]
             if in_layer(target, "ganbench.data")]
    assert len(reports) > 2 and not wrong, f"report modules importing the data layer: {wrong}"


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


def test_no_module_over_400_lines():
    """Every module of ganbench/ has at most :data:`MODULE_LINES` lines: a longer one mixes
    concerns that read better apart (issue 26)."""
    long = [f"{path.relative_to(PACKAGE.parent)}: {count} lines" for path in sorted(PACKAGE.rglob("*.py"))
            if (count := len(path.read_text().splitlines())) > MODULE_LINES]
    assert not long, f"modules over {MODULE_LINES} lines: {long}"


def test_no_function_over_60_lines_without_a_reason():
    """Every function and method of ganbench/ spans at most :data:`FUNCTION_LINES` lines, from its
    ``def`` to its last line (docstring included), unless its docstring says why it reads better
    long, in a sentence starting "Long because"."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                span = node.end_lineno - node.lineno + 1
                if span > FUNCTION_LINES and LONG_REASON not in (ast.get_docstring(node) or ""):
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {span} lines")
    assert not long, f"functions over {FUNCTION_LINES} lines, no '{LONG_REASON}' in their docstring: {long}"
