"""Every model the course trains, defined once: its architecture, its start, its training settings.

A chapter and its solutions notebook call the same function here, so the two cannot
drift apart, and the second one to run finds the first one's weights in the cache.
Each recipe seeds torch with ``cfg.seed`` right before building its model (so the
weights never depend on which cells ran before), trains it with ``train`` and returns
``(model, history)``. The epochs and data sizes come from ``sizes.py``; the names are
the weights cache's file names.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from . import sizes
from .config import Config
from .corruptions import InpaintingTransform, Noise
from .examples import Splits
from .metrics import neighbour_label_share, segmentation_scores, unreconstructed_share
from .models import Conv1dAutoencoder, ConvAutoencoder, Inpainter, MLPAutoencoder, UNet
from .scenes import Scenes, make_scenes
from .training import History, PixelCrossEntropy, fit_cached, predict, predict_labels

Trained = tuple[nn.Module, History]


def train(cfg: Config, model: nn.Module, name: str, x: torch.Tensor, target: torch.Tensor | None = None,
          **fit_kwargs) -> History:
    """``training.fit_cached`` with this run's weights cache, seed and device (from ``cfg``).

    Every other keyword is ``fit``'s; a recipe gives the ones its lesson is about.
    """
    fit_kwargs = {"seed": cfg.seed, "device": cfg.device, **fit_kwargs}
    return fit_cached(model, cfg.cache_dirs if cfg.use_cache else None, name, x, target, **fit_kwargs)


def average_pixel(x: torch.Tensor, per_channel: bool = False) -> torch.Tensor:
    """The average pixel of (N, C, H, W) images (per channel: shape (C,)), the same on any thread count.

    A U-Net's output starts there. torch's float32 mean adds in an order that depends on the
    thread count, so its last bit did: the initial weights, and with them the weights cache's
    key, differed between a 1-thread kernel and a 2-thread run (the photo denoiser missed).
    NumPy adds in one fixed order, in float64.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.numel() == 0:
        raise ValueError(f"x must be a non-empty (N, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    axes = (0, 2, 3) if per_channel else None
    return torch.from_numpy(np.asarray(x.detach().cpu().double().numpy().mean(axis=axes))).float()


def _seeded(cfg: Config, build, seed_offset: int = 0) -> nn.Module:
    torch.manual_seed(cfg.seed + seed_offset)
    return build()


# --------------------------------------------------------------------------- 01 an autoencoder from scratch

# --------------------------------------------------------------------------- 02 bottleneck size

# Until the validation loss stops improving: the rate divided by 5 after two epochs without a 0.3%
# gain, training stopped after three, and the best epoch's weights kept.
CONVERGED = dict(schedule="plateau", patience=3, min_improvement=3e-3)


def _bottleneck_fit(cfg: Config, digits: Splits, num_epochs: int | None = None) -> dict:
    """Adam at 1e-3 in batches of 64, ``CONVERGED``, at most ``max_epochs``."""
    epochs = sizes.of(cfg, "bottleneck").max_epochs if num_epochs is None else num_epochs
    return dict(x_val=digits.val.x, num_epochs=epochs, batch_size=cfg.batch_size, lr=1e-3,
                **CONVERGED)


def bottleneck_autoencoder(cfg: Config, digits: Splits, latent_dim: int) -> Trained:
    """The MLP autoencoder 784-512-``latent_dim``-512-784 of chapters 01 and 02, seeded with ``cfg.seed + latent_dim``.

    Adam at 1e-3 until the validation loss stops improving (``CONVERGED``). Chapter 01 trains
    it at 32 and 2, chapter 02 at every size of its sweep: the same model, so the two
    chapters' figures agree (and the second finds the first's weights in the cache).
    """
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=(512,), latent_dim=latent_dim), seed_offset=latent_dim)
    return model, train(cfg, model, f"ch02-mlp512-k{latent_dim}", digits.train.x, **_bottleneck_fit(cfg, digits))


