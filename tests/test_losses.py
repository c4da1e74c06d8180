"""Every adversarial loss against values worked out by hand on three logits.

The expected numbers are written out in the comments and computed with ``math`` (never with the
torch functions the module calls), so a reader can check them on paper:

    real logits r = [0, 2, -1]     mean r = 1/3     mean r^2 = (0 + 4 + 1) / 3 = 5/3
    fake logits f = [0.5, -3, 2]   mean f = -1/6
"""

import math

import pytest
import torch

from ganbench.gan.losses import gradient_penalty, make_loss

REAL = [0.0, 2.0, -1.0]
FAKE = [0.5, -3.0, 2.0]


def logits(values, requires_grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


def mean(values):
    return sum(values) / len(values)


def softplus(x):
    """log(1 + e^x), the binary cross-entropy of a logit x against label 0 (and of -x against 1)."""
    return math.log(1 + math.exp(x))


def relu(x):
    return max(x, 0.0)


def value(tensor):
    assert tensor.dim() == 0, "a loss is a scalar"
    return tensor.item()


# ----------------------------------------------------------------------------- non-saturating


def test_non_saturating_discriminator():
    # D minimises -E[log sigmoid(r)] - E[log(1 - sigmoid(f))] = E[log(1 + e^-r)] + E[log(1 + e^f)]:
    #   real: [log 2, log(1 + e^-2), log(1 + e)]           = [0.6931, 0.1269, 1.3133] -> mean 0.7111
    #   fake: [log(1 + e^0.5), log(1 + e^-3), log(1 + e^2)] = [0.9741, 0.0486, 2.1269] -> mean 1.0499
    #   total 1.7610
    expected = mean([math.log(2), math.log(1 + math.exp(-2)), math.log(1 + math.e)]) + mean(
        [math.log(1 + math.exp(0.5)), math.log(1 + math.exp(-3)), math.log(1 + math.exp(2))]
    )
    assert expected == pytest.approx(1.76098, abs=1e-5)
    assert value(make_loss("ns").discriminator(logits(REAL), logits(FAKE))) == pytest.approx(expected, rel=1e-12)


def test_non_saturating_generator():
    # G minimises -E[log sigmoid(f)] = E[log(1 + e^-f)]:
    #   [log(1 + e^-0.5), log(1 + e^3), log(1 + e^-2)] = [0.4741, 3.0486, 0.1269] -> mean 1.2165
    expected = mean([softplus(-0.5), softplus(3.0), softplus(-2.0)])
    assert expected == pytest.approx(1.21654, abs=1e-5)
    loss = make_loss("ns")
    assert not loss.generator_needs_real
    assert value(loss.generator(logits(FAKE), None)) == pytest.approx(expected, rel=1e-12)


def test_non_saturating_generator_gradient_does_not_vanish_on_confident_fakes():
    # d/df log(1 + e^-f) = -1 / (1 + e^f), averaged over N = 3 logits. On a fake D rejects
    # confidently (f = -3) the slope is -0.9526 / 3: the non-saturating form, not the saturating
    # E[log(1 - sigmoid(f))], whose slope -sigmoid(f) / 3 would be -0.0474 / 3 there.
    fake = logits(FAKE, requires_grad=True)
    make_loss("ns").generator(fake, None).backward()
    expected = [-1 / (1 + math.exp(f)) / 3 for f in FAKE]
    assert fake.grad.tolist() == pytest.approx(expected, rel=1e-12)
    assert fake.grad[1].item() == pytest.approx(-0.95257 / 3, rel=1e-4)


def test_non_saturating_is_stable_for_huge_logits():
    # log(1 + e^100) = 100 (to double precision); a naive log(sigmoid) would give inf.
    loss = make_loss("ns")
    assert value(loss.generator(logits([-100.0]), None)) == pytest.approx(100.0)
    assert value(loss.discriminator(logits([-100.0]), logits([100.0]))) == pytest.approx(200.0)


# ----------------------------------------------------------------------------- hinge


def test_hinge_discriminator():
    # E[relu(1 - r)] + E[relu(1 + f)]
    #   real: relu([1 - 0, 1 - 2, 1 + 1])     = [1, 0, 2]   -> mean 1
    #   fake: relu([1 + 0.5, 1 - 3, 1 + 2])   = [1.5, 0, 3] -> mean 1.5
    expected = mean([relu(1 - r) for r in REAL]) + mean([relu(1 + f) for f in FAKE])
    assert expected == 2.5
    assert value(make_loss("hinge").discriminator(logits(REAL), logits(FAKE))) == pytest.approx(2.5, rel=1e-12)


def test_hinge_generator():
    # -E[f] = -(0.5 - 3 + 2) / 3 = 1/6
    loss = make_loss("hinge")
    assert not loss.generator_needs_real
    assert loss.gradient_penalty_weight == 0  # gp_weight only applies to wgan-gp
    assert value(loss.generator(logits(FAKE), None)) == pytest.approx(1 / 6, rel=1e-12)


# ----------------------------------------------------------------------------- WGAN-GP (+ drift)


def test_wasserstein_critic_without_drift():
    # E[f] - E[r] = -1/6 - 1/3 = -1/2 (the penalty is added by the trainer, not here)
    loss = make_loss("wgan-gp", gp_weight=10.0, drift=0.0)
    assert loss.gradient_penalty_weight == 10.0
    assert value(loss.discriminator(logits(REAL), logits(FAKE))) == pytest.approx(-0.5, rel=1e-12)


def test_wasserstein_critic_with_drift_on_the_real_logits():
    # + drift * E[r^2] = 0.6 * 5/3 = 1 (Karras et al.: on the real logits only; E[f^2] = 13.25/3 would
    # give 2.65 instead): -1/2 + 1 = 1/2.
    loss = make_loss("wgan-gp", gp_weight=10.0, drift=0.6)
    assert value(loss.discriminator(logits(REAL), logits(FAKE))) == pytest.approx(0.5, rel=1e-12)
    # The ProGAN value, drift = 0.001: -1/2 + 0.001 * 5/3.
    loss = make_loss("wgan-gp", gp_weight=10.0, drift=0.001)
    assert value(loss.discriminator(logits(REAL), logits(FAKE))) == pytest.approx(-0.5 + 0.005 / 3, rel=1e-12)


def test_wasserstein_generator():
    # -E[f] = 1/6
    assert value(make_loss("wgan-gp").generator(logits(FAKE), None)) == pytest.approx(1 / 6, rel=1e-12)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def linear_critic(w):
    """D(x) = <w, x> per sample: grad_x D = w everywhere, so ||grad|| = ||w||."""
    return lambda x: (x * w).flatten(1).sum(dim=1)


@pytest.mark.parametrize(
    ("w", "expected"),
    [
        ([3.0, 4.0], (5 - 1) ** 2),  # ||w|| = 5 -> (5 - 1)^2 = 16
        ([0.6, 0.8], 0.0),  # ||w|| = 1 -> 0: a 1-Lipschitz critic is not penalised
        ([0.0, 0.5], (0.5 - 1) ** 2),  # ||w|| = 1/2 -> 1/4: two-sided, too flat is penalised too
    ],
)
def test_gradient_penalty_of_a_linear_critic(w, expected):
    real = torch.tensor([[1.0, 2.0], [-1.0, 0.0], [3.0, -2.0]])
    fake = torch.tensor([[0.0, 0.0], [5.0, 1.0], [-2.0, 4.0]])
    penalty = gradient_penalty(linear_critic(torch.tensor(w)), real, fake, seeded())
    assert value(penalty) == pytest.approx(expected, abs=1e-6)


def test_gradient_penalty_norm_is_over_all_of_a_sample():
    # Images (N, C, H, W) = (2, 1, 2, 2) with w = [[1, 1], [1, 1]]: ||w|| = 2 (the norm of the whole
    # sample, not of a row or a pixel) -> (2 - 1)^2 = 1.
    w = torch.ones(1, 2, 2)
    real, fake = torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2)
    assert value(gradient_penalty(linear_critic(w), real, fake, seeded())) == pytest.approx(1.0, abs=1e-6)


