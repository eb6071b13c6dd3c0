import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_lib import plotting, widgets
from course_lib.training import History


def test_every_plot_returns_its_figure():
    x = torch.rand(12, 1, 28, 28)
    h = History(train_loss=[1.0, 0.5, 0.2], val_loss=[1.1, 0.6, 0.3])
    z, y = torch.randn(50, 2), torch.randint(0, 10, (50,))
    figs = [plotting.show_reconstructions(x, x, n=8), plotting.plot_history({"ae": h}),
            plotting.plot_latent_2d(z, y), plotting.bar_table({"a": 1.0, "b": 2.0}, "MSE"),
            plotting.plot_latent_manifold(lambda c: torch.rand(len(c), 1, 28, 28), (-1, 1, -2, 2), n=4)]
    assert all(isinstance(f, Figure) for f in figs)
    ax, = figs[0].axes  # the 2 x 8 digits as one picture
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "reconstruction"]


def test_image_rows_draws_every_image_in_its_place_in_one_picture():
    x = torch.rand(5, 1, 8, 8)
    rgb = torch.rand(5, 3, 8, 8)
    fig = plotting.image_rows({"grey": x, "colour": rgb}, n=4, titles=list("abcde"))
    ax, = fig.axes
    shown = np.asarray(ax.get_images()[0].get_array())
    gap = (shown.shape[1] - 4 * 8) // 3
    assert shown.shape == (2 * 8 + gap, 4 * 8 + 3 * gap, 4) and gap >= 1
    for c in range(4):
        left = c * (8 + gap)
        assert np.allclose(shown[:8, left:left + 8, 0], x[c, 0].numpy())
        assert np.allclose(shown[8 + gap:, left:left + 8, :3], rgb[c].permute(1, 2, 0).numpy())
    assert (shown[:, 8:8 + gap, 3] == 0).all()  # gaps are transparent
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    with pytest.raises(ValueError, match="same size"):
        plotting.image_rows({"a": x, "b": torch.rand(5, 1, 9, 9)})


def test_latent_grid_puts_larger_z1_on_top_and_larger_z0_right():
    codes = plotting.latent_grid(lambda c: c.reshape(len(c), 1, 1, 2), (0, 1, 0, 1), n=3)
    grid = codes.reshape(3, 3, 2)
    assert torch.allclose(grid[0, 0], torch.tensor([0.0, 1.0]))  # top left: z0 min, z1 max
    assert torch.allclose(grid[2, 2], torch.tensor([1.0, 0.0]))


