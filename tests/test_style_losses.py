"""Gram matrix, losses, SSIM and the convergence count against values worked out by hand."""

import pytest
import torch

from ganbench.style.losses import content_loss, gram_matrix, style_loss, total_variation
from ganbench.style.metrics import iterations_to_converge, structural_similarity

# One image, two channels, 1 x 2 positions: channel 0 = (1, 2), channel 1 = (3, 4).
FEATURES = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])


def test_gram_matrix_is_channel_products_averaged_over_positions():
    # F Fᵀ = [[1+4, 3+8], [3+8, 9+16]], divided by H·W = 2.
    assert torch.equal(gram_matrix(FEATURES), torch.tensor([[[2.5, 5.5], [5.5, 12.5]]]))


def test_gram_matrix_keeps_images_of_a_batch_apart():
    batch = torch.cat([FEATURES, 2 * FEATURES])
    grams = gram_matrix(batch)
    assert grams.shape == (2, 2, 2)
    assert torch.equal(grams[1], 4 * grams[0])


def test_content_loss_is_the_mean_squared_difference():
    # differences 0, 1, 2, 3 -> squares 0, 1, 4, 9 -> mean 3.5
    assert content_loss(FEATURES, torch.ones_like(FEATURES)).item() == 3.5


def test_style_loss_weights_each_layer_mean_squared_gram_difference():
    grams = {"a": gram_matrix(FEATURES), "b": torch.tensor([[[1.0]]])}
    targets = {"a": torch.zeros(1, 2, 2), "b": torch.tensor([[[3.0]]])}
    # layer a: (2.5² + 5.5² + 5.5² + 12.5²) / 4 = 223 / 4; layer b: (1 - 3)² = 4
    assert style_loss(grams, targets, {"a": 0.5, "b": 2.0}).item() == pytest.approx(0.5 * 223 / 4 + 2.0 * 4)
    assert style_loss(grams, targets, {"b": 1.0}).item() == 4.0


def test_total_variation_of_a_two_by_two_image():
    image = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    # vertical differences 2, 3 -> mean square 6.5; horizontal 1, 2 -> mean square 2.5
    assert total_variation(image).item() == 9.0
    assert total_variation(torch.full((1, 3, 4, 4), 0.3)).item() == 0.0


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ([10.0, 2.0, 1.009, 1.2, 1.005, 1.0], 4),  # 1.2 is the last value more than 1 % off
        ([5.0, 4.0, 3.0], 2),  # only the final value itself is within 1 %
        ([1.0, 1.0, 1.0], 0),  # converged from the start
        ([2.0, 0.5, 1.0], 2),  # leaving the band below counts too
    ],
)
def test_iterations_to_converge(totals, expected):
    assert iterations_to_converge(totals) == expected


def test_ssim_is_one_for_identical_images_and_known_for_flat_ones():
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    assert structural_similarity(image, image) == pytest.approx(1.0, abs=1e-6)
    # Flat images 0.2 and 0.6: no variance, so SSIM = (2·0.2·0.6 + C1) / (0.2² + 0.6² + C1), C1 = 0.01².
    # Tolerance: ignite's Gaussian window sums to 1 only to float32 precision (~1e-7), which leaves
    # variances of that order, compared with C2 = 0.03² in the second factor.
    flat = structural_similarity(torch.full((1, 3, 16, 16), 0.2, dtype=torch.float64),
                                 torch.full((1, 3, 16, 16), 0.6, dtype=torch.float64))
    assert flat == pytest.approx((0.24 + 1e-4) / (0.40 + 1e-4), rel=1e-4)
    assert structural_similarity(image, image.flip(-1)) < 0.5
