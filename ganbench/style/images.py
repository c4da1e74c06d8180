"""Content and style images: named scikit-image photos or files, square-cropped to the run's size.

A content or style entry on the command line is a file, a folder (every image in it, sorted) or the
name of a photo bundled with scikit-image (``astronaut``, ``chelsea``, ``coffee``, ``rocket``).
The suite's default content images are ``astronaut``, ``chelsea`` and ``coffee``; its default style
images are the paintings of Gatys et al. 2016 found by name in ``<data root>/style/``
(``--data-root``, ``$GANBENCH_DATA``): ``starry_night``, ``the_scream`` and ``shipwreck``.

An image is identified by its name (the file stem) and the SHA-256 of its pixels, so a run id
changes when the picture does, not when its folder moves.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.data import DataOptions
from ganbench.data.folder import IMAGE_SUFFIXES, open_rgb, square_rgb
from ganbench.data.images import data_root
from ganbench.errors import UserError
from ganbench.results import atomic_write_bytes
from ganbench.style import DEFAULT_STYLE

SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
STYLE_FOLDER = "style"


@dataclass(frozen=True)
class StyleImage:
    """A content or style image: ``name`` (file stem or photo name), ``source`` (a path, or
    ``skimage``) and the SHA-256 of its RGB pixels at full size."""

    name: str
    source: str
    sha256: str

    def pixels(self, size: int) -> torch.Tensor:
        """The image center-cropped to a square and resized (bicubic): float (1, 3, size, size) in [0, 1]."""
        return square_rgb(_picture(self.source, self.name), size).unsqueeze(0).float().div_(255).contiguous()

    def describe(self) -> dict[str, Any]:
        width, height = _picture(self.source, self.name).size
        return {"name": self.name, "source": self.source, "sha256": self.sha256, "width": width, "height": height}


@lru_cache(maxsize=16)
def _picture(source: str, name: str) -> Any:
    from PIL import Image

    if source == "skimage":
        import skimage.data

        array = getattr(skimage.data, name)()
        return Image.fromarray(array if array.ndim == 3 else np.stack([array] * 3, axis=-1))
    return open_rgb(Path(source), "give another image")


def _identified(name: str, source: str) -> StyleImage:
    picture = _picture(source, name)
    return StyleImage(name, source, hashlib.sha256(np.asarray(picture).tobytes()).hexdigest())


def resolve_images(entries: Sequence[Path | str], option: str) -> list[StyleImage]:
    """Files, folders and scikit-image photo names as images; ``option`` names the flag in errors."""
    images = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not files:
                raise UserError(f"{option} {path}: no images ({', '.join(IMAGE_SUFFIXES)}) in that folder")
            images += [_identified(file.stem, str(file.resolve())) for file in files]
        elif path.is_file():
            images.append(_identified(path.stem, str(path.resolve())))
        elif str(entry) in SKIMAGE_PHOTOS:
            images.append(_identified(str(entry), "skimage"))
        else:
            raise UserError(f"{option} {entry}: no such file or folder, and not a scikit-image photo "
                            f"({', '.join(SKIMAGE_PHOTOS)})")
    names = [image.name for image in images]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UserError(f"{option}: two different images are named {repeated[0]!r}; give each image a distinct name")
    return images


def default_style_images(options: DataOptions) -> list[StyleImage]:
    """The paintings of :data:`DEFAULT_STYLE` in ``<data root>/style/``; one ``UserError`` line when absent."""
    folder = data_root(options) / STYLE_FOLDER
    found = {p.stem: p for p in sorted(folder.glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES} \
        if folder.is_dir() else {}
    missing = [name for name in DEFAULT_STYLE if name not in found]
    if missing:
        raise UserError(f"default style image {missing[0]} not found in {folder}; pass --style PATH... (image files "
                        f"or folders), or put {', '.join(DEFAULT_STYLE)} (.jpg/.png) there, or use --data-root DIR")
    return resolve_images([found[name] for name in DEFAULT_STYLE], "--style")


def encode_png(image: torch.Tensor, text: Mapping[str, str]) -> bytes:
    """PNG bytes of an image (1, 3, H, W) or (3, H, W) in [0, 1], with ``text`` as tEXt metadata."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    array = image.detach().reshape(3, *image.shape[-2:]).clamp(0, 1).mul(255).round().byte()
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.fromarray(array.permute(1, 2, 0).cpu().numpy()).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_png(path: Path, image: torch.Tensor, text: Mapping[str, str]) -> Path:
    """Write :func:`encode_png` to ``path`` atomically; returns ``path``."""
    atomic_write_bytes(path, encode_png(image, text))
    return path