def code_size_sweep(cfg: Config, digits: Splits, latent_dims) -> dict[int, Trained]:
    """``bottleneck_autoencoder`` at each code size of ``latent_dims``: {k: (model, history)}."""
    return {k: bottleneck_autoencoder(cfg, digits, k) for k in latent_dims}


def deep_autoencoder(cfg: Config, digits: Splits, latent_dim: int = 16) -> Trained:
    """An MLP autoencoder 784-512-256-``latent_dim``, trained like the sweep (chapter 02's exercises)."""
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=(512, 256), latent_dim=latent_dim))
    return model, train(cfg, model, f"ch02-deep{latent_dim}", digits.train.x, **_bottleneck_fit(cfg, digits))


def wide_linear(cfg: Config, digits: Splits, transform: Noise | None = None) -> Trained:
    """A linear autoencoder 784-1024-784 (a code wider than the input), trained like the sweep.

    It learns the identity ever more exactly and never stops improving, so it trains for
    ``wide_linear_epochs`` only: longer would make it copy more, not less.
    ``transform`` corrupts its inputs during training (the targets stay clean).
    """
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=(), latent_dim=1024, output="linear"))
    name = "ch02-wide-linear" if transform is None else "ch02-wide-linear-noisy"
    settings = _bottleneck_fit(cfg, digits, sizes.of(cfg, "bottleneck").wide_linear_epochs)
    return model, train(cfg, model, name, digits.train.x, transform=transform, **settings)


def spatial_code_conv(cfg: Config, digits: Splits) -> Trained:
    """A two-level conv encoder-decoder without skips whose code is a 16x14x14 feature map."""
    model = _seeded(cfg, lambda: UNet(1, 1, channels=(8, 16), skips=False, output="clamp"))
    return model, train(cfg, model, "ch02-conv-spatial", digits.train.x, **_bottleneck_fit(cfg, digits))


# --------------------------------------------------------------------------- 03 convolutional autoencoders

def conv_autoencoder(cfg: Config, digits: Splits, latent_dim: int, *, skips: bool = False,
                     channels=(16, 32), transform: Noise | None = None) -> Trained:
    """``ConvAutoencoder`` (16-32 channels) with a code of ``latent_dim``, trained like chapter 02's sweep.

    Same optimiser, batches and stopping rule as ``code_size_sweep``'s MLPs (``CONVERGED``),
    so the two differ only in their layers. Without skips it trains until validation stops
    improving (at most ``max_epochs``); with skips it can copy, copies ever better, and gets
    ``skip_epochs``, like chapter 02's wide linear model. ``transform`` corrupts its inputs
    during training (the targets stay clean).

    ``History.val_metric`` follows what the lesson is about after every epoch: without skips,
    how often a validation digit's nearest validation digits in code space share its label
    (``val_neighbour_share``); with skips, how much of uniform noise it leaves unreconstructed
    (``val_noise_unreconstructed``: falling means it copies better).
    """
    model = _seeded(cfg, lambda: ConvAutoencoder(channels=channels, latent_dim=latent_dim, skips=skips),
                    seed_offset=latent_dim)
    name = f"ch03-conv{latent_dim}" + ("-skips" if skips else "") + ("" if channels == (16, 32) else
                                                                       "-" + "-".join(map(str, channels)))
    name += "" if transform is None else "-noisy"
    ch = sizes.of(cfg, "convolutional")
    settings = _bottleneck_fit(cfg, digits, ch.skip_epochs if skips else ch.max_epochs)
    watch = (functools.partial(val_noise_unreconstructed, torch.rand(digits.val.x.shape,
                                                                     generator=torch.Generator().manual_seed(cfg.seed)))
             if skips else functools.partial(val_neighbour_share, digits.val.x, digits.val.y, ch.retrieval_neighbours))
    return model, train(cfg, model, name, digits.train.x, transform=transform, val_metric=watch, **settings)


