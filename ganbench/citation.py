"""How to cite ganbench (BibTeX), printed by ``ganbench cite`` and appended to every report."""

from __future__ import annotations

import ganbench


def citation_text() -> str:
    return f"""@software{{ganbench,
  title   = {{ganbench: a reproducible GAN and neural style-transfer benchmark}},
  author  = {{{{The ganbench developers}}}},
  year    = {{2026}},
  version = {{{ganbench.__version__}}},
  note    = {{Built on pytorch-ignite and torch-fidelity}}
}}
"""
