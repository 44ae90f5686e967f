"""Lookalike's trainer: deep metric learning for the embedding network, independent of the app.

Import the submodules (`trainer.model`, `trainer.checkpoint`, `trainer.train`, ...); this package
itself imports nothing, so light helpers such as `trainer.options` load without torch. Images are
decoded by `foundation.images`, the same decoder the app uses.
"""
