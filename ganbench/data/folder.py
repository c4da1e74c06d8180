"""A folder of the user's images as a dataset (``folder:PATH``): every image under it, one class
per sub-folder as torchvision's ImageFolder assigns them, center-cropped to a square and resized;
and the readers of single images the style kind shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ganbench.data import DataOptions
from ganbench.data.images import ImageDataset
from ganbench.errors import UserError, option

if TYPE_CHECKING:
    from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
FOLDER_DEFAULT_SIZE = 64


def _image_files(folder: Path) -> tuple[list[Path], list[int], list[str]]:
    """Files and class indices as torchvision's ImageFolder assigns them (one class per
    sub-folder, sorted); a folder without sub-folders of images is one class."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(_walk_images(p)))
    if not classes:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return files, [0] * len(files), [folder.name]
    files, labels = [], []
    for index, name in enumerate(classes):
        found = sorted(_walk_images(folder / name))
        files += found
        labels += [index] * len(found)
    return files, labels, classes


def _walk_images(folder: Path) -> Sequence[Path]:
    return [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def open_rgb(file: Path, fix: str) -> Image.Image:
    """The image in ``file`` as an RGB PIL image; an unreadable file raises ``UserError`` ending in ``fix``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise UserError(f"cannot read image {file} ({error}); {fix}") from None


def square_rgb(picture: Image.Image, size: int) -> torch.Tensor:
    """An RGB PIL image center-cropped to a square and resized (bicubic) to ``size``: uint8 (3, size, size)."""
    from PIL import Image

    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    picture = picture.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(picture).copy()).permute(2, 0, 1)


def load_folder(path: str, options: DataOptions) -> ImageDataset:
    """Every image under ``path``, center-cropped to a square and resized to ``image_size``
    (default 64), RGB."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UserError(f"image folder {folder} does not exist; give {option('datasets', 'folder:PATH')} with a "
                        "folder of images")
    files, labels, classes = _image_files(folder)
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}; "
                        "put images there or in class sub-folders")
    size = options.image_size or FOLDER_DEFAULT_SIZE
    images = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
    for i, file in enumerate(files):
        images[i] = square_rgb(open_rgb(file, f"remove it from {folder}"), size)
    provenance = {"split": "all", "root": str(folder), "classes_found": classes[:50], "image_size": size,
                  "resize": "center crop, bicubic"}
    return ImageDataset(f"folder:{folder}", images, torch.tensor(labels), len(classes), provenance)