def test_gradient_penalty_over_several_scales_takes_one_norm():
    # MSG-GAN: D sees [4-vector scale, 2-vector scale]; D = <w1, x1> + <w2, x2> with
    # ||w1||^2 = 1 + 4 + 0 + 0 = 5 and ||w2||^2 = 4 + 16 = 20: one norm sqrt(5 + 20) = 5 -> (5 - 1)^2 = 16.
    # (Separate norms per scale would give (sqrt 5 - 1)^2 + (sqrt 20 - 1)^2 = 13.53 instead.)
    w1, w2 = torch.tensor([1.0, 2.0, 0.0, 0.0]), torch.tensor([2.0, 4.0])

    def critic(scales):
        return (scales[0] * w1).sum(dim=1) + (scales[1] * w2).sum(dim=1)

    real, fake = [torch.randn(3, 4), torch.randn(3, 2)], [torch.randn(3, 4), torch.randn(3, 2)]
    assert value(gradient_penalty(critic, real, fake, seeded())) == pytest.approx(16.0, rel=1e-6)


def test_gradient_penalty_interpolates_real_and_fake_with_one_eps_per_sample():
    # D(x) = ||x||^2 / 2 per sample: grad_x D = x, so the penalty is E[(||x_hat|| - 1)^2] on the
    # interpolates x_hat = eps * real + (1 - eps) * fake themselves.
    seen = []

    def quadratic(x):
        seen.append(x.detach().clone())
        return 0.5 * x.pow(2).sum(dim=1)

    real = torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    fake = torch.tensor([[-1.0, 0.0], [0.0, -4.0], [3.0, -1.0]], dtype=torch.float64)
    penalty = value(gradient_penalty(quadratic, real, fake, seeded(7)))

    # The eps of the fixed generator: U[0, 1), one per sample (this is the draw the function makes).
    eps = torch.rand(3, generator=seeded(7)).tolist()
    assert all(0 <= e < 1 for e in eps)
    # x_hat by hand, coordinate by coordinate, with the same eps for both coordinates of a sample.
    x_hat = [
        [e * r + (1 - e) * f for r, f in zip(real_row, fake_row)]
        for e, real_row, fake_row in zip(eps, real.tolist(), fake.tolist())
    ]
    assert seen[0].flatten().tolist() == pytest.approx([c for row in x_hat for c in row], abs=1e-6)
    # e.g. sample 0: x_hat = (3 eps - (1 - eps), 0) = (4 eps - 1, 0), ||x_hat|| = |4 eps - 1|.
    assert x_hat[0][0] == pytest.approx(4 * eps[0] - 1) and x_hat[0][1] == 0
    expected = mean([(math.sqrt(sum(c * c for c in row)) - 1) ** 2 for row in x_hat])
    assert penalty == pytest.approx(expected, rel=1e-5)
    # The same generator state gives the same penalty; another seed another one.
    assert value(gradient_penalty(quadratic, real, fake, seeded(7))) == penalty
    assert value(gradient_penalty(quadratic, real, fake, seeded(8))) != pytest.approx(penalty)


