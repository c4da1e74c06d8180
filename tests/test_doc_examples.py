"""The Python examples of README.md and docs/api.md run as written.

Each file's ```` ```python ```` blocks run in order in one namespace, in an empty folder, with
``$GANBENCH_DATA`` the real data folder. A block whose first line is a comment naming a Python
file (``# mygan.py``) is that file: it is written into the folder (and compiled), for later blocks
to load. A block marked ```` ```python no-run ```` is not run. The expected count of each kind per
file is fixed here, so that a block cannot silently drop out of the run (a changed info string, a
new kind of fence): adding an example means changing its count.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganbench import api, plugins
from ganbench.gan.model import VARIANTS

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_BLOCK = re.compile(r"# ([\w-]+\.py)\n")
# (blocks run, file blocks written, no-run blocks) per document.
EXPECTED = {"README.md": (1, 1, 0), "docs/api.md": (7, 1, 0)}


def python_blocks(text: str) -> list[tuple[str, str]]:
    """Every block of a ```python fence (its info string's words after ``python``, its code);
    blocks of other languages are left out."""
    return [(info.strip()[len("python"):].strip(), code) for info, code in FENCE.findall(text)
            if info.strip().split(" ")[0] == "python"]


def sorted_blocks(document: str) -> tuple[list[str], dict[str, str], list[str]]:
    """The blocks of ``document`` to run, the files (name -> text) and the no-run blocks."""
    run, files, skipped = [], {}, []
    for marks, code in python_blocks((ROOT / document).read_text()):
        assert marks in ("", "no-run"), f"{document}: unknown mark 'python {marks}'; use 'python' or 'python no-run'"
        named = FILE_BLOCK.match(code)
        if marks == "no-run":
            skipped.append(code)
        elif named:
            files[named.group(1)] = code
        else:
            run.append(code)
    return run, files, skipped


def test_the_block_parser_sees_every_kind():
    text = "```python\nx = 1\n```\n\n```python no-run\nboom()\n```\n\n```python\n# f.py\ny = 2\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == [("", "x = 1\n"), ("no-run", "boom()\n"), ("", "# f.py\ny = 2\n")]


@pytest.fixture
def clean_registries():
    """Remove what the examples register (variants, plugins), so later tests see the registries as before."""
    variants, loaded = set(VARIANTS.names()), set(plugins.LOADED)
    specs, local = list(api._PLUGIN_SPECS), set(api._SCRIPT_VARIANTS)
    yield
    for label in set(plugins.LOADED) - loaded:
        plugins.unload(label)
    for name in set(VARIANTS.names()) - variants:
        VARIANTS.remove(name)
    api._PLUGIN_SPECS[:] = specs
    api._SCRIPT_VARIANTS.intersection_update(local)


@pytest.mark.parametrize("document", sorted(EXPECTED))
def test_the_python_examples_run(document, shared_data, tmp_path, monkeypatch, clean_registries):
    run, files, skipped = sorted_blocks(document)
    assert (len(run), len(files), len(skipped)) == EXPECTED[document], \
        f"{document}: blocks (run, files, no-run) changed; update EXPECTED"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GANBENCH_DATA", str(shared_data))
    for name, code in files.items():
        compile(code, name, "exec")
        (tmp_path / name).write_text(code)
    namespace: dict = {"__name__": f"doc_example_{Path(document).stem}"}
    for index, code in enumerate(run):
        exec(compile(code, f"{document} python block {index + 1}", "exec"), namespace)
