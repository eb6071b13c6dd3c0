import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import f1_score, jaccard_score

from course_lib.baselines import BlobSegmenter
from course_lib.fallbacks import sklearn_digits_28
from course_lib.metrics import (
    confusion_matrix,
    dice_per_class,
    iou_per_class,
    pixel_accuracy,
    segmentation_scores,
)
from course_lib.scenes import make_scenes


@pytest.fixture
def labels():
    g = torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 5, (4, 9, 9), generator=g)
    noise = torch.randint(0, 5, (4, 9, 9), generator=g)
    y_pred = torch.where(torch.rand(4, 9, 9, generator=g) < 0.6, y_true, noise)
    return y_true, y_pred


def test_scores_match_scikit_learn(labels):
    y_true, y_pred = labels
    t, p = y_true.flatten().numpy(), y_pred.flatten().numpy()
    cm = confusion_matrix(y_true, y_pred, 5)
    assert np.array_equal(cm.numpy(), sk_confusion(t, p, labels=range(5)))
    assert np.allclose(iou_per_class(cm).numpy(), jaccard_score(t, p, average=None, labels=range(5)))
    assert np.allclose(dice_per_class(cm).numpy(), f1_score(t, p, average=None, labels=range(5)))
    assert pixel_accuracy(cm) == pytest.approx(float((t == p).mean()))
    s = segmentation_scores(y_true, y_pred, 5)
    assert s["mean_iou"] == pytest.approx(jaccard_score(t, p, average=None, labels=range(1, 5)).mean())


def test_perfect_and_absent_classes():
    y = torch.tensor([[0, 1], [1, 0]])
    s = segmentation_scores(y, y, 3)
    assert s["mean_iou"] == 1.0 and s["pixel_accuracy"] == 1.0
    assert torch.isnan(s["iou"][2])  # class 2 never occurs: not counted in the mean


def test_dice_is_two_iou_over_one_plus_iou(labels):
    cm = confusion_matrix(*labels, 5)
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    assert torch.allclose(dice, 2 * iou / (1 + iou))


@pytest.mark.parametrize("call", [
    lambda: confusion_matrix(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long), 2),
    lambda: confusion_matrix(torch.zeros(3), torch.zeros(3), 2),
    lambda: confusion_matrix(torch.tensor([0, 5]), torch.tensor([0, 1]), 3),
    lambda: iou_per_class(torch.zeros(2, 3)),
])
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_blob_baseline_finds_the_ink_and_beats_chance():
    digits = sklearn_digits_28()
    scenes = make_scenes(digits.x[1000:], digits.y[1000:], 20, size=48, digit_size=(20, 24),
                         max_overlap=0.0, seed=0)
    train = make_scenes(digits.x[:1000], digits.y[:1000], 300, size=48, digit_size=(20, 24), max_overlap=0.0, seed=1)
    blob = BlobSegmenter().fit(train.x, train.y)  # fitted on blobs of training scenes, as it is applied
    fg = blob.foreground(scenes.x)
    assert (fg == (scenes.y > 0)).float().mean() > 0.97
    s = segmentation_scores(scenes.y, blob.predict(scenes.x), 11)
    assert s["mean_iou"] > 0.3  # chance over ten digit classes is far lower
    with pytest.raises(ValueError, match="fit"):
        BlobSegmenter().predict(scenes.x)
    assert blob.merged_share(scenes.x, scenes.y) < 0.2  # these scenes do not overlap
    touching = torch.zeros(1, 1, 8, 8)
    touching[0, 0, 2:6, 1:7] = 1.0
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[0, 2:6, 1:4], labels[0, 2:6, 4:7] = 3, 5  # two digits in one blob
    assert blob.merged_share(touching, labels) == 1.0


