"""Plain ``nn.Module`` autoencoders; no training code here.

Every autoencoder has ``encode(x) -> z``, ``decode(z) -> x_hat`` and
``forward(x) = decode(encode(x))``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from . import speed


def weights_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of ``model``'s weights (float32 unless it was converted), which its inputs must have."""
    first = next(model.parameters(), None)
    return torch.float32 if first is None else first.dtype


def _conversion(name: str, dtype: torch.dtype) -> str:
    return {torch.float32: f"{name}.float()", torch.float64: f"{name}.double()"}.get(dtype, f"{name}.to({dtype})")


def check_dtype(x: torch.Tensor, model: nn.Module, name: str = "x") -> None:
    """Raise ValueError unless ``x`` has the dtype of ``model``'s weights (else torch fails deep inside a layer)."""
    expected = weights_dtype(model)
    if x.dtype != expected:
        raise ValueError(f"{name} must have the dtype of {type(model).__name__}'s weights, {expected}, got "
                         f"{x.dtype}: pass {_conversion(name.split(' ')[0], expected)}")


def check_images(x: torch.Tensor, shape: tuple[int, ...], name: str = "x", model: nn.Module | None = None) -> None:
    """Raise ValueError unless ``x`` is a float tensor of shape (B, *shape), of ``model``'s dtype when given."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if model is not None:
        check_dtype(x, model, name)
    elif not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got dtype {x.dtype}")
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} must have shape (B, {', '.join(map(str, shape))}), "
                         f"got {tuple(x.shape)}")


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive int, got {value!r}")


class Autoencoder(nn.Module):
    """What every autoencoder here shares: ``encoder`` and ``decoder`` modules, checked inputs.

    Subclasses set ``input_shape``, ``latent_dim``, ``encoder`` and ``decoder``.
    """

    input_shape: tuple[int, ...]
    latent_dim: int

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input (B, *input_shape) -> code (B, latent_dim)."""
        check_images(x, self.input_shape, model=self)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Code (B, latent_dim) -> reconstruction (B, *input_shape)."""
        check_images(z, (self.latent_dim,), name="z", model=self)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class MLPAutoencoder(Autoencoder):
    """Fully connected autoencoder: input -> hidden... -> latent_dim -> mirrored hidden -> input.

    Args:
        input_shape: shape of one input, e.g. ``(1, 28, 28)``.
        hidden: widths of the encoder's hidden layers; the decoder mirrors them.
        output: ``"sigmoid"`` keeps ``x_hat`` in [0, 1]; ``"linear"`` leaves it free.
    """

    def __init__(self, input_shape=(1, 28, 28), hidden=(256,), latent_dim: int = 32,
                 output: str = "sigmoid"):
        super().__init__()
        _check_positive(latent_dim=latent_dim, **{f"hidden[{i}]": h for i, h in enumerate(hidden)},
                        **{f"input_shape[{i}]": s for i, s in enumerate(input_shape)})
        if output not in {"sigmoid", "linear"}:
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
        self.input_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        n_in = math.prod(self.input_shape)
        widths = [n_in, *hidden]
        enc: list[nn.Module] = [nn.Flatten()]  # (B, C*H*W)
        for a, b in zip(widths[:-1], widths[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        enc.append(nn.Linear(widths[-1], latent_dim))  # (B, latent_dim)
        dec: list[nn.Module] = []
        back = [latent_dim, *reversed(hidden)]
        for a, b in zip(back[:-1], back[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        dec.append(nn.Linear(back[-1], n_in))
        if output == "sigmoid":
            dec.append(nn.Sigmoid())
        dec.append(nn.Unflatten(1, self.input_shape))  # (B, C, H, W)
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)



class ConvAutoencoder(Autoencoder):
    """Small convolutional autoencoder for (C, H, W) images with H and W divisible by 4.

    Two stride-2 convolutions halve the image twice, a linear layer makes the
    code of ``latent_dim`` numbers, and transposed convolutions undo it all.

    With ``skips=True`` each decoder level also gets the encoder's feature map of the same
    size, *added* to its own (so the parameters are exactly those of the network without
    skips): the detail then bypasses the code, and the network can copy any input
    (chapter 03). ``encode`` still gives the code, but ``forward`` is then more than
    ``decode(encode(x))``.
    """

    def __init__(self, input_shape=(1, 28, 28), channels=(16, 32), latent_dim: int = 32, skips: bool = False):
        super().__init__()
        self.skips = skips
        c, h, w = input_shape
        _check_positive(channels_in=c, latent_dim=latent_dim, c1=channels[0], c2=channels[1])
        if h % 4 or w % 4:
            raise ValueError(f"height and width must be divisible by 4, got {h}x{w}")
        c1, c2 = channels
        self.input_shape = (c, h, w)
        self.latent_dim = latent_dim
        flat = (c2, h // 4, w // 4)
        self.encoder = nn.Sequential(
            nn.Conv2d(c, c1, 3, stride=2, padding=1), nn.ReLU(),   # (B, c1, H/2, W/2)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # (B, c2, H/4, W/4)
            nn.Flatten(),                                          # (B, c2*H/4*W/4)
            nn.Linear(math.prod(flat), latent_dim),                # (B, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, math.prod(flat)), nn.ReLU(),
            nn.Unflatten(1, flat),                                                   # (B, c2, H/4, W/4)
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # (B, c1, H/2, W/2)
            nn.ConvTranspose2d(c1, c, 3, stride=2, padding=1, output_padding=1),   # (B, C, H, W)
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.skips:
            return self.decode(self.encode(x))
        check_images(x, self.input_shape, model=self)
        e1 = self.encoder[:2](x)                 # (B, c1, H/2, W/2)
        e2 = self.encoder[2:4](e1)               # (B, c2, H/4, W/4)
        z = self.encoder[4:](e2)                 # (B, latent_dim)
        h = self.decoder[:3](z) + e2             # (B, c2, H/4, W/4): the code's map plus the skip
        h = self.decoder[3:5](h) + e1            # (B, c1, H/2, W/2)
        return self.decoder[5:](h)               # (B, C, H, W)



def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm and ReLU; keeps height and width."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder-decoder with skip connections (Ronneberger et al., 2015), sized for a CPU.

    Each encoder level halves height and width and widens the channels; the
    decoder doubles them back and, when ``skips`` is true, concatenates the
    encoder's feature map of the same size before convolving. With
    ``skips=False`` it is the same network without the shortcuts: the control
    that shows what they are for.

    Args:
        channels: feature channels per level, e.g. ``(16, 32, 64, 128)``; the
            last is the bottleneck. Inputs need H and W divisible by
            ``2 ** (len(channels) - 1)``.
        output: ``"linear"`` (raw scores or values), ``"sigmoid"`` or
            ``"clamp"`` (linear, clamped to [0, 1] at inference).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, channels=(16, 32, 64, 128),
                 skips: bool = True, output: str = "linear"):
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels,
                        **{f"channels[{i}]": c for i, c in enumerate(channels)})
        if len(channels) < 2:
            raise ValueError(f"channels needs at least 2 levels, got {tuple(channels)}")
        if output not in {"linear", "sigmoid", "clamp"}:
            raise ValueError(f"output must be 'linear', 'sigmoid' or 'clamp', got {output!r}")
        self.in_channels, self.channels, self.skips, self.output = in_channels, tuple(channels), skips, output
        self.down = nn.ModuleList()
        c_prev = in_channels
        for c in channels:
            self.down.append(_conv_block(c_prev, c))
            c_prev = c
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for c_deep, c_skip in zip(channels[:0:-1], channels[-2::-1]):
            self.up.append(nn.ConvTranspose2d(c_deep, c_skip, 2, stride=2))
            self.merge.append(_conv_block(2 * c_skip if skips else c_skip, c_skip))
        self.head = nn.Conv2d(channels[0], out_channels, 1)
        speed.channels_last(self)

    @property
    def multiple(self) -> int:
        """Height and width of inputs must be multiples of this."""
        return 2 ** (len(self.channels) - 1)

    def _encoder_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every encoder level's feature map, the bottleneck last."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected images (B, {self.in_channels}, H, W), got "
                             f"{tuple(getattr(x, 'shape', ()))}")
        check_dtype(x, self)
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"height and width must be multiples of {self.multiple} for "
                             f"{len(self.channels)} levels, got {h}x{w}; pad or crop the input")
        x = speed.channels_last_input(x)
        features = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))  # (B, channels[i], H/2^i, W/2^i)
            features.append(x)
        return features

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck feature map (B, channels[-1], H/m, W/m): the code, when there are no skips."""
        return self._encoder_features(x)[-1].contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self._encoder_features(x)
        x = features.pop()                            # bottleneck (B, channels[-1], H/m, W/m)
        for up, merge in zip(self.up, self.merge):
            x = up(x)                                 # doubles H and W
            x = merge(torch.cat([x, features.pop()], 1) if self.skips else x)
        x = self.head(x).contiguous()                 # (B, out_channels, H, W), usual layout
        if self.output == "sigmoid":
            return torch.sigmoid(x)
        if self.output == "clamp" and not self.training:
            return x.clamp(0.0, 1.0)
        return x


