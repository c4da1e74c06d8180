"""Shapes of every variant at every resolution, ProGAN's growth schedule and fade-in, MSG-GAN's
multi-scale gradients."""

import pytest
import torch
import torch.nn.functional as F
from ignite.engine import Events

from ganbench.data import BenchDataset
from ganbench.gan.model import VARIANTS
from ganbench.gan.run import loss_history
from ganbench.gan.variants.layers import MinibatchStdDev, PixelNorm, downsample, upsample
from ganbench.gan.variants.progan import growth_phases, phase_at
from ganbench.handlers import ModelEMA
from ganbench.settings import resolve
from ganbench.gan.trainer import create_gan_trainer

SMALL = {
    "fc": {"g_widths": (16,), "d_widths": (16,), "latent_dim": 8, "batch_size": 8},
    "dcgan": {"g_width": 4, "d_width": 4, "latent_dim": 8, "batch_size": 8},
    "progan": {"width": 4, "max_width": 8, "latent_dim": 8, "batch_size": 8},
    "msggan": {"width": 4, "max_width": 8, "latent_dim": 8, "batch_size": 8},
}


class RandomImages(BenchDataset):
    kind = "images"
    name = "random"

    def __init__(self, shape):
        self.sample_shape = shape

    def batch(self, batch_size, seed, iteration):
        return torch.rand(batch_size, *self.sample_shape, generator=torch.Generator().manual_seed(iteration)) * 2 - 1

    def reference(self, count):
        return self.batch(count, 0, 0)


def build(name, shape, **overrides):
    variant = VARIANTS.get(name)
    settings = resolve(variant.settings, name, {**SMALL[name], **overrides})
    data = RandomImages(shape)
    torch.manual_seed(0)
    return variant.create(settings, data), data, settings


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_fc_on_images(shape):
    gan, _, _ = build("fc", shape)
    z = torch.randn(5, 8)
    assert gan.generate(z).shape == (5, *shape)
    assert gan.discriminate(gan.generate(z)).shape == (5,)
    assert gan.sample(z).abs().max() <= 1


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 32, 32), (3, 64, 64), (1, 16, 16)])
def test_dcgan_shapes(shape):
    gan, _, _ = build("dcgan", shape, image_size=shape[-1])
    z = torch.randn(5, 8)
    images = gan.generate(z)
    assert images.shape == (5, *shape)
    assert images.abs().max() <= 1  # tanh
    assert gan.discriminate(images).shape == (5,)


@pytest.mark.parametrize("channels", [1, 3])
def test_progan_every_level_and_alpha(channels):
    gan, _, _ = build("progan", (channels, 32, 32))
    z = torch.randn(4, 8)
    for level, size in enumerate([4, 8, 16, 32]):
        for alpha in (0.0, 0.5, 1.0):
            images = gan.generator(z, level, alpha)
            assert images.shape == (4, channels, size, size)
            assert gan.discriminator(images, level, alpha).shape == (4, 1)
    scales = gan.sample_scales(z)
    assert {size: tuple(image.shape) for size, image in scales.items()} == {
        s: (4, channels, s, s) for s in (4, 8, 16, 32)
    }


def test_progan_grids_mid_growth_show_the_grown_levels_and_what_the_metrics_read():
    gan, _, _ = build("progan", (1, 32, 32))
    z = torch.randn(4, 8)
    gan.level, gan.alpha = 1, 0.5  # 8x8, fading in: 16x16 and 32x32 not grown yet
    scales = gan.sample_scales(z)
    assert sorted(scales) == [4, 8, 32]
    assert torch.equal(scales[32], gan.sample(z))  # the finest grid is what FID and the others read
    assert torch.equal(scales[8], gan.generator(z, 1, 0.5).clamp(-1, 1))
    assert torch.equal(scales[4], gan.generator(z, 0, 1.0).clamp(-1, 1))


def test_progan_fade_in_blends_with_the_previous_resolution():
    gan, _, _ = build("progan", (1, 32, 32))
    z = torch.randn(4, 8)
    with torch.no_grad():
        for level in (1, 2, 3):
            faded_out = gan.generator(z, level, 0.0)
            previous = gan.generator(z, level - 1, 1.0)
            assert torch.allclose(faded_out, upsample(previous), atol=1e-6)
            half = gan.generator(z, level, 0.5)
            assert torch.allclose(half, 0.5 * gan.generator(z, level, 1.0) + 0.5 * upsample(previous), atol=1e-5)


def test_progan_real_images_follow_the_same_fade():
    gan, _, _ = build("progan", (1, 32, 32))
    real = torch.rand(2, 1, 32, 32)
    gan.level, gan.alpha = 2, 0.25  # 16x16, fading in
    at_16 = F.avg_pool2d(real, 2)
    expected = 0.25 * at_16 + 0.75 * upsample(downsample(at_16))
    assert torch.allclose(gan.real_input(real), expected)
    gan.level, gan.alpha = 0, 1.0
    assert gan.real_input(real).shape == (2, 1, 4, 4)


