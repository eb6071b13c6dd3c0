"""ipywidgets explorers. Each keeps ONE figure and redraws it inside an Output widget."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .plotting import Mosaic, _as_image, _rgba

FIGURE_CLASS = "course-figure"
MAIN_WIDGET_CLASS = "course-main-widget"


def mark_main_widget(box: W.DOMWidget) -> W.DOMWidget:
    """Mark ``box`` as its chapter's main explorer: the browser test moves its first slider."""
    if not isinstance(box, W.DOMWidget):
        raise ValueError(f"box must be an ipywidgets DOMWidget, got {type(box).__name__}")
    box.add_class(MAIN_WIDGET_CLASS)
    return box


def png_output(fig: Figure) -> dict:
    """``fig`` as one Jupyter display_data output (a PNG), ready for an Output widget."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<figure {fig.get_figwidth():g}x{fig.get_figheight():g} in>"}}


def figure_output(fig: Figure) -> tuple[W.Output, Callable[[], None]]:
    """An Output widget showing ``fig`` and a ``refresh()`` that redraws it in place.

    The output is replaced in one step (no clear-then-draw flicker), and it works
    with or without a running kernel, in JupyterLab, Notebook 7, VS Code and Colab.
    """
    plt.close(fig)  # keep the inline backend from drawing it a second time
    out = W.Output()
    out.add_class(FIGURE_CLASS)  # lets the browser test find the figure in the page

    def refresh():
        out.outputs = (png_output(fig),)

    refresh()
    return out, refresh


def _check_finite(name: str, values) -> tuple[float, ...]:
    """``values`` as floats, or a ValueError naming ``name`` if one is not a finite number (sliders cannot hold NaN)."""
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers, got {values!r}") from None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{name} must hold finite numbers, got {values!r}: a slider cannot start, end or step at "
                         f"NaN or infinity")
    return numbers


def check_z_range(z_range) -> tuple[float, float, float, float]:
    """``(z0_min, z0_max, z1_min, z1_max)`` as four finite floats with min < max, else a ValueError that says so."""
    numbers = _check_finite("z_range", z_range)
    if len(numbers) != 4 or numbers[0] >= numbers[1] or numbers[2] >= numbers[3]:
        raise ValueError(f"z_range must be (z0_min, z0_max, z1_min, z1_max) with min < max, got {z_range}")
    return numbers


def latent_explorer(decode: Callable[[torch.Tensor], torch.Tensor],
                    z_range: tuple[float, float, float, float], start=(0.0, 0.0)) -> W.Widget:
    """Two sliders over a 2-D code; the decoded image updates as they move.

    Args:
        decode: maps codes (B, 2) to images (B, C, H, W), e.g. ``model.decode``.
        z_range: (z0_min, z0_max, z1_min, z1_max), e.g. from the test codes.
    """
    z_range = check_z_range(z_range)
    _check_finite("start", start)
    step0, step1 = (z_range[1] - z_range[0]) / 100, (z_range[3] - z_range[2]) / 100
    s0 = W.FloatSlider(value=start[0], min=z_range[0], max=z_range[1], step=step0, description="z[0]")
    s1 = W.FloatSlider(value=start[1], min=z_range[2], max=z_range[3], step=step1, description="z[1]")

    def image(a: float, b: float):
        with torch.no_grad():
            return _as_image(decode(torch.tensor([[a, b]], dtype=torch.float32))[0])

    fig, ax = plt.subplots(figsize=(2.6, 2.6))
    shown = ax.imshow(image(s0.value, s1.value), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    out, refresh = figure_output(fig)

    def update(_change=None):
        shown.set_data(image(s0.value, s1.value))
        ax.set_title(f"z = ({s0.value:.2f}, {s1.value:.2f})", fontsize=9)
        refresh()

    s0.observe(update, names="value")
    s1.observe(update, names="value")
    update()
    box = W.HBox([W.VBox([s0, s1]), out])
    box.sliders, box.artist, box.output = (s0, s1), shown, out  # handles for tests
    return mark_main_widget(box)


def image_rows_explorer(options: dict, description: str = "choice", n: int = 6) -> W.Widget:
    """A slider over precomputed options; each option is rows of images (name -> (B, C, H, W)).

    Every option must have the same row names. Nothing is recomputed when the
    slider moves: the images are swapped in the one figure.
    """
    if not options:
        raise ValueError("options must hold at least one entry")
    row_names = list(next(iter(options.values())))
    if any(list(rows) != row_names for rows in options.values()):
        raise ValueError(f"every option needs the same rows {row_names}")
    n = min(n, *(len(b) for rows in options.values() for b in rows.values()))
    slider = W.SelectionSlider(options=list(options), description=description)
    first = options[slider.value][row_names[0]][0]
    mosaic = Mosaic(len(row_names), n, *first.shape[-2:])  # one picture: quick to redraw
    fig, ax = plt.subplots(figsize=(1.2 * n, 1.2 * len(row_names) + 0.4))
    shown = mosaic.show(ax, row_names)
    fig.tight_layout()
    out, refresh = figure_output(fig)

    def update(_change=None):
        for r, row in enumerate(row_names):
            for c in range(n):
                mosaic.put(r, c, _rgba(_as_image(options[slider.value][row][c])))
        shown.set_data(mosaic.array)
        fig.suptitle(f"{description} = {slider.value}", fontsize=10)
        refresh()

    slider.observe(update, names="value")
    update()
    box = W.VBox([slider, out])
    box.slider, box.artist, box.output = slider, shown, out  # handles for tests
    box.tile = lambda row, c: mosaic.tile(row_names.index(row), c)
    return mark_main_widget(box)


def threshold_explorer(scores, y_anomaly, start: float) -> W.Widget:
    """A threshold slider; the confusion matrix, precision and recall update as it moves.

    Args:
        scores: anomaly scores (N,), high = anomalous.
        y_anomaly: labels (N,), 1 = anomaly, 0 = normal.
        start: the first threshold shown, e.g. the one chosen on validation data.
    """
    from .plotting import threshold_view

    s = torch.as_tensor(scores).detach().cpu().double()
    if s.dim() != 1 or len(s) < 2:
        raise ValueError(f"scores must be a 1-D tensor of at least 2 values, got {tuple(s.shape)}")
    if not torch.isfinite(s).all():
        raise ValueError(f"scores hold {int((~torch.isfinite(s)).sum())} NaN or infinite value(s) of {len(s)}: "
                         f"a threshold slider cannot span them")
    _check_finite("start", [start])
    lo, hi = s.min().item(), s.max().item()
    if not lo < hi:
        raise ValueError(f"scores must not all be equal, got min {lo} and max {hi}")
    fig, update = threshold_view(s, y_anomaly, start)
    slider = W.FloatSlider(value=min(max(start, lo), hi), min=lo, max=hi, step=(hi - lo) / 500,
                           description="threshold", readout_format=".4g",
                           layout=W.Layout(width="420px"))
    out, refresh = figure_output(fig)

    def on_change(_change=None):
        box.metrics = update(slider.value)
        refresh()

    box = W.VBox([slider, out])
    box.slider, box.output, box.figure = slider, out, fig  # handles for tests
    box.metrics = update(start)
    refresh()
    slider.observe(on_change, names="value")
    return mark_main_widget(box)


def inpainting_explorer(image: torch.Tensor, fills: dict, start=(8, 8, 12)) -> W.Widget:
    """Sliders move and resize a square hole in ``image``; every fill method redraws its result.

    Args:
        image: one image (C, H, W) in [0, 1].
        fills: name -> fn(x_masked (1, C, H, W), mask (1, 1, H, W)) -> x_hat (1, C, H, W).
        start: (top, left, side) of the first hole.
    """
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or not fills:
        raise ValueError(f"expected one image (C, H, W) and at least one fill, got "
                         f"{tuple(getattr(image, 'shape', ()))} and {len(fills)} fills")
    _, h, w = image.shape
    side = W.IntSlider(value=start[2], min=2, max=min(h, w) // 2, description="side")
    top = W.IntSlider(value=start[0], min=0, max=h - 2, description="top")
    left = W.IntSlider(value=start[1], min=0, max=w - 2, description="left")
    fig, axes = plt.subplots(1, 1 + len(fills), figsize=(2.2 * (1 + len(fills)), 2.5))
    artists = [ax.imshow(_as_image(image), cmap="gray", vmin=0, vmax=1) for ax in axes]
    for ax, name in zip(axes, ["masked input", *fills], strict=True):
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    out, refresh = figure_output(fig)

    def update(_change=None):
        mask = torch.zeros(1, 1, h, w)
        mask[..., top.value:top.value + side.value, left.value:left.value + side.value] = 1.0
        x_masked = image.unsqueeze(0) * (1 - mask)
        artists[0].set_data(_as_image(x_masked[0]))
        with torch.no_grad():
            for artist, fill in zip(artists[1:], fills.values(), strict=True):
                artist.set_data(_as_image(fill(x_masked, mask)[0]))
        refresh()

    for slider in (top, left, side):
        slider.observe(update, names="value")
    update()
    box = W.HBox([W.VBox([top, left, side]), out])
    box.sliders, box.artists, box.output = (top, left, side), artists, out  # handles for tests
    return mark_main_widget(box)


def segmentation_explorer(x: torch.Tensor, label_maps: dict, num_classes: int) -> W.Widget:
    """A slider over scenes: the image, then each label map (truth, predictions) of that scene.

    Args:
        x: images (B, C, H, W).
        label_maps: name -> labels (B, H, W); the first one is the reference (the truth):
            the others' titles give the share of its digit pixels they label the same.
    """
    from .plotting import label_colours

    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not label_maps or any(
            not isinstance(v, torch.Tensor) or v.shape != (x.shape[0], *x.shape[-2:]) for v in label_maps.values()):
        raise ValueError(f"expected images (B, C, H, W) and at least one label map (B, H, W) each, got "
                         f"{tuple(getattr(x, 'shape', ()))} and "
                         f"{[tuple(getattr(v, 'shape', ())) for v in label_maps.values()]}")
    names = list(label_maps)
    truth = label_maps[names[0]]
    slider = W.IntSlider(value=0, min=0, max=len(x) - 1, description="scene")
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(2.2 * (1 + len(names)), 2.6))
    image = axes[0].imshow(_as_image(x[0]), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("image", fontsize=9)
    cmap = label_colours(num_classes)
    maps = [ax.imshow(label_maps[name][0].cpu().numpy(), cmap=cmap, vmin=-0.5, vmax=num_classes - 0.5,
                      interpolation="nearest") for ax, name in zip(axes[1:], names, strict=True)]
    for ax in axes:
        ax.set_axis_off()
    out, refresh = figure_output(fig)

    def update(_change=None):
        i = slider.value
        image.set_data(_as_image(x[i]))
        ink = truth[i] > 0
        for ax, artist, name in zip(axes[1:], maps, names, strict=True):
            artist.set_data(label_maps[name][i].cpu().numpy())
            if artist is maps[0]:
                ax.set_title(name, fontsize=9)
            else:
                agree = (label_maps[name][i][ink] == truth[i][ink]).float().mean().item() if ink.any() else 1.0
                ax.set_title(f"{name}\n{agree:.0%} of digit pixels right", fontsize=9)
        refresh()

    slider.observe(update, names="value")
    update()
    box = W.VBox([slider, out])
    box.slider, box.artists, box.output = slider, [image, *maps], out  # handles for tests
    return mark_main_widget(box)


def vae_latent_explorer(decode: Callable[[torch.Tensor], torch.Tensor], z_points: torch.Tensor,
                        labels: torch.Tensor, classify: Callable[[torch.Tensor], torch.Tensor] | None = None,
                        z_range: tuple[float, float, float, float] = (-3.0, 3.0, -3.0, 3.0)) -> W.Widget:
    """Two sliders over a 2-D code: a marker moves over the codes of real images, the decoded image updates.

    Args:
        decode: maps codes (B, 2) to images (B, C, H, W), e.g. a VAE's ``decode``.
        z_points: codes (N, 2) of real images, drawn as a scatter coloured by ``labels`` (N,).
        classify: optional images -> class probabilities (B, K); the title then names the
            most likely class and its probability.
        z_range: (z0_min, z0_max, z1_min, z1_max) of the sliders; the prior's +-3 by default.
    """
    if not isinstance(z_points, torch.Tensor) or z_points.dim() != 2 or z_points.shape[1] != 2 \
            or len(labels) != len(z_points):
        raise ValueError(f"z_points must be 2-D codes (N, 2) with one label each, got "
                         f"{tuple(getattr(z_points, 'shape', ()))} and {len(labels)} labels")
    z_range = check_z_range(z_range)
    sliders = [W.FloatSlider(value=0.0, min=lo, max=hi, step=(hi - lo) / 100, description=f"z[{i}]")
               for i, (lo, hi) in enumerate((z_range[:2], z_range[2:]))]
    fig, (ax_map, ax_img) = plt.subplots(1, 2, figsize=(6.4, 3.0), gridspec_kw={"width_ratios": (1.2, 1)})
    ax_map.scatter(*z_points.T.cpu().numpy(), c=torch.as_tensor(labels).cpu().numpy(), cmap="tab10", s=3, alpha=0.5)
    ax_map.set(xlim=z_range[:2], ylim=z_range[2:], xlabel="z[0]", ylabel="z[1]")
    marker, = ax_map.plot([0.0], [0.0], "kx", markersize=10, markeredgewidth=2)
    shown = ax_img.imshow(torch.zeros(28, 28).numpy(), cmap="gray", vmin=0, vmax=1)
    ax_img.set_axis_off()
    fig.tight_layout()
    out, refresh = figure_output(fig)

    def update(_change=None):
        z = torch.tensor([[sliders[0].value, sliders[1].value]], dtype=torch.float32)
        with torch.no_grad():
            x_hat = decode(z)
            title = f"z = ({z[0, 0]:.2f}, {z[0, 1]:.2f})"
            if classify is not None:
                p = classify(x_hat)[0]
                title += f"\nclassifier: {int(p.argmax())} ({p.max():.0%})"
        shown.set_data(_as_image(x_hat[0]))
        marker.set_data([z[0, 0].item()], [z[0, 1].item()])
        ax_img.set_title(title, fontsize=9)
        refresh()

    for s in sliders:
        s.observe(update, names="value")
    update()
    box = W.HBox([W.VBox(sliders), out])
    box.sliders, box.artist, box.output, box.marker = tuple(sliders), shown, out, marker  # handles for tests
    return mark_main_widget(box)
