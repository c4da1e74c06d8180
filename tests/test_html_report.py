"""report.html: self-contained, escaped, with the comparisons, protocol cards and the cite block
that `ganbench cite DIR` prints."""

import base64
import hashlib
import html
import re

import pytest

from ganbench.builtins import register_builtins
from ganbench.citation import result_citation
from ganbench.cli import main
from ganbench.report import write_outputs
from ganbench.results import ResultsStore
from report_records import MARKUP, write_folder


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    register_builtins()
    root = tmp_path_factory.mktemp("report")
    records = write_folder(root)
    written = write_outputs(ResultsStore(root))
    return root, records, written, (root / "report.html").read_text(encoding="utf-8")


def test_report_html_is_written_beside_report_md(report):
    root, _, written, _ = report
    assert root / "report.html" in written and root / "report.md" in written


def test_markup_in_names_shows_as_text_and_runs_nothing(report):
    _, _, _, page = report
    assert MARKUP not in page
    assert html.escape(MARKUP) in page  # the dataset name, shown as text
    assert page.count("<script") == 1  # only the page's own sorting script
    assert "alert(1)" not in page.split("<script>")[1].split("</script>")[0]


def test_page_is_self_contained(report):
    root, _, _, page = report
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    script = page.split("<script>")[1].split("</script>")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'" in page
    # every figure written to plots/ is in the page, as its bytes
    for png in (root / "plots").glob("*.png"):
        assert base64.b64encode(png.read_bytes()).decode() in page, png.name


def test_comparison_tables_figures_and_cards(report):
    root, _, _, page = report
    names = {p.name for p in (root / "plots").glob("*.png")}
    assert {"compare_gan.png", "speed_gan.png", "history_gan.png"} <= names
    assert page.count('<table class="sortable">') >= 2  # the comparison and its significance
    # dcgan's FID (5 seeds, 20.2 ± 0.7) is significantly lower than fc's (61 ± 3): bold
    assert re.search(r'<td class="num best"[^>]*>20\.2 ± 0\.7</td>', page)
    assert "lenet, N = 1,000 vs M = 2,000" in page and "Protocol: budget smoke; fidelity: lenet" in page
    for field in ("fidelity: N (generated samples)", "fidelity: M (reference samples)", "backbone weights sha256",
                  "ab" * 32, "data checksums", "d41d8cd98f00b204e9800998ecf8427e", "torch threads", "numpy",
                  "0123456789abcdef0123456789abcdef01234567", "split"):
        assert html.escape(field) in page, field


def test_cite_block_is_what_ganbench_cite_prints(report, capsys):
    root, records, _, page = report
    block = html.unescape(page.split('<pre id="citation">')[1].split("</pre>")[0])
    assert main(["cite", str(root)]) == 0
    printed = capsys.readouterr().out
    assert block == printed == result_citation(records)
    assert "```bibtex\n" + printed.strip() + "\n```" in (root / "report.md").read_text()
