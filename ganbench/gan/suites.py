"""The built-in GAN suites, as data: ``toy`` (2D mixtures), ``mnist``, ``fashion`` and
``stacked-mnist``; :mod:`ganbench.builtins` registers them."""

from __future__ import annotations

from ganbench.gan.suite import GanSuite
from ganbench.budgets import Budget

# ``quick`` (the default job) trains 6,000 iterations at Adam lr 1e-3, beta1 0.5, decayed linearly
# to 1/6,000 of it (``lr_decay``): on the 2-core CPU (about 5 minutes for the 6 runs) that puts
# most samples high-quality on both mixtures, PacGAN's regime (ring8 0.94, grid25 0.59, 3 seeds),
# which PacGAN's constant lr 1e-4, beta1 0.8 does not reach at such lengths (ring8 0.36, grid25
# 0.01 high-quality at 2,000 iterations; docs/published.md has the measurements); 2,000 iterations
# left grid25 at 0.13. ``standard`` and ``paper`` follow PacGAN's protocol (fc's defaults);
# ``paper`` is its length.
TOY_QUICK_SETTINGS = {"fc": {"lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "lr_decay": "linear"}}
TOY = GanSuite(
    name="toy",
    summary="fc GAN on the 2D ring and grid mixtures; mode coverage as in VEEGAN/PacGAN",
    variants=("fc",),
    datasets=("ring8", "grid25"),
    seeds=3,
    budgets={
        "smoke": Budget(iterations=60, evaluation={"samples": 2500, "throughput_samples": 512}),
        "quick": Budget(iterations=6000, evaluation={"samples": 2500}, settings=TOY_QUICK_SETTINGS),
        "standard": Budget(iterations=20_000, evaluation={"samples": 2500}),
        # PacGAN: 400 epochs of 100,000 points at batch size 100.
        "paper": Budget(iterations=400_000, evaluation={"samples": 2500}),
    },
    default_budget="quick",
    evaluators=("coverage", "throughput"),
)


# The image suites. fc trains on flattened 28x28 images with the classic MLP of the MNIST GAN
# literature; the conv variants train at 32x32 (MNIST padded by 2 pixels).
# Every variant is evaluated alike: from its live G (the headline metrics) and from an EMA of G
# (the ema_ metrics), so the EMA is kept for every variant (ProGAN and MSG-GAN keep one by default).
IMAGE_VARIANT_SETTINGS = {
    "*": {"ema": True},
    "fc": {"latent_dim": 100, "g_widths": (256, 512, 1024), "d_widths": (512, 256), "maxout_pieces": 1,
           "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5},
}
# Budgets, for any variant: each variant declares its ``smoke`` and ``quick`` scales and its own
# ``quick`` and ``paper`` lengths (:class:`ganbench.gan.model.Variant`); one that declares none
# trains at smoke at batch 16, and for QUICK_IMAGES / PAPER_IMAGES at quick / paper.
# ``smoke``: tiny networks for seconds-long tests, 4 iterations. ``quick``: narrower networks so
# the four built-in variants fit 15 minutes on a 2-core CPU (one seed). ``standard`` and ``paper``:
# the full networks; paper at the lengths of the variants' publications.
QUICK_IMAGES = 96_000  # DCGAN's quick length: 1,500 iterations at batch 64
PAPER_IMAGES = 1_500_000  # DCGAN's 25 epochs of MNIST's 60,000 training images
# ``equal``: the CPU comparison. Every variant sees EQUAL_IMAGES real training images at batch 64
# (so also the same iterations and evaluation points), with quick's networks; 5 seeds; evaluated
# every EQUAL_EVERY iterations (the metric history against images seen and training seconds).
# 19,200 images = 300 iterations at batch 64, evaluated at 4,800, 9,600, 14,400 and 19,200 images;
# sized for 12 runs (4 variants x 3 seeds) with their evaluations to take about 30 minutes on a
# quiet 2-core CPU (docs/suites.md says how that was measured); 5 seeds make 20 runs, about 50.
EQUAL_IMAGES = 19_200
EQUAL_EVERY = 75
# ``equal-flops``: the CPU comparison at equal training FLOPs. Every variant trains for EQUAL_GFLOP
# training GFLOP (matmuls and convolutions of its D and G steps, forward and backward, counted by
# torch's flop counter: ganbench.gan.run.planned_iterations_for_gflop), to within one iteration,
# with quick's networks at batch 64; evaluated once, at the end; 5 seeds (as equal). GFLOP per
# iteration there: fc 1.199, dcgan 6.691, msggan 49.085, progan 1.545 / 12.42 / 41.43 / 70.44 at
# 4 / 8 / 16 / 32 px (35.6 over its growth schedule), so 5,421, 971, 132 and 182 iterations. Their
# ms per GFLOP differ little on a CPU (87-108 on one thread of the 2-core machine, docs/suites.md),
# so EQUAL_GFLOP makes the training of the 4 variants take about as long as equal's 300 iterations.
EQUAL_GFLOP = 6_500
# ``converged``: ``equal`` (quick's networks, batch 64, 5 seeds, every variant the same images) long
# enough for the metric histories to plateau (ganbench.plateau), sized for one GPU running the 20
# runs at once (--device cuda --jobs 20); evaluated at 8 points.
CONVERGED_IMAGES = 640_000
CONVERGED_EVERY = 1_250
IMAGE_VARIANTS = ("fc", "dcgan", "progan", "msggan")
IMAGE_EVALUATORS = ("grid", "fidelity", "classes", "throughput")
# Fidelity on the lenet backbone: the fast, CPU-real metric for the MNIST family (Inception:
# --set eval.backbone=inception with its weights); every variant evaluated at 32x32. The headline
# FID is FID-infinity (Chong & Forsyth 2020) fitted through FID_INFINITY_POINTS points from N/5 to
# N, as in their paper, where N/5 exceeds the feature dimensions (lenet: 84 per channel); the
# N-sample FID stays recorded.
FID_INFINITY_POINTS = 15
# The standard protocol: train on the training split, compare with the test split (the reference of
# fidelity and of the class balance); the memorisation checks compare with the training split.
IMAGE_EVALUATION = {"backbone": "lenet", "samples": 10_000, "reference_samples": 10_000, "reference_split": "test",
                    "fid_infinity": FID_INFINITY_POINTS, "memorisation": True}


def image_suite(name: str, dataset: str, summary: str) -> GanSuite:
    return GanSuite(
        name=name,
        summary=f"{summary}; equal-flops: {EQUAL_GFLOP:,} training GFLOP per run",
        variants=IMAGE_VARIANTS,
        datasets=(dataset,),
        seeds=3,
        budgets={
            "smoke": Budget(iterations=4, scale="smoke", seeds=1,
                            evaluation={**IMAGE_EVALUATION, "samples": 500, "reference_samples": 200,
                                        "memorisation_samples": 200, "kid_subset_size": 100, "kid_subsets": 10,
                                        "throughput_samples": 64}),
            "quick": Budget(images=QUICK_IMAGES, lengths="quick", scale="quick", seeds=1,
                            evaluation={**IMAGE_EVALUATION, "samples": 5000}),
            # 5 seeds: the fewest at which 4 variants can differ after Holm (6 pairs x 2/252 = 0.048 < 0.05).
            "equal": Budget(images=EQUAL_IMAGES, scale="quick", settings={"*": {"batch_size": 64}}, seeds=5,
                            evaluation={**IMAGE_EVALUATION, "samples": 5000, "every": EQUAL_EVERY}),
            "equal-flops": Budget(gflop=EQUAL_GFLOP, scale="quick", settings={"*": {"batch_size": 64}}, seeds=5,
                                  evaluation={**IMAGE_EVALUATION, "samples": 5000}),
            "converged": Budget(images=CONVERGED_IMAGES, scale="quick", settings={"*": {"batch_size": 64}}, seeds=5,
                                evaluation={**IMAGE_EVALUATION, "samples": 5000, "every": CONVERGED_EVERY}),
            # 20,000 iterations at batch 64: 1,280,000 images for every variant (dcgan's batch 128
            # makes it 10,000 iterations).
            "standard": Budget(images=1_280_000, evaluation=IMAGE_EVALUATION),
            "paper": Budget(images=PAPER_IMAGES, lengths="paper", evaluation=IMAGE_EVALUATION),
        },
        default_budget="quick",
        comparison_budget="equal",
        evaluators=IMAGE_EVALUATORS,
        settings=IMAGE_VARIANT_SETTINGS,
    )


MNIST = image_suite("mnist", "mnist", "fc, DCGAN, ProGAN and MSG-GAN on MNIST")
FASHION = image_suite("fashion", "fashion-mnist", "the mnist suite's matrix on Fashion-MNIST")


# Stacked MNIST as VEEGAN and PacGAN run it: a DCGAN, 26,000 samples to count the 1,000 modes,
# fidelity on the lenet backbone (fast on a CPU; per-channel features, joint 1,000-way IS).
STACKED_EVALUATION = {"backbone": "lenet", "samples": 10_000, "reference_samples": 10_000, "reference_split": "test",
                      "fid_infinity": FID_INFINITY_POINTS}
STACKED_MNIST = GanSuite(
    name="stacked-mnist",
    summary="dcgan on Stacked MNIST (3 digits as RGB, 1,000 modes); modes covered and KL as in VEEGAN/PacGAN",
    variants=("dcgan",),
    datasets=("stacked-mnist",),
    seeds=3,
    budgets={
        "smoke": Budget(
            iterations=20,
            evaluation={**STACKED_EVALUATION, "samples": 500, "reference_samples": 500, "stacked_samples": 1000,
                        "kid_subset_size": 250, "kid_subsets": 10, "throughput_samples": 256},
            settings={"dcgan": {"g_width": 8, "d_width": 8, "batch_size": 32}},
        ),
        "quick": Budget(iterations=3000, evaluation=STACKED_EVALUATION,
                        settings={"dcgan": {"g_width": 16, "d_width": 16, "batch_size": 64}}),
        "standard": Budget(iterations=20_000, evaluation=STACKED_EVALUATION,
                           settings={"dcgan": {"batch_size": 64}}),
        # PacGAN: 50 epochs of 128,000 stacked images at batch size 64.
        "paper": Budget(iterations=100_000, evaluation=STACKED_EVALUATION, settings={"dcgan": {"batch_size": 64}}),
    },
    default_budget="quick",
    evaluators=("grid", "stacked", "fidelity", "throughput"),
)

