"""Sample sets made elsewhere, loaded: the ``samples`` inputs of ``ganbench evaluate``.

Inputs (:func:`load_samples`): a folder of PNG/JPEG images (searched recursively, in path order,
every image of one size and channel count), or an ``.npy`` / ``.npz`` array (N, C, H, W) or
(N, H, W, C) (or (N, H, W), grey) of uint8 (or integers in 0..255) or floats in [-1, 1] or
[0, 1]. Layout and value range are detected (``layout``, ``value_range`` declare them) and
recorded. Every input becomes float images (N, C, H, W) in [-1, 1], what a ganbench generator
yields: a float array in [-1, 1] is used as it is, so a run's own generated tensor, exported,
gives that run's fidelity numbers exactly; uint8 images u become u / 127.5 - 1 (the evaluators'
quantisation ``round((x + 1) * 127.5)`` gives u back), floats x in [0, 1] become 2x - 1.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.errors import UserError, option

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LAYOUTS = ("auto", "nchw", "nhwc")
RANGES = ("auto", "tanh", "unit", "uint8")  # [-1, 1], [0, 1], 0..255


@dataclass(frozen=True)
class Samples:
    """One input, loaded: ``images`` float32 (N, C, H, W) in [-1, 1] and how they were read.

    ``source``: the path given; ``sha256``: of the array file, or of the folder's
    ``relative path  sha256`` lines; ``files``: image files read (1 for an array); ``form``:
    ``images`` or ``npy``/``npz``; ``layout``: ``NCHW``, ``NHWC`` or ``NHW``; ``value_range``:
    ``uint8``, ``[-1, 1]`` or ``[0, 1]``; ``dtype``: the stored element type."""

    source: Path
    images: torch.Tensor
    sha256: str
    files: int
    form: str
    layout: str
    value_range: str
    dtype: str

    def card(self, count: int) -> dict[str, Any]:
        """The protocol card of the input, ``count`` of its images evaluated."""
        return {"name": str(self.source), "sha256": self.sha256, "files": self.files, "format": self.form,
                "layout": self.layout, "value_range": self.value_range, "dtype": self.dtype,
                "available": len(self.images), "evaluated": count, "image_shape": list(self.images.shape[1:]),
                "preprocessing": preprocessing(self.value_range)}


def preprocessing(value_range: str) -> str:
    """How images of ``value_range`` become the [-1, 1] floats every evaluator quantises alike."""
    to_float = {"uint8": "u / 127.5 - 1", "[0, 1]": "2x - 1", "[-1, 1]": "as given"}[value_range]
    return (f"{to_float}; then, as for runs, round((x + 1) * 127.5) to uint8 and eval.image_size by the loader's "
            "rule (pad 28 -> 32, else bilinear)")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_samples(path: Path, layout: str = "auto", value_range: str = "auto") -> Samples:
    """The images of ``path`` (a folder of PNG/JPEG, an ``.npy`` or ``.npz`` file), checked;
    ``UserError`` naming the problem and the fix for anything unreadable, empty or out of range."""
    if path.is_dir():
        return _load_folder(path)
    if not path.is_file():
        raise UserError(f"{option('samples', path)}: no such file or folder; give a folder of PNG/JPEG images or an "
                        ".npy/.npz array")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise UserError(f"{option('samples', path)}: not a folder, .npy or .npz file; give one of those")
    data = path.read_bytes()
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        raise UserError(f"{path} cannot be read as a numeric array ({error}); save the samples with numpy.save "
                        "(no pickled objects)") from None
    except OSError as error:
        raise UserError(f"{path} is not a valid {path.suffix} file ({error}); save the samples with numpy.save")
    if isinstance(loaded, np.lib.npyio.NpzFile):
        names = list(loaded.files)
        if len(names) != 1:
            raise UserError(f"{path} holds {len(names)} arrays ({', '.join(names) or 'none'}); save one array of "
                            "samples in it")
        array = loaded[names[0]]
    else:
        array = loaded
    images, order, shown_range = _array_images(path, array, layout, value_range)
    return Samples(path, images, _sha256(data), 1, path.suffix.lower().lstrip("."), order, shown_range,
                   str(array.dtype))


def _array_images(path: Path, array: np.ndarray, layout: str, value_range: str) -> tuple[torch.Tensor, str, str]:
    """(N, C, H, W) float32 images in [-1, 1], the layout and the value range of ``array``."""
    if array.ndim == 3:
        array, order = array[:, None], "NHW"
    elif array.ndim == 4:
        order = layout.upper() if layout != "auto" else (
            "NCHW" if array.shape[1] in (1, 3) else "NHWC" if array.shape[3] in (1, 3) else "")
        if not order:
            raise UserError(f"{path} has shape {tuple(array.shape)}: no axis of 1 or 3 channels at position 1 or 3; "
                            "save (N, C, H, W) or (N, H, W, C) images")
        if order == "NHWC":
            array = array.transpose(0, 3, 1, 2)
        if array.shape[1] not in (1, 3):
            raise UserError(f"{path} read as {order} has {array.shape[1]} channels; images have 1 or 3 "
                            f"(check {option('layout')})")
    else:
        raise UserError(f"{path} has shape {tuple(array.shape)}; save images as (N, C, H, W), (N, H, W, C) "
                        "or (N, H, W)")
    if len(array) == 0:
        raise UserError(f"{path} holds no images; save at least one")
    if array.dtype.kind in "ui":
        low, high = int(array.min()), int(array.max())
        if value_range not in ("auto", "uint8") or low < 0 or high > 255:
            raise UserError(f"{path} holds integers in [{low}, {high}]; integer images must be 0..255 "
                            f"(or save floats in [-1, 1] or [0, 1] with {option('value_range')} to match)")
        return torch.from_numpy(np.ascontiguousarray(array)).float().div_(127.5).sub_(1.0), order, "uint8"
    if array.dtype.kind != "f":
        raise UserError(f"{path} holds {array.dtype} values; save uint8 or float images")
    finite = np.isfinite(array)
    if not finite.all():
        raise UserError(f"{path} holds {int((~finite).sum())} NaN or infinite values; save finite images")
    low, high = float(array.min()), float(array.max())
    shown = value_range if value_range != "auto" else ("tanh" if low < 0 else "unit")
    bounds = {"tanh": (-1.0, 1.0), "unit": (0.0, 1.0), "uint8": (0.0, 255.0)}[shown]
    if low < bounds[0] or high > bounds[1]:
        raise UserError(f"{path} holds values in [{low:g}, {high:g}], outside [{bounds[0]:g}, {bounds[1]:g}]; save "
                        f"floats in [-1, 1] or [0, 1] or uint8 images (or declare {option('value_range')})")
    images = torch.from_numpy(np.ascontiguousarray(array)).float()
    if shown == "unit":
        return images.mul_(2.0).sub_(1.0), order, "[0, 1]"
    if shown == "uint8":
        return images.div_(127.5).sub_(1.0), order, "uint8"
    return images, order, "[-1, 1]"


def _load_folder(folder: Path) -> Samples:
    from PIL import Image

    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{folder} holds no PNG or JPEG images; give a folder of sample images")
    arrays, lines, first = [], [], None
    for path in files:
        data = path.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = image if image.mode in ("L", "RGB") else image.convert("L" if image.mode in ("1", "I;16", "I")
                                                                               else "RGB")
                array = np.asarray(image, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as error:
            raise UserError(f"{path} is not a readable image ({error}); replace or remove it") from None
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        if first is None:
            first = (path, array.shape)
        elif array.shape != first[1]:
            raise UserError(f"{folder} mixes image sizes: {first[0].name} is {_shape_text(first[1])}, {path.name} is "
                            f"{_shape_text(array.shape)}; give images of one size and channel count")
        arrays.append(array)
        lines.append(f"{path.relative_to(folder).as_posix()}  {_sha256(data)}\n")
    images = torch.from_numpy(np.stack(arrays)).float().div_(127.5).sub_(1.0)
    return Samples(folder, images, _sha256("".join(lines).encode()), len(files), "images", "NCHW", "uint8", "uint8")


def _shape_text(shape: Sequence[int]) -> str:
    channels, height, width = shape
    return f"{width}x{height} {'grey' if channels == 1 else 'RGB'}"


class LoadedSamples:
    """An input's images as the evaluators' :class:`~ganbench.metrics.SampleSource`: the first
    ``count`` of them, in order; nothing is generated."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def generated(self, count: int) -> torch.Tensor:
        return self.images[:count]

    def scales(self, count: int) -> dict[int, torch.Tensor]:
        return {self.images.shape[-1]: self.images[:count]}

    def generation_rate(self, count: int) -> float:
        """Not measured: the samples were generated elsewhere."""
        return math.nan

    def parameter_counts(self) -> dict[str, int]:
        return {}
