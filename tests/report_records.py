"""Fixed records of an output folder for the report tests: two GAN variants on one image dataset
(whose name is markup), five seeds each, with losses, sample grids and a metric history, so that
every table, figure and card of the report has something to show and one variant is
significantly best."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

MARKUP = "<script>alert(1)</script>"
DATASET = f"folder:/data/{MARKUP}"
FID = {"dcgan": [20.0, 21.0, 19.5, 20.5, 20.2], "fc": [60.0, 64.0, 58.0, 61.0, 63.0]}


def gan_record(root: Path, variant: str, seed: int, fid: float) -> dict:
    run_id = f"{variant}_seed{seed}"
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    iterations = np.arange(1, 201)
    losses = np.stack([iterations, 0.7 + 0.1 * rng.standard_normal(200), 1.4 + 0.1 * rng.standard_normal(200)], 1)
    np.savetxt(run_dir / "losses.csv", losses, delimiter=",", header="iteration,loss_d,loss_g", comments="",
               fmt=["%d", "%.5f", "%.5f"])
    Image.fromarray(rng.integers(0, 255, (66, 66), dtype=np.uint8)).save(run_dir / "samples.png")
    history = [{"iteration": it, "images_seen": it * 64, "train_seconds": it * 0.05 + seed * 0.01,
                "fid": fid * 200 / it}
               for it in (50, 100, 150, 200)]
    return {
        "run_id": run_id, "kind": "gan", "suite": "mnist", "variant": variant, "dataset": DATASET, "budget": "smoke",
        "seed": seed, "status": "finished", "elapsed_seconds": 10.0, "iterations_done": 200,
        "iterations_planned": 200,
        "config": {"settings": {"batch_size": 64}, "evaluators": ["grid", "fidelity", "throughput"],
                   "data": {"split": "test"}},
        "metrics": {"fid": fid, "precision": 0.5 + 0.01 * seed + (0.002 if variant == "fc" else 0),
                    "fidelity_samples": 1000,
                    "fidelity_reference_samples": 2000, "fidelity_backbone": "lenet",
                    "fidelity_weights_sha256": "ab" * 32, "fidelity_image_size": 32},
        "throughput": {"train_images_per_second": (900.0 if variant == "fc" else 300.0) + seed,
                       "ms_per_iteration": 5.0 + seed},
        "metric_history": history,
        "artifacts": {"losses": f"runs/{run_id}/losses.csv", "sample_grid": f"runs/{run_id}/samples.png"},
        "provenance": {
            "ganbench": "0.1.0", "python": "3.11.7", "torch": "2.14.1", "torchvision": "0.29.1",
            "pytorch-ignite": "0.5.5", "torch-fidelity": "0.4.0", "numpy": "2.4.6", "platform": "Linux",
            "commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False,
            "command": f"ganbench run --datasets {DATASET}",
            "started_utc": f"2026-11-30T10:0{seed}:00Z", "finished_utc": f"2026-11-30T10:0{seed}:30Z",
            "device": {"type": "cpu", "cpu": "Test CPU", "cpu_count": 2, "torch_threads": 1},
            "data": {"kind": "images", "name": DATASET, "split": "test", "size": 100,
                     "files": {f"{MARKUP}.png": {"md5": "d41d8cd98f00b204e9800998ecf8427e"}}},
        },
    }


def write_folder(root: Path) -> list[dict]:
    """Write the records (and their run files) into ``root``; the records."""
    records = [gan_record(root, variant, seed, fid) for variant, fids in FID.items() for seed, fid in enumerate(fids)]
    (root / "records.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return records
