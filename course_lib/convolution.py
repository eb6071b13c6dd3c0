"""Looking inside convolutional networks (chapter 03): shapes, receptive fields, feature maps."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.ConvTranspose2d)


def _pair(v) -> int:
    """Square kernels, strides and paddings only: the first of a pair (the two must agree)."""
    if isinstance(v, tuple):
        if len(set(v)) != 1:
            raise ValueError(f"only square kernels, strides and paddings are supported, got {v}")
        return int(v[0])
    return int(v)


def shape_trace(layers: nn.Sequential, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """Run ``x`` through ``layers`` one at a time: ``[(layer description, output shape), ...]``."""
    if not isinstance(layers, nn.Sequential) or not isinstance(x, torch.Tensor):
        raise ValueError(f"expected an nn.Sequential and a tensor, got {type(layers).__name__} and "
                         f"{type(x).__name__}")
    trace = [("input", tuple(x.shape))]
    with torch.no_grad():
        for layer in layers:
            x = layer(x)
            trace.append((repr(layer), tuple(x.shape)))
    return trace


def receptive_field(layers) -> int:
    """Side of the input square one output unit of ``layers`` sees (convolutions and pooling).

    Each layer with kernel k adds (k - 1) x (the product of the strides before it): a
    3x3 convolution sees 3 pixels, a second one 5, but after a stride-2 layer every
    further 3x3 convolution adds 4. Element-wise layers (ReLU, batch norm) add nothing.
    """
    size, jump = 1, 1
    for layer in layers:
        if isinstance(layer, nn.ConvTranspose2d):
            raise ValueError("receptive_field covers encoders (convolutions and pooling), not transposed convolutions")
        if isinstance(layer, _SPATIAL):
            dilation = _pair(getattr(layer, "dilation", 1))
            size += (_pair(layer.kernel_size) - 1) * dilation * jump
            jump *= _pair(layer.stride)
    return size


def influence_map(layers: nn.Module, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """Which input pixels change the centre output unit of ``layers``: (H, W) bool, from its gradient.

    The pixels with a non-zero gradient are the unit's receptive field as the network
    really computes it (the padding cuts it off at the image border). The gradient is taken
    at 16 random inputs and a pixel counts if it matters for any of them, so that a ReLU
    that happens to be off for one input does not hide part of the field.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape}")
    x = torch.rand(16, *input_shape, generator=torch.Generator().manual_seed(0), requires_grad=True)
    was_training = layers.training
    layers.eval()
    y = layers(x)
    layers.train(was_training)
    if y.dim() != 4:
        raise ValueError(f"layers must output feature maps (B, C, H, W), got {tuple(y.shape)}")
    y[:, :, y.shape[-2] // 2, y.shape[-1] // 2].sum().backward()  # the images do not mix: one gradient each
    return x.grad.abs().sum((0, 1)) > 0


def feature_maps(model: nn.Module, x: torch.Tensor, layers: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """The output of each named sub-module of ``model`` when it processes ``x``: name -> (B, C, h, w)."""
    if not layers:
        raise ValueError("layers must name at least one module")
    found = {id(m) for m in model.modules()}
    missing = [name for name, m in layers.items() if id(m) not in found]
    if missing:
        raise ValueError(f"not modules of the model: {missing}")
    maps: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: maps.__setitem__(name, out.detach()))
             for name, m in layers.items()]
    try:
        with torch.no_grad():
            model.eval()
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return maps


def maps_as_images(maps: torch.Tensor, size: tuple[int, int], channels: int) -> torch.Tensor:
    """The first ``channels`` maps of one image (C, h, w) as pictures (channels, 1, *size) in [0, 1].

    Each map is scaled to its own range (a map that is constant shows black) and enlarged
    with nearest-neighbour, so a 7x7 map shows as 7x7 blocks: the coarseness is real.
    """
    if maps.dim() != 3 or channels < 1:
        raise ValueError(f"expected maps (C, h, w) and channels >= 1, got {tuple(maps.shape)} and {channels}")
    m = maps[:channels].unsqueeze(1).float()                       # (channels, 1, h, w)
    low = m.amin(dim=(2, 3), keepdim=True)
    span = (m.amax(dim=(2, 3), keepdim=True) - low).clamp_min(1e-8)
    return F.interpolate((m - low) / span, size=size, mode="nearest")