def test_progan_schedule_phases_and_alpha():
    phases = growth_phases([4, 8, 16, 32], 70)  # 7 phases of 10 iterations
    assert [(p.resolution, p.fading) for p in phases] == [
        (4, False), (8, True), (8, False), (16, True), (16, False), (32, True), (32, False)]
    expected = {1: (0, 1.0), 10: (0, 1.0), 11: (1, 0.0), 16: (1, 0.5), 20: (1, 0.9), 21: (1, 1.0), 61: (3, 1.0),
                70: (3, 1.0), 51: (3, 0.0)}
    for iteration, (level, alpha) in expected.items():
        phase = phase_at(phases, iteration)
        assert (phase.level, phase.alpha(iteration)) == pytest.approx((level, alpha)), iteration


def test_progan_trainer_follows_the_schedule_and_records_it():
    gan, data, settings = build("progan", (1, 32, 32))
    training = create_gan_trainer(gan, data, settings, seed=0)
    history = loss_history(gan)
    training.engine.add_event_handler(Events.ITERATION_COMPLETED, history)
    gan.attach(training.engine, 14, training.optimizers)  # 7 phases of 2 iterations
    ema_before = [p.clone() for p in gan.generator_ema.parameters()]
    training.engine.run(None, max_epochs=1, epoch_length=14)
    assert history.columns["resolution"] == [4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 32]
    assert history.columns["alpha"] == [1, 1, 0, 0.5, 1, 1, 0, 0.5, 1, 1, 0, 0.5, 1, 1]
    summary = gan.schedule_summary()
    assert [(p["resolution"], p["phase"], p["start_iteration"]) for p in summary] == [
        (4, "stable", 1), (8, "fade-in", 3), (8, "stable", 5), (16, "fade-in", 7), (16, "stable", 9),
        (32, "fade-in", 11), (32, "stable", 13)]
    assert summary[1]["alpha_at_start"] == 0.0
    # The EMA generator moved, but stays a smoothed copy of the live one.
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, gan.generator_ema.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(gan.generator.parameters(), gan.generator_ema.parameters()))


@pytest.mark.parametrize("resume_at", [None, 3])
def test_fc_linear_lr_decay_follows_the_iteration(resume_at):
    """lr_decay=linear: before iteration t of T, each rate is its setting times (T - t + 1) / T, also after a
    resume (the engine restarted at iteration ``resume_at``); lr_decay=none keeps both rates."""
    seen = {}
    for decay in ("linear", "none"):
        gan, data, settings = build("fc", (1, 28, 28), lr_g=4e-4, lr_d=2e-4, lr_decay=decay)
        training = create_gan_trainer(gan, data, settings, seed=0)
        gan.attach(training.engine, 5, training.optimizers)
        rates = seen[decay] = []
        training.engine.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: rates.append(
            (engine.state.iteration, *(o.param_groups[0]["lr"] for o in training.optimizers.values()))))
        if resume_at:  # as a checkpoint resumes it: the engine continues after iteration resume_at
            training.engine.load_state_dict({"iteration": resume_at, "epoch_length": 5, "max_epochs": 1})
        training.engine.run(None, max_epochs=1, epoch_length=5)
    first = (resume_at or 0) + 1
    assert seen["linear"] == [(t, pytest.approx(4e-4 * (6 - t) / 5), pytest.approx(2e-4 * (6 - t) / 5))
                              for t in range(first, 6)]
    assert seen["none"] == [(t, 4e-4, 2e-4) for t in range(first, 6)]


@pytest.mark.parametrize("combine", ["simple", "lin_cat", "cat_lin"])
def test_msggan_pyramid_shapes(combine):
    gan, _, _ = build("msggan", (3, 32, 32), combine=combine)
    z = torch.randn(4, 8)
    pyramid = gan.generate(z)
    assert [tuple(image.shape) for image in pyramid] == [(4, 3, s, s) for s in (4, 8, 16, 32)]
    assert gan.discriminate(pyramid).shape == (4,)
    real = gan.real_input(torch.rand(4, 3, 32, 32))
    assert [image.shape[-1] for image in real] == [4, 8, 16, 32]
    assert gan.sample(z).shape == (4, 3, 32, 32)


