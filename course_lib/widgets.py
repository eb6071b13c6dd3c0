"""ipywidgets explorers. Each keeps ONE figure and redraws it inside an Output widget."""

from __future__ import annotations

import base64
import io
from typing import Callable

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .plotting import _as_image


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

    def refresh():
        out.outputs = (png_output(fig),)

    refresh()
    return out, refresh


def latent_explorer(decode: Callable[[torch.Tensor], torch.Tensor],
                    z_range: tuple[float, float, float, float], start=(0.0, 0.0)) -> W.Widget:
    """Two sliders over a 2-D code; the decoded image updates as they move.

    Args:
        decode: maps codes (B, 2) to images (B, C, H, W), e.g. ``model.decode``.
        z_range: (z0_min, z0_max, z1_min, z1_max), e.g. from the test codes.
    """
    if len(z_range) != 4 or z_range[0] >= z_range[1] or z_range[2] >= z_range[3]:
        raise ValueError(f"z_range must be (z0_min, z0_max, z1_min, z1_max) with min < max, "
                         f"got {z_range}")
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
    return box