class Inpainter(nn.Module):
    """A network that paints only the hole: the known pixels pass through unchanged (chapter 05).

    Its input is the masked image with the mask as the last channel (``inpainting_input``),
    (B, C + 1, H, W); its output, (B, C, H, W), is ``net``'s output inside the hole and
    the input outside it. So a loss on the whole image counts only the hole: the known
    pixels are exact and contribute no error. With ``sees_mask=False`` the network gets
    only the masked image (C channels) and must guess where the hole is.
    """

    def __init__(self, net: nn.Module, sees_mask: bool = True):
        super().__init__()
        self.net, self.sees_mask = net, sees_mask
        self.in_channels = net.in_channels + (0 if sees_mask else 1)  # what fill_hole passes in

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_in, torch.Tensor) or x_in.dim() != 4 or x_in.shape[1] != self.in_channels:
            raise ValueError(f"expected masked images with the mask as last channel (B, {self.in_channels}, H, W), "
                             f"got {tuple(getattr(x_in, 'shape', ()))}")
        check_dtype(x_in, self, "x_in")
        image, mask = x_in[:, :-1], x_in[:, -1:]
        painted = self.net(x_in if self.sees_mask else image)
        return image * (1 - mask) + painted * mask


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Conv1dAutoencoder(Autoencoder):
    """Convolutional autoencoder for series (B, C, L) with L divisible by 4, e.g. heartbeats (B, 1, 140).

    Two stride-2 convolutions shorten the series twice, a linear layer makes the
    code, and transposed convolutions undo it all. The output is linear: beats
    are z-normalised, not confined to [0, 1].
    """

    def __init__(self, input_shape=(1, 140), channels=(16, 32), latent_dim: int = 8):
        super().__init__()
        c, length = input_shape
        _check_positive(channels_in=c, length=length, latent_dim=latent_dim, c1=channels[0],
                        c2=channels[1])
        if length % 4:
            raise ValueError(f"the series length must be divisible by 4, got {length}")
        c1, c2 = channels
        self.input_shape = (c, length)
        self.latent_dim = latent_dim
        flat = (c2, length // 4)
        self.encoder = nn.Sequential(
            nn.Conv1d(c, c1, 5, stride=2, padding=2), nn.ReLU(),   # (B, c1, L/2)
            nn.Conv1d(c1, c2, 5, stride=2, padding=2), nn.ReLU(),  # (B, c2, L/4)
            nn.Flatten(),                                          # (B, c2*L/4)
            nn.Linear(math.prod(flat), latent_dim),                # (B, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, math.prod(flat)), nn.ReLU(),
            nn.Unflatten(1, flat),                                          # (B, c2, L/4)
            nn.ConvTranspose1d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # (B, c1, L/2)
            nn.ConvTranspose1d(c1, c, 4, stride=2, padding=1),              # (B, C, L)
        )

