"""Noise and masks that make the corrupted inputs of chapters 03 (denoising) and 04 (inpainting).

Every function takes images (B, C, H, W) in [0, 1] and a torch generator, so
the same seed gives the same corruption, and is usable as ``fit(transform=...)``
through ``functools.partial``.
"""

from __future__ import annotations