def val_neighbour_share(x_val: torch.Tensor, y_val: torch.Tensor, k: int, model) -> float:
    """The mean share of each validation digit's ``k`` nearest validation digits in code space with its label."""
    return neighbour_label_share(predict(model, x_val, method="encode"), y_val, k=k).mean().item()


def val_noise_unreconstructed(noise: torch.Tensor, model) -> float:
    """The share of ``noise``'s energy that ``model`` leaves unreconstructed (0: it copies the noise exactly)."""
    return unreconstructed_share(noise, predict(model, noise).clamp(0, 1))


# --------------------------------------------------------------------------- 04 denoising

ANY_NOISE = Noise(menu=(("gaussian", 0.1, 0.7), ("gaussian", 0.1, 0.7), ("salt-and-pepper", 0.05, 0.3),
                        ("masking", 0.2, 0.7)))  # a kind and a level per image; Gaussian drawn twice as often
PHOTO_NOISE = Noise("gaussian", 0.1)


def unet(cfg: Config, mean_pixel: float, skips: bool = True) -> nn.Module:
    """Chapter 04's U-Net 8-16-32, its output starting at the average pixel value ``mean_pixel``."""
    model = _seeded(cfg, lambda: UNet(1, 1, channels=(8, 16, 32), skips=skips, output="clamp"))
    model.head.bias.data.fill_(mean_pixel)
    return model


# Chapter 04's U-Nets all get one budget: one cycle up to 1e-2 over ``sizes denoising.epochs`` passes.
# Measured on the 5,000 training digits at seed 0 (RESULTS.md, "Chapter 04 on one fixed budget"): trained
# until the validation loss stopped improving (commit 64b2279, plateau schedule), the same denoisers scored
# 0.06-0.62 dB more (0.16 dB at sigma 0.5) and the notebook took twice as long, with the same verdicts.
DENOISING_SCHEDULE = dict(schedule="one-cycle", lr=1e-2)


def _denoising_fit(cfg: Config, x_val: torch.Tensor, transform: Noise | None, batch_size: int) -> dict:
    """Fresh noise per batch; one cycle up to 1e-2 over ``sizes denoising.epochs`` passes."""
    return dict(x_val=x_val, transform=transform, num_epochs=sizes.of(cfg, "denoising").epochs,
                batch_size=batch_size, **DENOISING_SCHEDULE)


def denoiser(cfg: Config, digits: Splits, noise: Noise, skips: bool = True) -> Trained:
    """``unet`` trained to map ``noise(x)`` back to ``x`` (``_denoising_fit``)."""
    model = unet(cfg, average_pixel(digits.train.x).item(), skips)
    name = "ch04-dae-" + ("any" if noise.menu is not None else f"{noise.kind}{noise.level}")
    name += "" if skips else "-noskips"
    history = train(cfg, model, name, digits.train.x, **_denoising_fit(cfg, digits.val.x, noise, cfg.batch_size))
    return model, history


def clean_trained_unet(cfg: Config, digits: Splits) -> Trained:
    """The control: the same ``unet``, the same recipe, trained as a plain autoencoder on clean digits."""
    model = unet(cfg, average_pixel(digits.train.x).item())
    history = train(cfg, model, "ch04-plain", digits.train.x, **_denoising_fit(cfg, digits.val.x, None, cfg.batch_size))
    return model, history


def photo_denoiser(cfg: Config, patches: torch.Tensor, val_patches: torch.Tensor) -> Trained:
    """``unet`` trained on grey photo patches against ``PHOTO_NOISE``, in batches of 32, like ``denoiser``."""
    model = unet(cfg, average_pixel(patches).item())
    history = train(cfg, model, "ch04-photo-dae", patches, **_denoising_fit(cfg, val_patches, PHOTO_NOISE, 32))
    return model, history


# --------------------------------------------------------------------------- 05 inpainting

