"""Citable results: a digest of a result set, `ganbench cite DIR`, CITATION.cff's preferred citation."""

import copy
import json
import re
from pathlib import Path

from ganbench.citation import canonical_records, citation_text, result_citation, result_digest
from ganbench.cli import main
from report_records import write_folder

ROOT = Path(__file__).resolve().parent.parent


def test_digest_is_of_the_records_not_their_order_or_formatting(tmp_path):
    records = write_folder(tmp_path)
    digest = result_digest(records)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert result_digest(list(reversed(records))) == digest
    reordered = [json.loads(json.dumps(r, indent=2)) for r in records]  # other key order and whitespace
    assert result_digest(reordered) == digest
    changed = copy.deepcopy(records)
    changed[3]["metrics"]["fid"] += 1e-9
    assert result_digest(changed) != digest
    assert result_digest(records[:-1]) != digest
    assert canonical_records(records).count(b"\n") == len(records)


def test_cite_dir_prints_bibtex_for_the_result(tmp_path, capsys):
    records = write_folder(tmp_path)
    assert main(["cite", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out == result_citation(records)
    entry = out.split("\n\n")[0]
    assert entry.startswith("@misc{ganbench-mnist-smoke-")
    for field in ("version      = {0.1.0}", "commit       = {0123456789abcdef0123456789abcdef01234567}",
                  f"digest       = {{{result_digest(records)}}}", "date         = {2026-11-30}",
                  "suite        = {mnist}", "budget       = {smoke}", "machine      = {Test CPU}",
                  "crossref     = {ganbench}"):
        assert field in entry, field
    assert entry.count("{") == entry.count("}")
    assert out.endswith(citation_text())  # the software entry it cross-refers to


def test_cite_without_dir_cites_the_software(capsys):
    assert main(["cite"]) == 0
    assert capsys.readouterr().out == citation_text()


def test_cite_of_a_folder_without_records_is_one_error_line(tmp_path, capsys):
    assert main(["cite", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ganbench: error: ") and "records.jsonl does not exist" in err
    (tmp_path / "records.jsonl").write_text("")
    assert main(["cite", str(tmp_path)]) == 2
    assert "holds no runs" in capsys.readouterr().err


def test_citation_cff_has_a_preferred_citation():
    text = (ROOT / "CITATION.cff").read_text()
    assert "\npreferred-citation:\n" in text
    block = text.split("preferred-citation:\n")[1]
    assert "  type: software" in block and "ganbench cite DIR" in block
    assert re.search(r"^version: (\S+)", text, re.M).group(1) == re.search(r"  version: (\S+)", block).group(1)
