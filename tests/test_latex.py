"""summary.tex is paper-ready: booktabs, right-aligned numbers, caption and label, constant columns in
the caption, N in every sample-based header, the best bold where significant, units per kind of
data, precision from the uncertainty; and it compiles where pdflatex is installed."""

import re
import shutil
import subprocess

import pytest

from ganbench.builtins import register_builtins
from ganbench.report.comparisons import comparison_tables
from ganbench.report.latex import escape, latex_document
from report_records import FID, gan_record


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    register_builtins()
    root = tmp_path_factory.mktemp("latex")
    records = [gan_record(root, variant, seed, fid) for variant, fids in FID.items() for seed, fid in enumerate(fids)]
    return comparison_tables(records)


def environments(text):
    return re.findall(r"\\begin\{table\}.*?\\end\{table\}", text, flags=re.S)


def rows(table):
    body = table.split("\\midrule\n")[1].split("\\bottomrule")[0]
    return [line.removesuffix(r" \\").split(" & ") for line in body.strip().splitlines()]


def test_booktabs_structure_caption_label_and_right_aligned_numbers(tables):
    text = latex_document(tables)
    found = environments(text)
    assert len(found) == 2  # quality and speed
    for table in found:
        assert "\\hline" not in table and "|" not in table.split("\\begin{tabular}")[1].split("}")[0]
        order = [table.index(rule) for rule in ("\\caption{", "\\label{tab:", "\\toprule", "\\midrule", "\\bottomrule")]
        assert order == sorted(order)
        spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", table).group(1)
        header = table.split("\\toprule\n")[1].split("\\midrule")[0]
        assert spec == "l" + "r" * (len(spec) - 1)  # the label column left, every number right
        for row in rows(table):
            assert len(row) == len(spec)
        assert header.count(" & ") == len(spec) - 1


def test_constant_columns_move_to_the_caption(tables):
    quality, speed = environments(latex_document(tables))
    caption = re.search(r"\\caption\{(.*)\}\n", quality).group(1)
    assert "suite mnist" in caption and "budget smoke" in caption and "5/5 each" in caption
    header = quality.split("\\toprule\n")[1].split("\\midrule")[0]
    assert header.startswith("variant & \\begin{tabular}") and "suite" not in header and "budget" not in header
    assert "runs" not in header  # 5/5 on every row: said once, in the caption


def test_n_and_units_in_headers_and_precision_from_the_interval(tables):
    quality, speed = environments(latex_document(tables))
    # The header names the backbone and N vs M; the caption the whole protocol.
    assert "FID $\\downarrow$\\\\ lenet, N = 1{,}000 vs M = 2{,}000" in quality
    assert "precision $\\uparrow$\\\\ lenet, N = 1{,}000 vs M = 2{,}000" in quality
    assert "Protocol: budget smoke; fidelity: lenet (weights sha256 abababababab)" in quality
    assert "Units: FID squared feature distance; precision fraction." in quality
    assert "train img/s $\\uparrow$" in speed and "Units" not in speed  # img/s and ms/iter name theirs
    dcgan, fc = rows(quality)
    # dcgan: FID 20.24 ± 0.70 (t, 5 seeds) -> one significant digit of the half-width
    assert dcgan[:2] == ["dcgan", r"\textbf{20.2 $\pm$ 0.7}"]
    assert fc[1] == "61 $\\pm$ 3"


def test_best_is_bold_only_where_significant(tables):
    quality, speed = environments(latex_document(tables))
    assert quality.count("\\textbf{") == 1 + quality.count("\\textbf{Bold}")  # FID only
    dcgan, fc = rows(quality)
    # fc's precision is higher by 0.002, well inside the seeds' spread: not significantly best
    assert fc[2] == "0.52 $\\pm$ 0.02" and dcgan[2] == "0.52 $\\pm$ 0.02"
    assert "\\textbf{Bold}: significantly best on a headline metric (FID, precision)" in quality
    assert "no difference can be significant" not in quality  # 5 seeds a side, 2 rows: 2/252 can be reached
    assert "\\textbf{" not in speed  # no headline metric among the speeds: nothing compared


def test_points_per_second_for_2d_data(tmp_path):
    register_builtins()
    records = []
    for seed in range(2):
        record = gan_record(tmp_path, "fc", seed, 1.0)
        record["dataset"] = "ring8"
        record["provenance"]["data"] = {"kind": "points", "name": "ring8"}
        record["metrics"] = {"modes_covered": 8.0 - seed, "coverage_samples": 2500}
        records.append(record)
    text = latex_document(comparison_tables(records))
    assert "train points/s" in text and "img/s" not in text and "images" not in text
    assert "modes $\\uparrow$\\\\ N = 2{,}500" in text


def test_escape():
    assert escape("fc_ring8 100% <b>&") == r"fc\_ring8 100\% \textless{}b\textgreater{}\&"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (texlive-latex-base)")
def test_summary_tex_compiles(tables, tmp_path):
    (tmp_path / "summary.tex").write_text(latex_document(tables))
    (tmp_path / "paper.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                        "\\input{summary.tex}\n\\end{document}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
