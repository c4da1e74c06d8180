"""Random streams that are pure functions of (seed, stream, step).

Every random draw of a run (real batches, latent vectors, gradient-penalty mixing, evaluation
samples) comes from a ``torch.Generator`` derived here from the run's seed, a stream name and the
iteration. A run is then reproducible with a fixed seed on the CPU, and a run resumed from a
checkpoint draws exactly what an uninterrupted run would have drawn.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

DATA = "data"
LATENT = "latent"
PENALTY = "penalty"
EVALUATION = "evaluation"
INIT = "init"
FEATURE_NETWORK = "feature-network"
REAL_SUBSET = "real-subset"  # the real images ganbench evaluate --real draws


def derive_seed(seed: int, stream: str, *steps: int) -> int:
    """A 63-bit seed from the run seed, a stream name and step indices (e.g. the iteration)."""
    words = [seed & 0xFFFFFFFF, seed >> 32, zlib.crc32(stream.encode()), *steps]
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & ((1 << 63) - 1)


def generator(seed: int, stream: str, *steps: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by :func:`derive_seed`."""
    return torch.Generator().manual_seed(derive_seed(seed, stream, *steps))