@pytest.mark.parametrize("combine", ["simple", "lin_cat", "cat_lin"])
def test_msggan_every_scale_receives_gradient(combine):
    gan, data, settings = build("msggan", (1, 32, 32), combine=combine)
    pyramid = [image.detach().requires_grad_(True) for image in gan.generate(torch.randn(4, 8))]
    gan.discriminate(pyramid).sum().backward()
    for image in pyramid:  # D's output depends on every scale it is shown
        assert image.grad is not None and image.grad.abs().sum() > 0, image.shape
    # In a G step, every to_rgb layer (one per scale) gets a gradient through the frozen D.
    training = create_gan_trainer(gan, data, settings, seed=0)
    seen = {}
    original = training.optimizers["g"].step

    def spy(*args, **kwargs):
        seen.update({i: layer.weight.grad.abs().sum().item() for i, layer in enumerate(gan.generator.to_rgb)})
        return original(*args, **kwargs)

    training.optimizers["g"].step = spy
    training.engine.run(None, max_epochs=1, epoch_length=1)
    assert len(seen) == 4 and all(value > 0 for value in seen.values())


def test_pixel_norm_and_minibatch_std():
    x = torch.randn(8, 5, 3, 3) * 7
    assert torch.allclose(PixelNorm()(x).pow(2).mean(dim=1), torch.ones(8, 3, 3), atol=1e-4)
    same = torch.ones(8, 5, 3, 3)
    out = MinibatchStdDev(group=4)(same)
    assert out.shape == (8, 6, 3, 3)
    assert torch.allclose(out[:, -1], torch.full((8, 3, 3), 1e-4), atol=1e-4)  # sqrt(0 + 1e-8)


def test_progan_ema_decay_warms_up():
    ema_decay_at = ModelEMA(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1), 0.999).decay_at
    assert ema_decay_at(0) == pytest.approx(0.1)
    assert ema_decay_at(90) == pytest.approx(91 / 100)
    assert ema_decay_at(100_000) == 0.999


def test_every_variant_has_the_shared_ema_setting_on_where_its_reference_uses_it():
    defaults = {name: (VARIANTS.get(name).settings["ema"].default, VARIANTS.get(name).settings["ema_decay"].default)
                for name in ("fc", "dcgan", "progan", "msggan")}
    assert defaults == {"fc": (False, 0.999), "dcgan": (False, 0.999), "progan": (True, 0.999),
                        "msggan": (True, 0.999)}


@pytest.mark.parametrize("name", ["fc", "dcgan", "progan", "msggan"])
def test_samples_come_from_the_live_g_and_within_sampling_ema_from_the_ema_copy(name):
    shape = (1, 32, 32)
    for ema in (True, False):
        gan, data, settings = build(name, shape, ema=ema)
        training = create_gan_trainer(gan, data, settings, seed=0)
        gan.attach(training.engine, 6, training.optimizers)
        training.engine.run(None, max_epochs=1, epoch_length=6)
        gan.eval()
        z = torch.randn(3, 8)
        live = gan.generate(z)
        live = (live[-1] if isinstance(live, list) else live).clamp(-1, 1).reshape(3, -1)
        assert torch.allclose(gan.sample(z).reshape(3, -1), live)
        assert gan.samples_from == ("live + ema 0.999" if ema else "live")
        if ema:
            assert gan.generator_ema is not None
            expected = gan.run_generator(gan.generator_ema, z)
            expected = (expected[-1] if isinstance(expected, list) else expected).clamp(-1, 1).reshape(3, -1)
            with gan.sampling_ema():
                sampled = gan.sample(z).reshape(3, -1)
            assert torch.allclose(sampled, expected)
            assert not torch.allclose(sampled, live)
            assert torch.allclose(gan.sample(z).reshape(3, -1), live)  # live again after the context
        else:
            assert gan.generator_ema is None
            with pytest.raises(ValueError, match="no moving average"):
                with gan.sampling_ema():
                    pass


def test_ema_follows_the_parameters_and_copies_the_buffers():
    live, average = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    live.weight.data.fill_(2.0)
    live.running_mean.fill_(5.0)
    ema = ModelEMA(live, average, 0.5)

    class State:
        iteration = 1000

    ema(type("E", (), {"state": State})())
    assert torch.allclose(average.weight, torch.full((3,), 1.5))  # 0.5 * 1 + 0.5 * 2
    assert torch.equal(average.running_mean, live.running_mean)


def test_progan_resets_adam_at_every_new_phase():
    gan, data, settings = build("progan", (1, 32, 32))
    training = create_gan_trainer(gan, data, settings, seed=0)
    gan.attach(training.engine, 14, training.optimizers)  # 7 phases of 2 iterations
    training.engine.run(None, max_epochs=1, epoch_length=14)
    assert gan.optimizer_resets == [3, 5, 7, 9, 11, 13]
    # The last reset came before iteration 13: each optimiser has taken 2 steps since.
    for optimizer in training.optimizers.values():
        steps = {float(state["step"]) for state in optimizer.state.values()}
        assert steps == {2.0}
    assert [phase["adam_reset"] for phase in gan.schedule_summary()] == [False] + [True] * 6
