"""ganbench: train and evaluate GAN variants and neural style transfer, reproducibly.

Data flows one way: suite -> runs -> Ignite engines -> evaluators -> records -> tables/plots/report.

The Python API (:mod:`ganbench.api`, docs/api.md) is imported on first use, so that ``import
ganbench`` does not import torch: :func:`run`, :func:`evaluate`, :func:`load_records`,
:func:`write_report`, :class:`Variant`, :func:`register_variant`, :func:`load_plugin` and the exception
they raise, :class:`UserError`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["UserError", "Variant", "__version__", "evaluate", "load_plugin", "load_records", "register_variant",
           "run", "write_report"]


def __getattr__(name: str) -> Any:
    """The API's names, imported from :mod:`ganbench.api` when first asked for."""
    if name in __all__:
        value = getattr(importlib.import_module("ganbench.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
