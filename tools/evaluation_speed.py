"""Distributed evaluation, timed: generating N samples of a default DCGAN (random weights, MNIST's
32x32 shape) and extracting their LeNet features, in one process and in a group of P gloo
processes, alternated; prints wall seconds, each process's CPU seconds and the features' sha256
(equal in both: the group computes one process's rows).

    PYTHONPATH=. python -m tools.evaluation_speed --samples 10000 --processes 2 --pairs 2
"""

from __future__ import annotations

import argparse
import hashlib
import time

import ignite.distributed as idist
import torch

from ganbench.builtins import register_builtins
from ganbench.execution import data_parallel


class _Shape:
    """What a variant reads of its dataset to build: the sample shape and kind."""

    name, kind, sample_shape = "mnist", "images", (1, 32, 32)


def timed(samples: int, distributed: bool) -> tuple[float, list[float], str]:
    """Wall seconds, CPU seconds per process and sha256 of the features of ``samples`` samples."""
    from ganbench.gan.model import VARIANTS
    from ganbench.gan.sampling import SampleSet
    from ganbench.metrics import EVALUATION_SETTINGS
    from ganbench.metrics.backbones import BACKBONES, WeightsFile, classifier_path
    from ganbench.metrics.classifier import read_metadata
    from ganbench.metrics.fidelity import (
        feature_extractor,
        generated_features_of,
        metric_layers,
        torch_fidelity_options,
    )
    from ganbench.metrics.fidelity_inputs import canonical_images
    from ganbench.settings import resolve

    torch.set_num_threads(1)
    variant = VARIANTS.get("dcgan")
    torch.manual_seed(0)
    gan = variant.create(resolve(variant.settings, "dcgan"), _Shape())
    lenet = BACKBONES.get("lenet")
    path = classifier_path("mnist")
    weights = WeightsFile(path, read_metadata(path)["weights_sha256"])
    options = torch_fidelity_options(resolve(EVALUATION_SETTINGS, "eval", {"backbone": "lenet"}), lenet, weights,
                                     cuda=False)
    layers = tuple(sorted(set(metric_layers(options).values())))
    extractor = feature_extractor(lenet.extractor, layers, str(weights.path), weights.sha256, False)
    if distributed:
        idist.barrier()
    start, cpu = time.perf_counter(), time.process_time()
    images = canonical_images(SampleSet(gan, 0, 256, distributed).generated(samples), 32)
    features = generated_features_of(images, extractor, False, options, distributed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    cpus = idist.all_gather(torch.tensor([cpu])).tolist() if distributed else [cpu]
    digest = hashlib.sha256(b"".join(features[key].numpy().tobytes() for key in sorted(features))).hexdigest()
    return wall, cpus, digest[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    register_builtins()
    for _ in range(args.pairs):
        one = timed(args.samples, False)
        group = data_parallel(timed, args.processes, torch.device("cpu"), register_builtins, args.samples, True)
        print(f"{args.samples} samples: 1 process {one[0]:.2f} s (CPU s {one[1][0]:.2f}, features {one[2]}) | "
              f"{args.processes} gloo processes {group[0]:.2f} s (CPU s per process "
              f"{', '.join(f'{c:.2f}' for c in group[1])}, features {group[2]}): {one[0] / group[0]:.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
