import pytest
import torch
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from course_lib.models import MLPAutoencoder
from course_lib.sweeps import (
    compression_ratio,
    linear_probe_accuracy,
    sweep_table,
    train_sweep,
    unreconstructed_share,
    unseen_inputs,
)


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


def test_train_sweep_trains_one_model_per_size_and_caches(tmp_path, low_rank_images):
    make = lambda k: MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=k)  # noqa: E731
    kw = dict(num_epochs=30, batch_size=64, lr=3e-3, progress=False)
    sweep = train_sweep(make, [1, 4], tmp_path, "t", low_rank_images, **kw)
    assert set(sweep) == {1, 4} and sweep[4][0].latent_dim == 4
    assert sweep[4][1].train_loss[-1] < 0.5 * sweep[4][1].train_loss[0]
    assert len(list(tmp_path.glob("t-k*.pt"))) == 2
    again = train_sweep(make, [4], tmp_path, "t", low_rank_images, **kw)
    x = low_rank_images[:10]
    assert torch.allclose(again[4][0](x), sweep[4][0](x))
    with pytest.raises(ValueError):
        train_sweep(make, [0], tmp_path, "t", low_rank_images, **kw)


def test_sweep_table_formats_rows_and_missing_values():
    text = sweep_table([{"k": 2, "v": 0.5}, {"k": 4, "v": float("nan")}],
                       [("k", "k", "d"), ("v", "value", ".2f")])
    lines = text.splitlines()
    assert len(lines) == 3 and "0.50" in lines[1] and lines[2].strip().endswith("-")
    with pytest.raises(ValueError):
        sweep_table([], [])