DIGIT_HOLES = dict(num_blocks=1, block=(8, 14))  # one block, each side 8 to 14 pixels
PHOTO_HOLES = dict(num_blocks=1, block=(4, 24))  # from a few pixels to most of a 32x32 patch


def _inpainting_unet(cfg: Config, channels: int, mean_pixel, sees_mask: bool) -> Inpainter:
    """A U-Net 8-16-32 inside an ``Inpainter``, its output starting at ``mean_pixel`` (per channel)."""
    net = _seeded(cfg, lambda: UNet(in_channels=channels + int(sees_mask), out_channels=channels,
                                    channels=(8, 16, 32), output="clamp"))
    net.head.bias.data.copy_(torch.as_tensor(mean_pixel, dtype=torch.float32).flatten())
    return Inpainter(net, sees_mask=sees_mask)


def _inpainting_fit(cfg: Config, x_val: torch.Tensor, holes: dict, num_epochs: int, kind: str = "blocks") -> dict:
    """Fresh holes for every batch; one cycle up to 1e-2 in batches of 32 over ``num_epochs``, no early stop.

    Every inpainter of a comparison gets the same fixed budget, so none can stop early on one
    noisy validation epoch while its rival trains on; the validation loss after every epoch
    shows how far each got (a learning curve over one budget, as in chapter 06).
    """
    return dict(x_val=x_val, transform=InpaintingTransform(kind, **holes), batch_size=32, lr=1e-2,
                schedule="one-cycle", num_epochs=num_epochs)


def inpainter(cfg: Config, digits: Splits, kind: str = "blocks", with_mask_channel: bool = True) -> Trained:
    """A U-Net that fills holes of ``kind`` in digits; it paints only the hole, so only the hole is in its loss.

    With ``with_mask_channel`` it also sees the mask as a second input channel. Trained for
    ``sizes inpainting.epochs`` passes (``_inpainting_fit``).
    """
    model = _inpainting_unet(cfg, 1, average_pixel(digits.train.x).item(), with_mask_channel)
    name = f"ch05-unet-mask{int(with_mask_channel)}" if kind == "blocks" else f"ch05-unet-{kind}"
    holes = DIGIT_HOLES if kind == "blocks" else {}
    settings = _inpainting_fit(cfg, digits.val.x, holes, sizes.of(cfg, "inpainting").epochs, kind)
    return model, train(cfg, model, name, digits.train.x, **settings)


def photo_eraser(cfg: Config, patches: torch.Tensor, val_patches: torch.Tensor, name: str = "ch05-eraser") -> Trained:
    """The same recipe in colour (image + mask in, image out), on photo patches with ``PHOTO_HOLES``.

    Its budget is a number of patches seen (``sizes inpainting.eraser_patches_seen``), whatever
    the number of distinct ``patches``: fewer patches get more epochs, so erasers trained on
    more or less data get the same compute.
    """
    model = _inpainting_unet(cfg, 3, average_pixel(patches, per_channel=True), sees_mask=True)
    epochs = max(1, round(sizes.of(cfg, "inpainting").eraser_patches_seen / len(patches)))
    return model, train(cfg, model, name, patches, **_inpainting_fit(cfg, val_patches, PHOTO_HOLES, epochs))


# --------------------------------------------------------------------------- 06 segmentation

SCENE_LAYOUT = dict(size=32, per_scene=(2, 2), digit_size=(14, 20), max_overlap=0.15)
SEGMENTATION_CHANNELS = (8, 16, 32, 64)


def scenes(cfg: Config, digits: Splits, **layout) -> tuple[Scenes, Scenes, Scenes]:
    """Training, validation and test scenes of ``SCENE_LAYOUT`` (``layout`` overrides it).

    Each split pastes digits of the matching MNIST split, with its own seed.
    """
    size, layout = sizes.of(cfg, "segmentation"), SCENE_LAYOUT | layout
    return tuple(make_scenes(split.x, split.y, n, seed=cfg.seed + i, **layout) for i, (split, n) in
                 enumerate(((digits.train, size.train_scenes), (digits.val, size.val_scenes),
                            (digits.test, size.test_scenes))))


