import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from sklearn.ensemble import IsolationForest

from course_lib import anomaly, plotting, widgets
from course_lib.baselines import AnomalyDetector, PCAErrorDetector, anomaly_baselines
from course_lib.models import MLPAutoencoder
from course_lib.training import fit


@pytest.fixture
def scored():
    """300 scores: normals ~ N(0, 1), anomalies ~ N(2, 1), labels 1 = anomaly."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(200, int), np.ones(100, int)]
    s = np.r_[rng.normal(0, 1, 200), rng.normal(2, 1, 100)]
    return torch.from_numpy(s).float(), torch.from_numpy(y)


def test_threshold_is_the_percentile_of_normal_validation_scores():
    val = torch.arange(1, 101, dtype=torch.float32)
    assert anomaly.threshold_from_normal(val, 95) == pytest.approx(np.percentile(val.numpy(), 95))
    assert anomaly.threshold_from_normal(val, 100) == 100.0
    for bad in (0, 101):
        with pytest.raises(ValueError):
            anomaly.threshold_from_normal(val, bad)
    with pytest.raises(ValueError):
        anomaly.threshold_from_normal(torch.tensor([]), 95)


def test_the_threshold_never_looks_at_test_labels(scored):
    s, y = scored
    val_normal = torch.randn(60, generator=torch.Generator().manual_seed(1))
    results = []
    for seed in range(3):  # shuffled test labels cannot move the threshold
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        results.append(anomaly.evaluate_detector(val_normal, s, y[perm]))
    assert len({r["threshold"] for r in results}) == 1
    assert len({r["auroc"] for r in results}) > 1  # while the test metrics do change
    with pytest.raises(TypeError):
        anomaly.threshold_from_normal(val_normal, 95, y)  # there is no way to pass labels


def test_metrics_match_scikit_learn_with_the_anomaly_as_positive(scored):
    s, y = scored
    m = anomaly.evaluate_detector(s[y == 0][:50], s, y, percentile=90)
    pred = (s > m["threshold"]).int().numpy()
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(y, s))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred))
    c = anomaly.confusion(y, s, m["threshold"])
    assert c["tp"] == int(((pred == 1) & (y.numpy() == 1)).sum()) and sum(c.values()) == 300
    # the normal class as positive would give other numbers: we must not report those
    assert m["precision"] != pytest.approx(skm.precision_score(y, pred, pos_label=0))


def test_metrics_by_hand_on_a_tiny_case():
    y = torch.tensor([0, 0, 0, 1, 1])
    s = torch.tensor([0.1, 0.2, 0.9, 0.8, 0.3])
    m = anomaly.threshold_metrics(y, s, threshold=0.5)  # called anomalies: 0.9 (fp), 0.8 (tp)
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["false_alarm_rate"] == pytest.approx(1 / 3)
    assert anomaly.ranking_metrics(y, s)["auroc"] == pytest.approx(4 / 6)
    fp, fn = anomaly.worst_mistakes(y, s, 0.5)
    assert fp.tolist() == [2] and fn.tolist() == [4]


def test_metric_helpers_reject_bad_labels():
    s = torch.rand(4)
    for y in (torch.zeros(4), torch.tensor([0, 1, 2, 1]), torch.tensor([0, 1])):
        with pytest.raises(ValueError):
            anomaly.ranking_metrics(y, s)
    with pytest.raises(ValueError):
        anomaly.threshold_metrics(torch.tensor([0, 1]), torch.tensor([0.0, float("nan")]), 0.5)


def test_leave_one_class_out_labels():
    y = torch.tensor([0, 2, 7, 2])
    assert anomaly.leave_one_class_out(torch.zeros(4, 3), y, 2).tolist() == [0, 1, 0, 1]
    with pytest.raises(ValueError):
        anomaly.leave_one_class_out(torch.zeros(4, 3), y, 5)


def test_reconstruction_error_flags_what_the_model_never_saw(low_rank_images):
    torch.manual_seed(0)
    model = MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    fit(model, low_rank_images[:400], num_epochs=15, batch_size=50, lr=1e-2, progress=False)
    normal = anomaly.reconstruction_scores(model, low_rank_images[400:])
    odd = anomaly.reconstruction_scores(model, torch.rand(112, 1, 8, 8))
    y = torch.cat([torch.zeros(112), torch.ones(112)])
    assert anomaly.ranking_metrics(y, torch.cat([normal, odd]))["auroc"] > 0.95


def test_baselines_find_shifted_points_and_match_scikit_learn():
    g = torch.Generator().manual_seed(0)
    x_fit = torch.randn(300, 1, 6, generator=g)
    x = torch.cat([torch.randn(100, 1, 6, generator=g), torch.randn(100, 1, 6, generator=g) + 3])
    y = torch.cat([torch.zeros(100), torch.ones(100)])
    for name, det in anomaly_baselines(latent_dim=2).items():
        scores = det.fit(x_fit).score(x)
        assert scores.shape == (200,)
        if not name.startswith("PCA"):
            assert anomaly.ranking_metrics(y, scores)["auroc"] > 0.9, name
    forest = IsolationForest(random_state=0).fit(x_fit.reshape(300, -1).double().numpy())
    ours = AnomalyDetector(IsolationForest(random_state=0)).fit(x_fit).score(x)
    assert np.allclose(ours.numpy(), -forest.score_samples(x.reshape(200, -1).double().numpy()), atol=1e-6)


def test_pca_error_is_zero_inside_the_subspace_and_large_outside():
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(3, 20, generator=g)
    inside = (torch.randn(200, 3, generator=g) @ basis).reshape(200, 1, 20)
    det = PCAErrorDetector(latent_dim=3).fit(inside)
    assert det.score(inside).max() < 1e-8
    assert det.score(torch.randn(10, 1, 20, generator=g)).min() > 0.1
    with pytest.raises(ValueError):
        AnomalyDetector(object())
    with pytest.raises(ValueError):
        AnomalyDetector(IsolationForest()).score(inside)


def test_threshold_explorer_updates_the_confusion_matrix(scored):
    s, y = scored
    box = widgets.threshold_explorer(s, y, start=0.0)
    first = dict(box.metrics)
    assert box.output.outputs and first["tp"] + first["fn"] == 100
    box.slider.value = float(s.max()) - 1e-6
    assert box.metrics["tp"] < first["tp"] and box.metrics["recall"] < first["recall"]
    assert box.metrics["fp"] + box.metrics["tn"] == 200
    assert box.figure.axes[1].images[0].get_array()[1, 1] == box.metrics["tp"]
    with pytest.raises(ValueError):
        widgets.threshold_explorer(torch.ones(5), torch.tensor([0, 1, 0, 1, 0]), start=1.0)


def test_anomaly_plots_return_figures(scored):
    s, y = scored
    figs = [plotting.plot_score_histograms(s.abs() + 0.01, y, threshold=1.0),
            plotting.plot_threshold(s, y, 0.5),
            plotting.plot_beats(torch.randn(2, 1, 140), torch.randn(2, 1, 140), ["a", "b"])]
    assert len(figs[2].axes) == 4
    with pytest.raises(ValueError):
        plotting.plot_beats(torch.randn(2, 140), torch.randn(2, 140))
    with pytest.raises(ValueError):
        plotting.plot_score_histograms(s, y[:10])


def test_auroc_interval_brackets_the_auroc_and_narrows_with_more_test_items():
    g = torch.Generator().manual_seed(0)
    widths = []
    for n in (100, 1600):
        y = (torch.arange(n) % 4 == 0).long()
        s = torch.randn(n, generator=g) + 1.0 * y  # anomalies score higher on average
        auroc = anomaly.ranking_metrics(y, s)["auroc"]
        lo, hi = anomaly.auroc_interval(y, s, n_resamples=200)
        assert lo < auroc < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2  # 16x the items: about a quarter of the width


def test_bootstrap_aurocs_pairs_the_detectors_and_keeps_both_classes():
    y = torch.tensor([0] * 90 + [1] * 10)
    s = torch.linspace(0, 1, 100)  # perfect ranking
    boot = anomaly.bootstrap_aurocs(y, s, 1 - s, n_resamples=50)
    assert boot.shape == (50, 2) and np.allclose(boot[:, 0], 1.0) and np.allclose(boot[:, 1], 0.0)
    row = anomaly.evaluate_detector(s[:90], s, y, n_resamples=50)
    assert row["auroc_low"] == pytest.approx(1.0) and row["auroc_high"] == pytest.approx(1.0)
    assert "95% interval" in anomaly.format_results({"perfect": row})


def test_bootstrap_aurocs_are_scikit_learns_on_the_same_resamples():
    """The weighted AUROC of each resample equals roc_auc_score on the resampled items, ties included."""
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.15).astype(int)
    tied, spread = np.round(rng.random(300) + 0.2 * y, 1), rng.random(300) + 0.4 * y
    got = anomaly.bootstrap_aurocs(y, tied, spread, n_resamples=50, seed=7)
    pos, neg, draw = np.flatnonzero(y == 1), np.flatnonzero(y == 0), np.random.default_rng(7)
    for row in got:  # the same draws, in the same order, as the function makes them
        i = np.concatenate([draw.choice(pos, len(pos)), draw.choice(neg, len(neg))])
        assert row == pytest.approx([skm.roc_auc_score(y[i], tied[i]), skm.roc_auc_score(y[i], spread[i])], abs=1e-12)
    with pytest.raises(ValueError):
        anomaly.bootstrap_aurocs(np.zeros(10), rng.random(10), n_resamples=10)
