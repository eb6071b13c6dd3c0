import functools

import pytest
import torch

from course_lib.corruptions import (
    NOISE_KINDS,
    add_noise,
    gaussian_noise,
    masking_noise,
    random_noise,
    salt_and_pepper,
)


def _grey(n=64, value=0.5):
    return torch.full((n, 1, 16, 16), value)


def test_gaussian_noise_has_the_asked_spread_and_is_clipped():
    g = torch.Generator().manual_seed(0)
    x = _grey()
    raw = gaussian_noise(x, g, sigma=0.2, clip=False)
    assert (raw - x).mean().abs() < 0.01 and (raw - x).std().item() == pytest.approx(0.2, rel=0.03)
    clipped = gaussian_noise(x, g, sigma=0.7)
    assert clipped.min() >= 0 and clipped.max() <= 1
    # clipping on a black image keeps only the positive half: mean sigma/sqrt(2 pi)
    black = gaussian_noise(torch.zeros(64, 1, 16, 16), g, sigma=0.5)
    assert black.mean().item() == pytest.approx(0.5 / (2 * torch.pi) ** 0.5, rel=0.05)


def test_same_seed_same_noise():
    x = _grey(4)
    a = gaussian_noise(x, torch.Generator().manual_seed(3), 0.3)
    b = gaussian_noise(x, torch.Generator().manual_seed(3), 0.3)
    assert torch.equal(a, b)


def test_salt_and_pepper_sets_the_asked_share_to_black_and_white():
    g = torch.Generator().manual_seed(1)
    y = salt_and_pepper(_grey(), g, amount=0.3)
    changed = (y != 0.5).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.02)
    assert (y == 0).float().mean().item() == pytest.approx(0.15, abs=0.02)
    assert set(torch.unique(y).tolist()) == {0.0, 0.5, 1.0}


def test_masking_noise_drops_the_asked_share():
    g = torch.Generator().manual_seed(2)
    y = masking_noise(_grey(), g, fraction=0.4)
    assert (y == 0).float().mean().item() == pytest.approx(0.4, abs=0.02)
    assert torch.all((y == 0) | (y == 0.5))


def test_add_noise_dispatches_and_level_zero_changes_nothing():
    x = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for kind in NOISE_KINDS:
        assert torch.equal(add_noise(x, torch.Generator().manual_seed(0), kind, 0.0), x)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(add_noise(x, g1, "masking", 0.3), masking_noise(x, g2, 0.3))


def test_random_noise_mixes_kinds_and_levels():
    g = torch.Generator().manual_seed(0)
    x = _grey(200)
    y = random_noise(x, g, menu=(("masking", 0.5, 0.5), ("gaussian", 0.1, 0.7)))
    masked = [(yi == 0).any() and torch.all((yi == 0) | (yi == 0.5)) for yi in y]
    assert 60 < sum(bool(m) for m in masked) < 140  # about half got the masking noise
    transform = functools.partial(random_noise, menu=(("gaussian", 0.2, 0.2),))
    assert transform(x, g).shape == x.shape


@pytest.mark.parametrize("call", [
    lambda: gaussian_noise(_grey(), torch.Generator(), sigma=-0.1),
    lambda: salt_and_pepper(_grey(), torch.Generator(), amount=1.5),
    lambda: masking_noise(_grey(), torch.Generator(), fraction=-1),
    lambda: add_noise(_grey(), torch.Generator(), "speckle", 0.1),
    lambda: gaussian_noise(torch.rand(16, 16), torch.Generator(), 0.1),
    lambda: gaussian_noise(_grey(), 0, 0.1),
    lambda: random_noise(_grey(), torch.Generator(), menu=(("gaussian", 0.5, 0.1),)),
    lambda: random_noise(_grey(), torch.Generator(), menu=()),
])
def test_bad_parameters_are_rejected(call):
    with pytest.raises(ValueError):
        call()


def test_noise_object_matches_the_functions_and_has_a_stable_repr():
    from course_lib.corruptions import Noise

    x = _grey(8)
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(Noise("gaussian", 0.3)(x, g1), gaussian_noise(x, g2, 0.3))
    assert repr(Noise("masking", 0.3)) == "Noise('masking', 0.3)"
    menu = (("gaussian", 0.1, 0.7),)
    assert repr(Noise(menu=menu)) == repr(Noise(menu=[["gaussian", 0.1, 0.7]]))
    with pytest.raises(ValueError):
        Noise()
    with pytest.raises(ValueError):
        Noise("blur", 0.1)
