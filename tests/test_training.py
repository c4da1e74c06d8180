"""The Ignite GAN trainer: both networks learn, D is frozen in the G step, the balance knobs work,
runs are deterministic, resume exactly, and divergence is caught."""

import math

import pytest
import torch
from ignite.engine import Events

from ganbench.data import DataOptions, load_dataset
from ganbench.data.toy import GaussianMixture2D
from ganbench.gan.model import VARIANTS
from ganbench.gan.run import loss_history
from ganbench.gan.trainer import create_gan_trainer
from ganbench.handlers import Divergence, History, checkpointer, resume_from_checkpoint
from ganbench.settings import resolve


def attach_loss_history(engine, gan):
    history = loss_history(gan)
    engine.add_event_handler(Events.ITERATION_COMPLETED, history)
    return history

TINY = {"g_widths": (16, 16), "d_widths": (16,), "batch_size": 32}


def build(seed=0, **overrides):
    variant = VARIANTS.get("fc")
    settings = resolve(variant.settings, "fc", {**TINY, **overrides})
    dataset = load_dataset("ring8", DataOptions())
    torch.manual_seed(seed)
    gan = variant.create(settings, dataset)
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


def gradients(module):
    return [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]


def same(first, second):
    """Two lists of tensors (or None) hold the same values."""
    return len(first) == len(second) and all(
        (a is None and b is None) or (a is not None and b is not None and torch.equal(a, b))
        for a, b in zip(first, second)
    )


@pytest.mark.parametrize("loss", ["ns", "hinge", "wgan-gp", "rahinge"])
def test_discriminator_is_frozen_during_the_generator_step(loss):
    """Spies record D (weights, gradients, requires_grad) after each D step, when the G phase starts
    (G's first forward with autograd on), while G's backward runs, when ``optimizer_g.step`` is
    called, when it returns and when the iteration ends: from the end of the last D step to the end
    of the iteration, D's weights and gradients must not change and no D step may happen."""
    n_critic = 2
    gan, dataset, settings = build(loss=loss, n_critic=n_critic)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    d_start = parameters(gan.discriminator)
    record = {}

    def new_iteration(engine):
        record.clear()
        record.update(phase="d", d_steps=[], d_steps_in_g_phase=0, d_calls=[], trainable_in_g_backward=[])

    def d_forward(module, inputs, output):
        trainable = any(p.requires_grad for p in module.parameters())
        record["d_calls"].append((record["phase"], trainable, output.requires_grad))

    def g_forward(module, inputs):
        if torch.is_grad_enabled() and record["phase"] == "d":  # the D steps generate under no_grad
            record["phase"] = "g"
            record["d_at_g_start"] = parameters(gan.discriminator)

    def g_backward(grad):  # runs inside G's backward pass
        record["trainable_in_g_backward"].append([p.requires_grad for p in gan.discriminator.parameters()])
        return grad

    original_d_step, original_g_step = training.optimizers["d"].step, training.optimizers["g"].step

    def spy_d_step(*args, **kwargs):
        result = original_d_step(*args, **kwargs)
        if record["phase"] == "d":
            record["d_steps"].append((parameters(gan.discriminator), gradients(gan.discriminator)))
        else:
            record["d_steps_in_g_phase"] += 1
        return result

    def spy_g_step(*args, **kwargs):
        record["d_at_g_step"] = (parameters(gan.discriminator), gradients(gan.discriminator))
        result = original_g_step(*args, **kwargs)
        record["d_after_g_step"] = parameters(gan.discriminator)
        return result

    def check(engine):
        assert len(record["d_steps"]) == n_critic
        assert record["d_steps_in_g_phase"] == 0, "optimizer_d stepped during the G step"
        d_weights, d_grads = record["d_steps"][-1]  # D as the last D step left it
        assert same(record["d_at_g_start"], d_weights)
        assert same(record["d_at_g_step"][0], d_weights), "D moved between its last step and G's step"
        assert same(record["d_at_g_step"][1], d_grads), "G's backward changed D's gradients"
        assert same(record["d_after_g_step"], d_weights), "optimizer_g.step moved D"
        assert same(parameters(gan.discriminator), d_weights), "D moved after its last D step"
        assert same(gradients(gan.discriminator), d_grads)
        # D was frozen for every D call of the G phase and for the whole of G's backward ...
        g_calls = [(trainable, out) for phase, trainable, out in record["d_calls"] if phase == "g"]
        assert g_calls and not any(trainable for trainable, _ in g_calls)
        assert any(out for _, out in g_calls)  # the fake logits still carry G's graph
        assert record["trainable_in_g_backward"] and not any(any(t) for t in record["trainable_in_g_backward"])
        # ... trainable in every call of the D phase, and unfrozen again afterwards.
        assert all(trainable for phase, trainable, _ in record["d_calls"] if phase == "d")
        assert all(p.requires_grad for p in gan.discriminator.parameters())
        record["checked"] = True

    gan.discriminator.register_forward_hook(d_forward)
    gan.generator.register_forward_pre_hook(g_forward)
    for p in gan.generator.parameters():
        p.register_hook(g_backward)
    training.optimizers["d"].step = spy_d_step
    training.optimizers["g"].step = spy_g_step
    training.engine.add_event_handler(Events.ITERATION_STARTED, new_iteration)
    training.engine.add_event_handler(Events.ITERATION_COMPLETED, check)
    training.engine.run(None, max_epochs=1, epoch_length=2)
    assert record.get("checked")
    assert changed(d_start, gan.discriminator)  # the D steps themselves did move D


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
    training.engine.add_event_handler(Events.ITERATION_COMPLETED(every=3),
                                      checkpointer(objects(gan, training, partial), tmp_path))
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
    with pytest.raises(UserError, match="cannot resume from checkpoint .*checkpoint_5.pt.*run with restart"):
        resume_from_checkpoint({"trainer": training.engine, "gan": gan}, tmp_path)


