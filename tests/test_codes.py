import pytest
import torch
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from course_lib.fallbacks import unseen_inputs
from course_lib.metrics import compression_ratio, linear_probe_accuracy, unreconstructed_share
from course_lib.tables import format_table


def test_compression_ratio():
    assert compression_ratio((1, 28, 28), 16) == 49.0
    assert compression_ratio((1, 28, 28), 1024) < 1
    with pytest.raises(ValueError):
        compression_ratio((1, 28, 28), 0)


def test_unreconstructed_share_is_zero_for_a_copy_and_one_for_black():
    x = torch.rand(5, 1, 8, 8) + 0.1
    assert unreconstructed_share(x, x) == 0.0
    assert unreconstructed_share(x, torch.zeros_like(x)) == pytest.approx(1.0)
    assert unreconstructed_share(x, 0.5 * x) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        unreconstructed_share(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError):
        unreconstructed_share(x, x[:2])


def test_linear_probe_matches_scikit_learn_and_separates_classes():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3
    z = torch.randn(300, 5, generator=g) + 3 * torch.nn.functional.one_hot(y, 5).float()
    acc = linear_probe_accuracy(z[:200], y[:200], z[200:], y[200:])
    ref = make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0))
    ref.fit(z[:200].double().numpy(), y[:200].numpy())
    assert acc == pytest.approx(ref.score(z[200:].double().numpy(), y[200:].numpy()))
    assert acc > 0.9
    noise_acc = linear_probe_accuracy(torch.randn(200, 5, generator=g), y[:200],
                                      torch.randn(100, 5, generator=g), y[200:])
    assert noise_acc < 0.6
    with pytest.raises(ValueError):
        linear_probe_accuracy(z[:200], y[:100], z[200:], y[200:])


def test_unseen_inputs_are_new_kinds_of_the_same_shape():
    x = torch.rand(6, 1, 28, 28)
    kinds = unseen_inputs(x, seed=1)
    assert set(kinds) == {"uniform noise", "inverted digits", "rotated digits", "shapes"}
    assert all(v.shape == x.shape for v in kinds.values())
    assert torch.allclose(kinds["inverted digits"], 1 - x)
    with pytest.raises(ValueError):
        unseen_inputs(torch.rand(6, 3, 28, 28))


def test_format_table_fits_columns_aligns_text_left_numbers_right_and_marks_missing_values():
    text = format_table([{"name": "a", "k": 2, "v": 0.5}, {"name": "longer name", "k": 1024, "v": float("nan")}],
                        [("name", "model", "s"), ("k", "k", "d"), ("v", "value", ".2f")], title="T")
    title, header, first, second = text.splitlines()
    assert title == "T" and header == "model           k  value"
    assert first == "a               2   0.50" and second == "longer name  1024      -"
    assert format_table([{"x": None}], [("x", "x", "d")]).splitlines()[1] == "-"
    with pytest.raises(ValueError):
        format_table([], [])
    with pytest.raises(ValueError):
        format_table([{"k": 1}], [("k", "k")])


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_items():
    from course_lib.metrics import bootstrap_interval

    g = torch.Generator().manual_seed(0)
    small, large = torch.randn(50, generator=g) + 3, torch.randn(5000, generator=g) + 3
    lo, hi = bootstrap_interval(lambda i: small[i].mean(), len(small))
    assert lo < small.mean() < hi and lo < 3 < hi
    lo2, hi2 = bootstrap_interval(lambda i: large[i].mean(), len(large), n_resamples=200)
    assert hi2 - lo2 < (hi - lo) / 4
    assert bootstrap_interval(lambda i: small[i].mean(), len(small)) == (lo, hi)  # seeded
    with pytest.raises(ValueError):
        bootstrap_interval(lambda i: 0.0, 1)