def test_gradient_penalty_trains_the_critic_and_not_the_generator():
    # With w = [3, 4] as D's parameter: penalty = (||w|| - 1)^2, so
    # d penalty / dw = 2 (||w|| - 1) w / ||w|| = 2 * 4 * [0.6, 0.8] = [4.8, 6.4]
    # (the graph of grad_x D must be kept, or D gets no gradient from the penalty).
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    real = torch.randn(3, 2)
    fake = torch.randn(3, 2, requires_grad=True)  # stands for G's output
    gradient_penalty(linear_critic(w), real, fake, seeded()).backward()
    assert w.grad.tolist() == pytest.approx([4.8, 6.4], rel=1e-6)
    assert fake.grad is None  # real and fake are detached: the penalty reaches no generator


# ----------------------------------------------------------------------------- relativistic average hinge


def test_relativistic_average_hinge_discriminator():
    # D: E_r[relu(1 - (r - mean f))] + E_f[relu(1 + (f - mean r))]
    #   r - mean f = r + 1/6 = [1/6, 13/6, -5/6];  1 - that = [5/6, -7/6, 11/6]  -> relu mean (5/6 + 11/6) / 3 = 8/9
    #   f - mean r = f - 1/3 = [1/6, -10/3, 5/3]; 1 + that = [7/6, -7/3, 8/3]   -> relu mean (7/6 + 8/3) / 3 = 23/18
    #   total 8/9 + 23/18 = 39/18 = 13/6
    mean_r, mean_f = mean(REAL), mean(FAKE)
    expected = mean([relu(1 - (r - mean_f)) for r in REAL]) + mean([relu(1 + (f - mean_r)) for f in FAKE])
    assert expected == pytest.approx(13 / 6, rel=1e-12)
    loss = make_loss("rahinge")
    assert value(loss.discriminator(logits(REAL), logits(FAKE))) == pytest.approx(13 / 6, rel=1e-12)


def test_relativistic_average_hinge_generator():
    # G: E_f[relu(1 - (f - mean r))] + E_r[relu(1 + (r - mean f))]  (the roles swapped)
    #   1 - (f - 1/3) = [5/6, 13/3, -2/3]  -> relu mean (5/6 + 13/3) / 3 = 31/18
    #   1 + (r + 1/6) = [7/6, 19/6, 1/6]   -> relu mean (7/6 + 19/6 + 1/6) / 3 = 3/2
    #   total 31/18 + 27/18 = 58/18 = 29/9
    mean_r, mean_f = mean(REAL), mean(FAKE)
    expected = mean([relu(1 - (f - mean_r)) for f in FAKE]) + mean([relu(1 + (r - mean_f)) for r in REAL])
    assert expected == pytest.approx(29 / 9, rel=1e-12)
    loss = make_loss("rahinge")
    assert loss.generator_needs_real
    # Argument order is generator(fake, real).
    assert value(loss.generator(logits(FAKE), logits(REAL))) == pytest.approx(29 / 9, rel=1e-12)
    # G's loss is D's loss with real and fake exchanged.
    assert value(loss.generator(logits(FAKE), logits(REAL))) == pytest.approx(
        value(loss.discriminator(logits(FAKE), logits(REAL))), rel=1e-12
    )
    with pytest.raises(AssertionError, match="needs the real logits"):
        loss.generator(logits(FAKE), None)


def test_relativistic_average_hinge_generator_gradient_flows_through_the_fake_mean():
    # Unlike plain hinge, the real term also depends on G through mean f:
    # d/df_j of E_r[relu(1 + r - mean f)] = -(1/3) * (share of active real terms = 3/3) = -1/3,
    # d/df_j of E_f[relu(1 - f + mean r)] = -(1/3) * [f_j active]: f = [0.5, -3, 2] -> [1, 1, 0].
    # Total: [-1/3 - 1/3, -1/3 - 1/3, -1/3 - 0] = [-2/3, -2/3, -1/3].
    fake = logits(FAKE, requires_grad=True)
    make_loss("rahinge").generator(fake, logits(REAL)).backward()
    assert fake.grad.tolist() == pytest.approx([-2 / 3, -2 / 3, -1 / 3], rel=1e-12)
