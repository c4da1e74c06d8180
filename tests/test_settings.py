import pytest

from ganbench.errors import UserError
from ganbench.settings import Setting, parse_assignments, resolve

SCHEMA = {
    "lr": Setting(2e-4, "learning rate", minimum=0, exclusive_minimum=True),
    "steps": Setting(1, "steps", minimum=1),
    "widths": Setting((8, 8), "widths"),
    "flag": Setting(False, "a flag"),
    "loss": Setting("ns", "loss", choices=("ns", "hinge")),
    "threshold": Setting(None, "threshold", kind="float", optional=True),
}


def test_defaults_then_layers_in_order():
    values = resolve(SCHEMA, "v", {"lr": 1e-3, "steps": 3}, {"lr": "5e-4", "widths": "4,2", "flag": "yes"})
    assert values == {"lr": 5e-4, "steps": 3, "widths": (4, 2), "flag": True, "loss": "ns", "threshold": None}


def test_optional_accepts_none_and_numbers():
    assert resolve(SCHEMA, "v", {"threshold": "0.3"})["threshold"] == 0.3
    assert resolve(SCHEMA, "v", {"threshold": "none"})["threshold"] is None


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"lr": "-1"}, "bad value for v.lr: -1.0 (must be > 0)"),
        ({"lr": "0"}, "must be > 0"),
        ({"steps": "0"}, "must be >= 1"),
        ({"steps": "1.5"}, "is not an integer"),
        ({"loss": "wgan"}, "choose one of: ns, hinge"),
        ({"flag": "maybe"}, "is not true or false"),
        ({"lr": "nan"}, "finite"),
        ({"colour": "red"}, "unknown setting v.colour; v accepts:"),
        ({"steps": None}, "none is not accepted"),
    ],
)
def test_bad_values_name_what_is_accepted(layer, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        resolve(SCHEMA, "v", layer)


def test_parse_assignments_scopes():
    assert parse_assignments(["dcgan.lr_d=1e-4", "n_critic=2", "eval.samples=10"]) == {
        "dcgan": {"lr_d": "1e-4"},
        "*": {"n_critic": "2"},
        "eval": {"samples": "10"},
    }
    with pytest.raises(UserError, match="write KEY=VALUE"):
        parse_assignments(["lr_d"])