class NaNData(GaussianMixture2D):
    def batch(self, batch_size, seed, iteration):
        real = super().batch(batch_size, seed, iteration)
        return real * float("nan") if iteration >= 3 else real


def test_divergence_stops_the_run_and_is_reported():
    gan, dataset, settings = build()
    poisoned = NaNData("ring8", dataset.means, dataset.sigma, "test")
    training = create_gan_trainer(gan, poisoned, settings, seed=0)
    divergence = Divergence()
    training.engine.add_event_handler(Events.ITERATION_COMPLETED, divergence)
    training.engine.run(None, max_epochs=1, epoch_length=10)
    assert divergence.diverged_at == 3
    assert training.engine.state.iteration == 3


def test_history_columns_keep_the_order_their_keys_came_in():
    history = History()
    first = [f"value_{i}" for i in range(12, 0, -1)]  # 12 keys: a set's order would almost never match
    history.append({key: 1.0 for key in first})
    history.append({"late": 2.0, first[0]: 3.0})
    assert list(history.columns) == [*first, "late"]
    assert history.to_csv().splitlines()[0] == ",".join([*first, "late"])
    assert math.isnan(history.rows()[0]["late"]) and math.isnan(history.rows()[1][first[1]])


def test_flop_counts_follow_the_layers_and_leave_the_run_untouched():
    from ganbench.gan.run import flop_counts

    gan, dataset, settings = build(maxout_pieces=1)  # G: 2-16-16-2, D: 2-16-1, all Linear; batch 32
    weights, rng = {k: v.clone() for k, v in gan.state_dict().items()}, torch.get_rng_state()
    counts = flop_counts(gan, dataset, settings, seed=0, iteration=7)
    # 2 flop per multiply-add. A forward pass of B rows costs F = 2 B sum(in * out) over the layers;
    # backward costs F for the weight gradients plus F minus the first layer's share for the input
    # gradients (not needed where the input needs no gradient: the latents, the real batch, the
    # detached fake batch). D step: G forward, D forward on real and fake, D backward on both;
    # G step: G forward, D forward, D backward to its input only (D frozen), G backward.
    batch, g_layers, d_layers = 32, [(2, 16), (16, 16), (16, 2)], [(2, 16), (16, 1)]
    f_g, f_d = (2 * batch * sum(i * o for i, o in layers) for layers in (g_layers, d_layers))
    f_g1, f_d1 = 2 * batch * 2 * 16, 2 * batch * 2 * 16
    expected = f_g + 2 * f_d + 2 * (2 * f_d - f_d1) + f_g + f_d + f_d + f_g + (f_g - f_g1)
    assert counts["train_gflop_per_iteration"] * 1e9 == pytest.approx(expected)
    assert counts["generate_gflop_per_sample"] * 1e9 == pytest.approx(f_g / batch)
    assert counts["train_gflop"] * 1e9 == pytest.approx(7 * expected)  # 7 iterations alike
    assert all(torch.equal(weights[k], v) for k, v in gan.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_flop_counts_work_with_the_gradient_penalty():
    """torch.autograd.grad (the penalty) under the counter: counted, and more work than without."""
    from ganbench.gan.run import flop_counts

    plain = flop_counts(*build(maxout_pieces=1, loss="wgan-gp", gp_weight=0.0), seed=0, iteration=3)
    penalised = flop_counts(*build(maxout_pieces=1, loss="wgan-gp"), seed=0, iteration=3)
    assert penalised["train_gflop_per_iteration"] > plain["train_gflop_per_iteration"] > 0
