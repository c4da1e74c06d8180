"""The code is ruff-clean under the rules pyproject.toml configures (line length 120, pycodestyle,
pyflakes, blind except, pickle loads, unused noqa), so `noqa` marks are read by a linter."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
