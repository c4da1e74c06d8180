"""Time the dinov2 and clip feature extractors on this CPU with random weights of a given shape:
``python -m tools.time_backbones --shape vits14 --images 300 --threads 1``.

Shapes: ``tiny-dinov2`` and ``tiny-clip`` (the tests' weights), ``vits14`` / ``vitl14`` (DINOv2
ViT-S/14 and ViT-L/14 at their real sizes), ``clip-b32`` / ``clip-l14-336`` (CLIP ViT-B/32 and
ViT-L/14@336px). The weights are random (the time does not depend on their values), written to a
temporary file and loaded as ``ganbench run`` loads them; the images are random uint8 RGB 32x32
(the canonical size), fed through torch-fidelity's extraction loop in batches of ``--batch``
with ``eval.resize`` = ``--resize``. Prints one line: shape, features, images, load seconds,
extraction seconds and images/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch_fidelity.utils import get_featuresdict_from_dataset

from ganbench.metrics.fidelity_inputs import FidelityInput
from ganbench.metrics.vit import random_dinov2_state
from ganbench.metrics.vit_backbones import ClipFeatureExtractor, DinoV2FeatureExtractor, write_random_clip

# shape -> (backbone, parameters of the random weights)
SHAPES = {
    "tiny-dinov2": ("dinov2", {"width": 32, "depth": 2}),
    "vits14": ("dinov2", {"width": 384, "depth": 12}),
    "vitl14": ("dinov2", {"width": 1024, "depth": 24}),
    "tiny-clip": ("clip", {}),
    "clip-b32": ("clip", {"width": 768, "layers": 12, "patch": 32, "resolution": 224, "embed_dim": 512}),
    "clip-l14-336": ("clip", {"width": 1024, "layers": 24, "patch": 14, "resolution": 336, "embed_dim": 768}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), required=True)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resize", default="tf1")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backbone, shape = SHAPES[args.shape]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weights"
        if backbone == "dinov2":
            torch.save(random_dinov2_state(**shape), path)
        else:
            write_random_clip(path, **shape)
        started = time.perf_counter()
        cls = DinoV2FeatureExtractor if backbone == "dinov2" else ClipFeatureExtractor
        extractor = cls(f"ganbench-{backbone}", [backbone], feature_extractor_weights_path=str(path),
                        ganbench_resize=args.resize)
        loaded = time.perf_counter() - started
    images = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    started = time.perf_counter()
    features = get_featuresdict_from_dataset(FidelityInput(images, True), extractor, args.batch, False, True, False)
    seconds = time.perf_counter() - started
    print(f"{args.shape}: {tuple(features[backbone].shape)} features, {args.images} images, batch {args.batch}, "
          f"{args.threads} thread(s), resize {args.resize}: load {loaded:.2f} s, extraction {seconds:.2f} s, "
          f"{args.images / seconds:.1f} images/s")


if __name__ == "__main__":
    main()