def test_segmentation_plots_return_figures():
    from matplotlib.figure import Figure

    from course_lib import plotting

    y = torch.randint(0, 11, (4, 12, 12))
    cm = confusion_matrix(y, y.roll(1, 1), 11)
    figs = [plotting.plot_confusion(cm, [str(i) for i in range(11)]),
            plotting.segmentation_rows(torch.rand(4, 1, 12, 12), {"truth": y, "guess": y}, 11, n=3)]
    assert all(isinstance(f, Figure) for f in figs) and len(figs[1].axes) == 1
    shown = np.asarray(figs[1].axes[0].get_images()[0].get_array())
    gap = (shown.shape[0] - 3 * 12) // 2
    colours = plotting.label_colours(11)
    assert np.allclose(shown[12 + gap:24 + gap, :12], colours(y[0].numpy()))  # row "truth", first scene
    with pytest.raises(ValueError):
        plotting.segmentation_rows(torch.rand(4, 1, 12, 12), {"truth": y[:2]}, 11)
    names = ["background", *map(str, range(10))]
    legend = plotting.segmentation_rows(torch.rand(4, 1, 12, 12), {"truth": y}, 11, classes=names).legends[0]
    assert [t.get_text() for t in legend.get_texts()] == names
    swatches = [tuple(round(c, 3) for c in h.get_facecolor()) for h in legend.legend_handles]
    assert len(set(swatches)) == 11 and swatches[0] == (0, 0, 0, 1)  # every label its own colour


def test_boundaries_are_one_pixel_lines_on_one_side_of_each_label_change():
    from course_lib.metrics import boundaries

    y = torch.zeros(1, 6, 6, dtype=torch.long)
    y[0, 2:4, 1:5] = 3  # a stroke two pixels thick
    edge = boundaries(y)[0]
    assert edge.sum() < (y[0] > 0).sum() + 8  # outlines, not a band over the whole stroke and its sides
    assert edge[1, 1] and edge[3, 1] and not edge[2, 1]  # above the stroke, its last row; not its middle
    assert not boundaries(torch.zeros(2, 5, 5, dtype=torch.long)).any()
    with pytest.raises(ValueError, match="integer labels"):
        boundaries(torch.zeros(1, 4, 4))


def test_boundary_f_score_is_perfect_for_the_truth_and_tells_a_shifted_outline_from_a_grown_one():
    from course_lib.metrics import boundary_f_interval, boundary_f_score

    y = torch.zeros(8, 16, 16, dtype=torch.long)
    y[:, 4:12, 6:8] = 2  # a vertical stroke, 2 pixels wide
    assert boundary_f_score(y, y)["f"] == 1.0
    shifted = torch.roll(y, 1, dims=2)  # one pixel to the right: inside the 1-pixel tolerance
    assert boundary_f_score(y, shifted, tolerance=1)["f"] == 1.0
    assert boundary_f_score(y, shifted, tolerance=0)["f"] < 0.7
    blob = torch.zeros_like(y)
    blob[:, 2:14, 3:11] = 2  # the same ink found, but a blob spilling 3 pixels past the stroke
    fg_iou = ((blob > 0) & (y > 0)).sum() / ((blob > 0) | (y > 0)).sum()
    score = boundary_f_score(y, blob)
    assert score["f"] < 0.2 and fg_iou > 0.15  # its outline is far from the stroke's
    lo, hi = boundary_f_interval(y, blob, n_resamples=50)
    assert lo <= score["f"] <= hi
    with pytest.raises(ValueError, match="no border"):
        boundary_f_score(torch.zeros_like(y), y)


def test_mean_iou_interval_pools_resampled_scenes_and_brackets_the_figure():
    from course_lib.metrics import mean_iou_interval, segmentation_scores

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (60, 6, 6), generator=g)
    pred = torch.where(torch.rand(y.shape, generator=g) < 0.8, y, torch.randint(0, 3, y.shape, generator=g))
    lo, hi = mean_iou_interval(y, pred, 3, n_resamples=200)
    assert lo < segmentation_scores(y, pred, 3)["mean_iou"] < hi and hi - lo < 0.1
    assert mean_iou_interval(y, y, 3, n_resamples=20) == (1.0, 1.0)
