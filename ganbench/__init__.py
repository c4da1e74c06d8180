"""ganbench: train and evaluate GAN variants and neural style transfer, reproducibly.

Data flows one way: suite -> runs -> Ignite engines -> evaluators -> records -> tables/plots/report.
"""

__version__ = "0.1.0"
