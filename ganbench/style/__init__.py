"""Neural style transfer after Gatys, Ecker and Bethge (CVPR 2016), benchmarked like the GANs.

The image itself is optimised (one Ignite iteration = one Adam step or one L-BFGS step) to match
the content image's features at a content layer and the style image's Gram matrices at several
style layers of a VGG network. Modules: :mod:`.losses` (Gram matrix and losses),
:mod:`.features` (VGG-16/19 by layer name, weights resolution), :mod:`.images` (content and style
images), :mod:`.engine` (the Ignite engine), :mod:`.run` (one run of the matrix and its record),
:mod:`.suite` (the ``style`` suite: presets x content x style x seeds) and :mod:`.report`
(table columns, image grids, loss curves).

Every knob is a :class:`~ganbench.settings.Setting` of scope ``style`` (``--set style.tv_weight=1e-2``
for every preset, ``--set adam.adam_lr=0.05`` for one); ``ganbench list --settings style`` prints them.
"""

from __future__ import annotations

from ganbench.settings import DIVERGE_ABOVE, Setting

STYLE_SCOPE = "style"
# The suite's default images (see :mod:`ganbench.style.images`): scikit-image photos, and the
# paintings of Gatys et al. 2016 looked up by name in ``<data root>/style/``.
DEFAULT_CONTENT = ("astronaut", "chelsea", "coffee")
DEFAULT_STYLE = ("starry_night", "the_scream", "shipwreck")
GATYS_STYLE_LAYERS = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"

STYLE_SETTINGS: dict[str, Setting] = {
    "arch": Setting("vgg19", "feature network (torchvision VGG)", choices=("vgg19", "vgg16")),
    "weights": Setting("imagenet", "feature network weights: imagenet (a file, see --vgg-weights) or random "
                       "(untrained; explicit opt-in)", choices=("imagenet", "random")),
    "pooling": Setting("avg", "pooling layers: avg (Gatys et al.) or max (VGG as trained)", choices=("avg", "max")),
    "content_layer": Setting("relu4_2", "layer whose features the content loss matches (Gatys' conv4_2)"),
    "style_layers": Setting(GATYS_STYLE_LAYERS, "comma-separated layers whose Gram matrices the style loss matches"),
    "style_layer_weights": Setting(None, "weight of each style layer, in order (none: equal weights 1/L)",
                                   kind="floats", optional=True, minimum=0),
    "content_weight": Setting(1.0, "content loss weight alpha (alpha/beta: the content/style ratio)", minimum=0),
    "style_weight": Setting(10.0, "style loss weight beta", minimum=0),
    "tv_weight": Setting(0.0, "total-variation loss weight", minimum=0),
    "optimizer": Setting("lbfgs", "lbfgs (one L-BFGS iteration per step, step length 1) or adam",
                         choices=("lbfgs", "adam")),
    "adam_lr": Setting(0.1, "Adam learning rate of the optimised values (logits for pixels=sigmoid; about 0.02 "
                       "suits pixels=clamp)", minimum=0, exclusive_minimum=True),
    "lbfgs_history": Setting(100, "L-BFGS history size (curvature pairs kept)", minimum=1),
    "pixels": Setting("sigmoid", "keeping pixels in [0, 1]: sigmoid of unconstrained values, or clamp after each step",
                      choices=("sigmoid", "clamp")),
    "init": Setting("noise", "start image: noise (uniform in [0, 1], seeded) or content", choices=("noise", "content")),
    "image_size": Setting(512, "side of the square content, style and result images (pixels)", minimum=32),
    "diverge_above": DIVERGE_ABOVE,
}