def pixel_loss(num_classes: int) -> PixelCrossEntropy:
    """Cross-entropy per pixel with the background (most of every scene) weighted 0.2."""
    return PixelCrossEntropy(num_classes, background_weight=0.2)


def segmenter(cfg: Config, train_scenes: Scenes, val_scenes: Scenes, *, skips: bool = True) -> Trained:
    """A U-Net ``SEGMENTATION_CHANNELS`` (``skips=False``: the same network without its skips).

    One cycle up to 1e-2 in batches of 32, ``sizes segmentation.epochs`` passes over the
    training scenes; ``History.val_metric`` is the validation mean IoU after each epoch.
    """
    model = _seeded(cfg, lambda: UNet(1, train_scenes.num_classes, channels=SEGMENTATION_CHANNELS, skips=skips))
    history = train(cfg, model, f"ch06-unet{'' if skips else '-noskip'}", train_scenes.x, train_scenes.y,
                    x_val=val_scenes.x, target_val=val_scenes.y, loss_fn=pixel_loss(train_scenes.num_classes),
                    num_epochs=sizes.of(cfg, "segmentation").epochs, batch_size=32, lr=1e-2,
                    schedule="one-cycle", val_metric=functools.partial(_val_mean_iou, val_scenes))
    return model, history


def _val_mean_iou(val_scenes: Scenes, model) -> float:
    """Mean IoU over the digit classes on the validation scenes."""
    return segmentation_scores(val_scenes.y, predict_labels(model, val_scenes.x), val_scenes.num_classes)["mean_iou"]


# --------------------------------------------------------------------------- 07 anomaly detection

def normal_part(split, anomaly_digit: int) -> torch.Tensor:
    """The images of a split (``Examples``) that are not ``anomaly_digit``."""
    return split.x[split.y != anomaly_digit]


def digit_anomaly_model(cfg: Config, digits: Splits, anomaly_digit: int) -> Trained:
    """An MLP autoencoder 784-512-256-16 trained on every digit but ``anomaly_digit``, until converged.

    Its validation data are the normal validation digits: stopping sees no anomaly.
    """
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=(512, 256), latent_dim=16))
    history = train(cfg, model, f"ch07-mnist-not{anomaly_digit}", normal_part(digits.train, anomaly_digit),
                    x_val=normal_part(digits.val, anomaly_digit), num_epochs=sizes.of(cfg, "anomaly").digit_epochs,
                    batch_size=cfg.batch_size, lr=1e-3, **CONVERGED)
    return model, history


def _beat_fit(cfg: Config, x_val: torch.Tensor) -> dict:
    """Adam at 2e-3 in batches of 32 until the loss on the normal validation beats stops improving."""
    return dict(x_val=x_val, num_epochs=sizes.of(cfg, "anomaly").beat_epochs, batch_size=32, lr=2e-3,
                **CONVERGED)


def beat_autoencoder(cfg: Config, x: torch.Tensor, x_val: torch.Tensor, latent_dim: int = 8,
                     name: str | None = None) -> Trained:
    """An MLP autoencoder 140-64-32-``latent_dim`` for ECG beats (linear output: beats are z-scored)."""
    model = _seeded(cfg, lambda: MLPAutoencoder(input_shape=(1, 140), hidden=(64, 32), latent_dim=latent_dim,
                                                output="linear"))
    history = train(cfg, model, name or f"ch07-ecg-mlp{latent_dim}", x, **_beat_fit(cfg, x_val))
    return model, history


