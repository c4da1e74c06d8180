"""report.html in a real browser: headless Chromium loads it with no console errors, every image
decodes, the tables are there; a screenshot is saved (its path printed, see `pytest -s`).

The page's own script writes what went wrong into ``<body data-errors>`` and the decoded image
count into ``<body data-images>``; Chromium's ``--dump-dom`` shows the DOM after the load event,
and ``--enable-logging=stderr`` its console messages. Skipped when no Chromium is installed
(Debian: ``apt-get install -y chromium``; CI installs it)."""

import re
import shutil
import subprocess

import pytest

from ganbench.builtins import register_builtins
from ganbench.report import write_outputs
from ganbench.results import ResultsStore
from report_records import write_folder

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium installed (apt-get install -y chromium)")


def chromium(page, profile, *arguments):
    """Run headless Chromium on ``page``; (stdout, stderr)."""
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *arguments, page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def console_errors(stderr):
    """Console messages, uncaught errors and blocked loads in Chromium's log."""
    return [line for line in stderr.splitlines() if re.search(r"CONSOLE|Uncaught|Refused to|Not allowed to load", line)]


def check_page(page, profile):
    """(the body's attributes, the page's errors) after Chromium loaded ``page``."""
    dom, stderr = chromium(page, profile, "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body))
    return attributes, dom, console_errors(stderr)


def check_report(root, tmp_path, name):
    page = root / "report.html"
    attributes, dom, errors = check_page(page, tmp_path / "profile")
    assert attributes.get("data-js") == "on", "the page's script did not run"
    assert "data-errors" not in attributes, attributes["data-errors"]
    assert errors == []
    decoded, total = map(int, attributes["data-images"].split("/"))
    assert decoded == total > 0
    assert dom.count('<table class="sortable">') >= 1
    screenshot = tmp_path / f"report-{name}.png"
    chromium(page, tmp_path / "profile", "--window-size=1366,3000", "--hide-scrollbars", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of {page}: {screenshot}")
    return screenshot


def test_report_loads_in_chromium_without_errors(tmp_path):
    register_builtins()
    write_folder(tmp_path / "out")
    write_outputs(ResultsStore(tmp_path / "out"))
    check_report(tmp_path / "out", tmp_path, "fixed")


def test_a_toy_run_report_loads_in_chromium(tmp_path):
    from ganbench.cli import main

    assert main(["run", "--budget", "smoke", "--seeds", "2", "--datasets", "ring8", "--out", str(tmp_path / "toy"),
                 "--no-progress"]) == 0
    check_report(tmp_path / "toy", tmp_path, "toy")


def test_the_check_catches_a_broken_image_and_a_script_error(tmp_path):
    register_builtins()
    write_folder(tmp_path / "out")
    write_outputs(ResultsStore(tmp_path / "out"))
    page = (tmp_path / "out" / "report.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(page.replace("data:image/png;base64,iVBOR", "data:image/png;base64,AAAA", 1)
                      .replace("</body>", "<script>undefinedFunction()</script></body>"))
    attributes, _, errors = check_page(broken, tmp_path / "profile")
    assert "image not decoded" in attributes["data-errors"]
    assert "blocked" in attributes["data-errors"]  # the injected script, refused by the page's policy
    decoded, total = map(int, attributes["data-images"].split("/"))
    assert decoded == total - 1
    assert errors  # and Chromium logged it
