"""The docs' settings tables are the code's: every ``<!-- settings:NAME -->`` block of README.md and
docs/*.md equals what ``tools.docs_tables`` generates from the ``Setting`` schemas now."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tools import docs_tables

# The schema objects the code uses (changed in place by the tests below, restored by monkeypatch).
VARIANT_SETTINGS, EVALUATION_SETTINGS, STYLE_SETTINGS = docs_tables.schemas()

BLOCKS = {"gan": "commands.md", "eval": "metrics.md", "style": "style.md", "fc": "suites.md",
          "dcgan": "suites.md", "progan": "suites.md", "msggan": "suites.md"}


def test_every_settings_table_in_the_docs_equals_the_code():
    assert docs_tables.stale() == [], "run `python -m tools.docs_tables --write`"


@pytest.mark.parametrize("name, doc", sorted(BLOCKS.items()))
def test_each_schema_has_its_generated_table(name, doc):
    assert f"<!-- settings:{name} -->\n{docs_tables.table(name)}\n<!-- /settings -->" in (
        docs_tables.ROOT / "docs" / doc).read_text()


def _docs_copy(tmp_path: Path) -> Path:
    shutil.copytree(docs_tables.ROOT / "docs", tmp_path / "docs")
    shutil.copy(docs_tables.ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def _change(monkeypatch, schema: dict, key: str, **change) -> None:
    monkeypatch.setitem(schema, key, dataclasses.replace(schema[key], **change))


def test_a_changed_default_or_help_text_makes_the_check_fail_and_write_fixes_it(monkeypatch, tmp_path):
    root = _docs_copy(tmp_path)
    assert docs_tables.stale(root) == []
    _change(monkeypatch, EVALUATION_SETTINGS, "samples", default=2501)
    _change(monkeypatch, STYLE_SETTINGS, "tv_weight", help="a changed help text")
    assert docs_tables.stale(root) == [root / "docs" / "metrics.md", root / "docs" / "style.md"]
    assert docs_tables.main(["--check", "--root", str(root)]) == 1

    assert docs_tables.main(["--write", "--root", str(root)]) == 0
    assert docs_tables.stale(root) == []
    assert "| `samples` | `2501` |" in (root / "docs" / "metrics.md").read_text()
    assert "| `tv_weight` | `0` | number ≥ 0 | a changed help text |" in (root / "docs" / "style.md").read_text()


def test_a_changed_variant_default_reaches_the_shared_and_the_variant_table(monkeypatch, tmp_path):
    root = _docs_copy(tmp_path)
    schema = VARIANT_SETTINGS["dcgan"]
    _change(monkeypatch, schema, "g_width", default=48)
    _change(monkeypatch, schema, "lr_d", default=1e-4)
    assert docs_tables.stale(root) == [root / "docs" / "commands.md", root / "docs" / "suites.md"]
    assert "| `g_width` | `48` |" in docs_tables.table("dcgan")
    assert "| `lr_d` | `0.0001` | `0.0001` | `0.001` |" in docs_tables.table("gan")


def test_a_hand_edited_table_is_stale(tmp_path):
    root = _docs_copy(tmp_path)
    metrics = root / "docs" / "metrics.md"
    metrics.write_text(metrics.read_text().replace("| `pr_k` | `3` |", "| `pr_k` | `4` |"))
    assert docs_tables.stale(root) == [metrics]


def test_accepted_values_state_kind_bounds_choices_and_none():
    rows = {line.split(" | ")[0]: line for line in docs_tables.table("gan").splitlines()}
    assert rows["| `beta1`"].endswith("| number in [0, 0.9999] | Adam beta1 of both optimisers |")
    assert "| `ns`, `hinge`, `wgan-gp`, `rahinge`, or a plugin's |" in rows["| `loss`"]
    assert "| `1e6` | `1e6` | `1e6` | `1e6` | number > 0 or `none` |" in rows["| `diverge_above`"]
    assert "| `400,400,400,400` | integers, comma-separated |" in docs_tables.table("fc")
    assert "| `none` | numbers ≥ 0, comma-separated or `none` |" in docs_tables.table("style")


@pytest.mark.parametrize("text, message", [
    ("<!-- settings:eval -->\n| old |\n", "is not closed"),
    ("<!-- settings:eval -->\n<!-- settings:style -->\n<!-- /settings -->\n", "is not closed"),
    ("text\n<!-- /settings -->\n", "without a <!-- settings:NAME -->"),
    ("<!-- settings:nope -->\n<!-- /settings -->\n", "no settings table 'nope'; known: gan, eval, style, fc"),
])
def test_malformed_blocks_are_errors_naming_the_line(text, message):
    with pytest.raises(ValueError, match=message) as error:
        docs_tables.render(text, "doc.md")
    assert str(error.value).startswith("doc.md:")


def test_markers_inside_a_code_fence_are_text():
    text = "```markdown\n<!-- settings:eval -->\n(generated table)\n<!-- /settings -->\n```\n"
    assert docs_tables.render(text) == text
