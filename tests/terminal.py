"""Run a command as a user does in a terminal: under a pseudo-terminal with a real window size."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Sequence
from pathlib import Path

ROWS, COLUMNS = 24, 100


def run_in_terminal(arguments: Sequence[str], cwd: Path, timeout: float = 600.0,
                    env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``python -m ganbench ARGUMENTS`` with stdin, stdout and stderr on one pty of 24x100
    characters (a pty starts at 0x0, where tqdm draws nothing); returns the exit status and
    everything the terminal received."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    environment = {**os.environ, "TERM": "xterm-256color", **(env or {})}
    environment.pop("CI", None)
    process = subprocess.Popen([sys.executable, "-m", "ganbench", *arguments], stdin=slave, stdout=slave,
                               stderr=slave, cwd=cwd, env=environment, close_fds=True)
    os.close(slave)
    received = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                process.kill()
                raise TimeoutError(f"ganbench {' '.join(arguments)} printed nothing for {timeout} s")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(master)
    return process.wait(timeout=timeout), received.decode("utf-8", errors="replace")
