"""The Ignite GAN trainer: both networks learn, D is frozen in the G step, the balance knobs work,
runs are deterministic, resume exactly, and divergence is caught."""

import math

import pytest
import torch
from ignite.engine import Events

from ganbench.data import DataOptions, load_dataset
from ganbench.data.toy import GaussianMixture2D
from ganbench.models import VARIANTS
from ganbench.settings import resolve
from ganbench.training import (
    History,
    attach_checkpoints,
    attach_divergence_check,
    attach_loss_history,
    create_gan_trainer,
    resume_from_checkpoint,
)

TINY = {"g_widths": (16, 16), "d_widths": (16,), "batch_size": 32}


def build(seed=0, **overrides):
    variant = VARIANTS.get("fc")
    settings = resolve(variant.settings, "fc", {**TINY, **overrides})
    dataset = load_dataset("ring8", DataOptions())
    torch.manual_seed(seed)
    gan = variant.build(settings, dataset)
    return gan, dataset, settings


def parameters(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_a_tiny_run_changes_both_networks():
    gan, dataset, settings = build()
    g0, d0 = parameters(gan.generator), parameters(gan.discriminator)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    training.engine.run(None, max_epochs=1, epoch_length=3)
    assert changed(g0, gan.generator)
    assert changed(d0, gan.discriminator)
    assert set(training.engine.state.output) == {"loss_d", "loss_g", "d_skipped"}


def test_discriminator_is_frozen_during_the_generator_step():
    gan, dataset, settings = build()
    calls = []
    gan.discriminator.register_forward_hook(
        lambda module, inputs, output: calls.append(
            (any(p.requires_grad for p in module.parameters()), output.requires_grad)
        )
    )
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    d_before = parameters(gan.discriminator)
    grads_after_g_step = {}

    original_step = training.optimizers["g"].step

    def spy_step(*args, **kwargs):
        grads_after_g_step["d"] = [p.grad for p in gan.discriminator.parameters()]
        grads_after_g_step["d_changed_by_g_step"] = changed(d_before_g[0], gan.discriminator)
        return original_step(*args, **kwargs)

    d_before_g = []
    original_d_step = training.optimizers["d"].step

    def spy_d_step(*args, **kwargs):
        result = original_d_step(*args, **kwargs)
        d_before_g.clear()
        d_before_g.append(parameters(gan.discriminator))
        training.optimizers["d"].zero_grad(set_to_none=True)
        return result

    training.optimizers["g"].step = spy_step
    training.optimizers["d"].step = spy_d_step
    training.engine.run(None, max_epochs=1, epoch_length=1)
    # D step: two D calls with D trainable; G step: one call with D frozen, output still carrying G's graph.
    assert [trainable for trainable, _ in calls] == [True, True, False]
    assert calls[2][1] is True
    # The generator's backward left no gradient on D and did not move it.
    assert all(g is None for g in grads_after_g_step["d"])
    assert grads_after_g_step["d_changed_by_g_step"] is False
    assert all(p.requires_grad for p in gan.discriminator.parameters())  # unfrozen afterwards
    assert changed(d_before, gan.discriminator)


def test_skip_d_leaves_the_discriminator_untouched():
    gan, dataset, settings = build(d_skip_below=1e9, n_critic=2)
    d0, g0 = parameters(gan.discriminator), parameters(gan.generator)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    training.engine.run(None, max_epochs=1, epoch_length=4)
    assert not changed(d0, gan.discriminator)
    assert changed(g0, gan.generator)
    assert training.engine.state.output["d_skipped"] == 2.0


def test_n_critic_takes_that_many_d_steps_per_g_step():
    gan, dataset, settings = build(n_critic=3)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    counts = {"g": 0, "d": 0}
    for name, optimizer in training.optimizers.items():
        optimizer.register_step_post_hook(lambda *_, name=name: counts.__setitem__(name, counts[name] + 1))
    training.engine.run(None, max_epochs=1, epoch_length=5)
    assert counts == {"g": 5, "d": 15}
    assert training.images_per_iteration == 3 * 32


@pytest.mark.parametrize("loss", ["ns", "hinge", "wgan-gp", "rahinge"])
def test_every_loss_trains(loss):
    gan, dataset, settings = build(loss=loss)
    g0 = parameters(gan.generator)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    training.engine.run(None, max_epochs=1, epoch_length=2)
    assert changed(g0, gan.generator)
    assert all(math.isfinite(v) for v in training.engine.state.output.values())


def test_same_seed_same_weights_other_seed_other_weights():
    def train(seed):
        gan, dataset, settings = build(seed=0)
        create_gan_trainer(gan, dataset, settings, seed=seed).engine.run(None, max_epochs=1, epoch_length=5)
        return parameters(gan)

    first, again, other = train(7), train(7), train(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert any(not torch.equal(a, b) for a, b in zip(first, other))


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    def objects(gan, training, history):
        return {"trainer": training.engine, "gan": gan, "losses": history,
                **{f"optimizer_{k}": v for k, v in training.optimizers.items()}}

    gan, dataset, settings = build()
    training = create_gan_trainer(gan, dataset, settings, seed=3)
    history = attach_loss_history(training.engine, gan)
    training.engine.run(None, max_epochs=1, epoch_length=10)
    uninterrupted = parameters(gan)

    # Run 6 of 10 iterations with a checkpoint every 3, killed after iteration 7
    # (the checkpoint of iteration 6 is the newest).
    gan, dataset, settings = build()
    training = create_gan_trainer(gan, dataset, settings, seed=3)
    partial = attach_loss_history(training.engine, gan)
    attach_checkpoints(training.engine, objects(gan, training, partial), tmp_path, every=3)
    training.engine.add_event_handler(Events.ITERATION_COMPLETED(once=7), lambda engine: engine.terminate())
    training.engine.run(None, max_epochs=1, epoch_length=10)

    gan, dataset, settings = build(seed=99)  # different initial weights: the checkpoint must override them
    training = create_gan_trainer(gan, dataset, settings, seed=3)
    resumed = attach_loss_history(training.engine, gan)
    assert resume_from_checkpoint(objects(gan, training, resumed), tmp_path) == 6
    training.engine.run(None, max_epochs=1, epoch_length=10)
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted, parameters(gan)))
    assert resumed.columns["loss_g"] == history.columns["loss_g"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    from ganbench.errors import UserError

    (tmp_path / "checkpoint_5.pt").write_bytes(b"not a checkpoint")
    gan, dataset, settings = build()
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    with pytest.raises(UserError, match="cannot resume from checkpoint .*checkpoint_5.pt.*--restart"):
        resume_from_checkpoint({"trainer": training.engine, "gan": gan}, tmp_path)


class NaNData(GaussianMixture2D):
    def batch(self, batch_size, seed, iteration):
        real = super().batch(batch_size, seed, iteration)
        return real * float("nan") if iteration >= 3 else real


def test_divergence_stops_the_run_and_is_reported():
    gan, dataset, settings = build()
    poisoned = NaNData("ring8", dataset.means, dataset.sigma, "test")
    training = create_gan_trainer(gan, poisoned, settings, seed=0)
    attach_divergence_check(training.engine)
    training.engine.run(None, max_epochs=1, epoch_length=10)
    assert training.engine.state.diverged_at == 3
    assert training.engine.state.iteration == 3


def test_history_columns_keep_the_order_their_keys_came_in():
    history = History()
    first = [f"value_{i}" for i in range(12, 0, -1)]  # 12 keys: a set's order would almost never match
    history.append({key: 1.0 for key in first})
    history.append({"late": 2.0, first[0]: 3.0})
    assert list(history.columns) == [*first, "late"]
    assert history.to_csv().splitlines()[0] == ",".join([*first, "late"])
    assert math.isnan(history.rows()[0]["late"]) and math.isnan(history.rows()[1][first[1]])