def beat_conv_autoencoder(cfg: Config, x: torch.Tensor, x_val: torch.Tensor, latent_dim: int = 8) -> Trained:
    """A 1-D convolutional autoencoder (16-32 channels) for ECG beats, trained like ``beat_autoencoder``."""
    model = _seeded(cfg, lambda: Conv1dAutoencoder(input_shape=(1, 140), channels=(16, 32), latent_dim=latent_dim))
    return model, train(cfg, model, f"ch07-ecg-conv{latent_dim}", x, **_beat_fit(cfg, x_val))


# --------------------------------------------------------------------------- the exercises' models
# Models that only the exercises train: their own cache names (``ex..``), so an exercise is never
# "done" with weights a chapter trained, and a changed setting trains anew.

def linear_autoencoder(cfg: Config, digits: Splits, latent_dim: int, num_epochs: int) -> Trained:
    """A linear autoencoder 784-``latent_dim``-784 (no hidden layer, no sigmoid), Adam at 3e-3 (exercise 01.1)."""
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=(), latent_dim=latent_dim, output="linear"))
    history = train(cfg, model, f"ex01-linear{latent_dim}-{num_epochs}ep", digits.train.x, x_val=digits.val.x,
                    num_epochs=num_epochs, batch_size=cfg.batch_size, lr=3e-3, progress=False)
    return model, history


def few_images_autoencoder(cfg: Config, digits: Splits, n_images: int, num_epochs: int) -> Trained:
    """Chapter 01's MLP autoencoder 784-512-32 trained on the first ``n_images`` training digits only (exercise 01.3).

    A fixed number of epochs and no early stopping: the whole validation curve is the point.
    """
    if not isinstance(n_images, int) or not 0 < n_images <= len(digits.train.x):
        raise ValueError(f"n_images must be a whole number from 1 to {len(digits.train.x)}, got {n_images!r}")
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=(512,), latent_dim=32))
    history = train(cfg, model, f"ex01-mlp32-first{n_images}-{num_epochs}ep", digits.train.x[:n_images],
                    x_val=digits.val.x, num_epochs=num_epochs, batch_size=cfg.batch_size, lr=1e-3, progress=False)
    return model, history


def noise2noise_denoiser(cfg: Config, digits: Splits, noise: Noise, noisy_targets: torch.Tensor,
                         noisy_val_targets: torch.Tensor) -> Trained:
    """Chapter 04's ``unet`` trained to map ``noise(x)`` to a noisy copy of ``x``, never to ``x`` (exercise 04.2).

    Noise2Noise (Lehtinen et al., 2018): ``noisy_targets`` and ``noisy_val_targets`` replace the
    clean training and validation digits as targets, so no clean image is used at all.
    """
    for name, t, x in (("noisy_targets", noisy_targets, digits.train.x), ("noisy_val_targets", noisy_val_targets,
                                                                           digits.val.x)):
        if not isinstance(t, torch.Tensor) or t.shape != x.shape:
            raise ValueError(f"{name} must be a tensor shaped like its digits {tuple(x.shape)}, "
                             f"got {tuple(getattr(t, 'shape', ()))}")
    model = unet(cfg, average_pixel(digits.train.x).item())
    settings = _denoising_fit(cfg, digits.val.x, noise, cfg.batch_size)
    history = train(cfg, model, f"ex04-n2n-{noise.kind}{noise.level}", digits.train.x, noisy_targets,
                    target_val=noisy_val_targets, **settings)
    return model, history


def inpainter_with_loss(cfg: Config, digits: Splits, loss_fn) -> Trained:
    """Chapter 05's block inpainter with the mask channel, trained with another loss (exercise 05.3)."""
    model = _inpainting_unet(cfg, 1, average_pixel(digits.train.x).item(), sees_mask=True)
    name = f"ex05-unet-{getattr(loss_fn, '__name__', type(loss_fn).__name__)}"
    settings = _inpainting_fit(cfg, digits.val.x, DIGIT_HOLES, sizes.of(cfg, "inpainting").epochs)
    return model, train(cfg, model, name, digits.train.x, loss_fn=loss_fn, **settings)