def test_plots_reject_bad_inputs():
    with pytest.raises(ValueError):
        plotting.plot_latent_2d(torch.randn(5, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError):
        plotting.show_reconstructions(torch.rand(3, 1, 4, 4), torch.rand(2, 1, 4, 4))


def test_latent_explorer_redraws_when_a_slider_moves():
    decode = lambda z: z[:, :1, None, None].expand(-1, 1, 4, 4).clamp(0, 1)  # noqa: E731
    box = widgets.latent_explorer(decode, (0.0, 1.0, 0.0, 1.0), start=(0.2, 0.5))
    assert box.output.outputs  # the figure is shown inside the Output widget
    assert np.allclose(box.artist.get_array(), 0.2)
    box.sliders[0].value = 0.9
    assert np.allclose(box.artist.get_array(), 0.9)
    assert box.output.outputs
    with pytest.raises(ValueError):
        widgets.latent_explorer(decode, (1.0, 0.0, 0.0, 1.0))


def test_widgets_carry_the_classes_the_browser_test_looks_for():
    decode = lambda z: z[:, :1, None, None].expand(-1, 1, 4, 4).clamp(0, 1)  # noqa: E731
    box = widgets.latent_explorer(decode, (0.0, 1.0, 0.0, 1.0))
    assert widgets.MAIN_WIDGET_CLASS in box._dom_classes
    assert widgets.FIGURE_CLASS in box.output._dom_classes
    with pytest.raises(ValueError):
        widgets.mark_main_widget("not a widget")


def test_segmentation_explorer_shows_the_chosen_scene_and_scores_against_the_truth():
    x = torch.zeros(3, 1, 4, 4)
    x[1, :, :2] = 1.0
    truth = (x[:, 0] > 0).long() * 3  # scene 1: the top half is digit class 3
    wrong = truth.clone()
    wrong[1, 0] = 5  # half of its digit pixels mislabelled
    box = widgets.segmentation_explorer(x, {"truth": truth, "model": wrong}, num_classes=11)
    assert widgets.MAIN_WIDGET_CLASS in box._dom_classes and box.output.outputs
    first = box.output.outputs[0]["data"]["image/png"]
    box.slider.value = 1
    assert np.allclose(box.artists[0].get_array(), x[1, 0].numpy())
    assert np.array_equal(box.artists[2].get_array(), wrong[1].numpy())
    assert "50% of digit pixels right" in box.artists[2].axes.get_title()
    assert box.output.outputs[0]["data"]["image/png"] != first
    with pytest.raises(ValueError):
        widgets.segmentation_explorer(x, {"truth": truth[:2]}, num_classes=11)


def test_every_explorer_is_marked_as_its_chapters_main_widget():
    options = {1: {"a": torch.zeros(2, 1, 4, 4)}, 2: {"a": torch.ones(2, 1, 4, 4)}}
    boxes = [widgets.image_rows_explorer(options, n=2),
             widgets.threshold_explorer(torch.tensor([0.1, 0.9, 0.5]), torch.tensor([0, 1, 1]), start=0.5),
             widgets.inpainting_explorer(torch.rand(1, 8, 8), {"mean": lambda xm, m: xm}, start=(1, 1, 2))]
    assert all(widgets.MAIN_WIDGET_CLASS in b._dom_classes for b in boxes)


def _anomaly_scores():
    g = torch.Generator().manual_seed(0)
    return torch.rand(40, generator=g) + 0.1, torch.tensor([0] * 30 + [1] * 10)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_score_histograms_refuse_a_score_that_is_not_a_number(bad):
    """Probe 21: one NaN score gave a figure whose 78 bars all had height NaN."""
    scores, y = _anomaly_scores()
    scores[5] = bad
    with pytest.raises(ValueError, match=r"^scores hold 1 NaN or infinite value\(s\) of 40"):
        plotting.plot_score_histograms(scores, y)
    with pytest.raises(ValueError, match=r"^scores hold 1 NaN or infinite value\(s\) of 40"):
        widgets.threshold_explorer(scores, y, start=0.5)


@pytest.mark.parametrize("value", [0.3, 0.0, -2.0])
def test_score_histograms_of_equal_scores_draw_one_visible_bar_per_class(value):
    """Probe 21: all-equal scores gave 76 bars of height NaN and 2 of height inf and width 0 (nothing visible)."""
    _, y = _anomaly_scores()
    fig = plotting.plot_score_histograms(torch.full((40,), value), y)
    bars = [p for p in fig.axes[0].patches if p.get_height() != 0]
    assert len(bars) == 2  # one per class, both at the value
    for bar in bars:
        assert np.isfinite(bar.get_height()) and bar.get_height() > 0 and bar.get_width() > 0
        assert bar.get_x() <= value <= bar.get_x() + bar.get_width()


@pytest.mark.parametrize("z_range", [(float("nan"), 1, 0, 1), (0, float("inf"), 0, 1), (0, 1, 0, float("nan"))])
def test_latent_explorers_refuse_a_range_that_is_not_a_number(z_range):
    """Probe 22: latent_explorer built FloatSlider(min=nan, step=nan) from z_range (nan, 1, 0, 1)."""
    decode = lambda z: torch.zeros(len(z), 1, 8, 8)
    with pytest.raises(ValueError, match=r"^z_range must hold finite numbers"):
        widgets.latent_explorer(decode, z_range)
    with pytest.raises(ValueError, match=r"^z_range must hold finite numbers"):
        widgets.vae_latent_explorer(decode, torch.zeros(4, 2), torch.zeros(4), z_range=z_range)
    with pytest.raises(ValueError, match=r"^start must hold finite numbers"):
        widgets.latent_explorer(decode, (0, 1, 0, 1), start=(float("nan"), 0.0))
    with pytest.raises(ValueError, match=r"^start must hold finite numbers"):
        widgets.threshold_explorer(*_anomaly_scores(), start=float("nan"))
