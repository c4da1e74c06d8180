"""GAN variants, one module each, each defining ``VARIANT`` (registered by :mod:`ganbench.builtins`)."""
