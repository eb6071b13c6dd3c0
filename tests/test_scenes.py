import pytest
import torch

from course_lib.fallbacks import sklearn_digits_28
from course_lib.scenes import SCENE_CLASSES, make_scenes


@pytest.fixture(scope="module")
def source():
    digits = sklearn_digits_28()
    return digits.x[:300], digits.y[:300]


def test_labels_line_up_with_the_ink(source):
    s = make_scenes(*source, 40, size=40, digit_size=(16, 24), threshold=0.3, seed=0)
    assert s.x.shape == (40, 1, 40, 40) and s.y.shape == (40, 40, 40) and s.num_classes == 11
    assert torch.equal(s.y > 0, s.x[:, 0] >= 0.3)
    assert s.x.min() >= 0 and s.x.max() <= 1 and s.classes == SCENE_CLASSES


def test_each_scene_holds_the_requested_digits(source):
    x, y = source
    s = make_scenes(x, y, 30, size=48, per_scene=(2, 2), digit_size=(18, 22), max_overlap=0.0, seed=1)
    for labels in s.y:
        present = labels.unique()
        assert 2 <= len(present) <= 3  # background + two digits (one more if both are the same digit: 2)


def test_a_single_digit_scene_is_the_resized_digit(source):
    x, y = source
    s = make_scenes(x[:1], y[:1], 3, size=28, per_scene=(1, 1), digit_size=(28, 28), seed=0)
    assert torch.allclose(s.x[:, 0], x[0, 0].expand(3, 28, 28), atol=1e-6)
    assert set(s.y.unique().tolist()) == {0, int(y[0]) + 1}


def test_scenes_are_reproducible_and_depend_on_the_seed(source):
    a, b = make_scenes(*source, 10, seed=3), make_scenes(*source, 10, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x, make_scenes(*source, 10, seed=4).x)


@pytest.mark.parametrize("kwargs", [dict(size=4), dict(digit_size=(20, 60)), dict(per_scene=(3, 2)),
                                    dict(max_overlap=1.5), dict(threshold=0.0), dict(n=0)])
def test_bad_parameters_are_rejected(source, kwargs):
    args = dict(n=5) | kwargs
    with pytest.raises(ValueError):
        make_scenes(*source, **args)


def test_impossible_layouts_say_so(source):
    with pytest.raises(ValueError, match="could not place"):
        make_scenes(*source, 20, size=24, per_scene=(4, 4), digit_size=(22, 24), max_overlap=0.0)


def test_rotation_turns_the_digit_and_keeps_labels_on_the_ink(source):
    x, y = source
    bar = torch.zeros(1, 1, 28, 28)
    bar[..., 4:24, 13:15] = 1.0  # a vertical stroke
    upright = make_scenes(bar, y[:1], 1, size=28, per_scene=(1, 1), digit_size=(28, 28), seed=0)
    turned = make_scenes(bar, y[:1], 1, size=28, per_scene=(1, 1), digit_size=(28, 28), seed=0,
                         max_rotation=90.0)
    assert torch.equal(upright.x, bar[:, :1])  # no rotation asked: the same digit, same random stream
    assert not torch.allclose(turned.x, upright.x)
    assert torch.equal(turned.y > 0, turned.x[:, 0] >= 0.3)
    many = make_scenes(x, y, 20, size=40, digit_size=(16, 24), seed=2, max_rotation=20.0)
    assert torch.equal(many.y > 0, many.x[:, 0] >= 0.3)
    with pytest.raises(ValueError, match="max_rotation"):
        make_scenes(x, y, 2, max_rotation=-5.0)


def test_a_digit_with_no_room_at_its_drawn_size_is_placed_at_the_smallest_size(monkeypatch):
    import course_lib.scenes as scenes_module

    place, retried = scenes_module._place, []

    def watched(*args):
        left_out = place(*args)
        retried.append(bool(left_out.any()))
        return left_out

    monkeypatch.setattr(scenes_module, "_place", watched)
    squares = torch.ones(4, 1, 28, 28)  # all ink: two 20-pixel squares cannot share a 32 canvas at 15% overlap
    scenes = make_scenes(squares, torch.tensor([1, 2, 3, 4]), 6, size=32, digit_size=(14, 20),
                         max_overlap=0.15, seed=2)
    assert any(retried)  # this seed draws a layout with no room at the drawn size ...
    ink = (scenes.y > 0).flatten(1).sum(1)
    assert (ink >= 14 * 14 * 1.85).all()  # ... and still every scene holds both squares


def test_an_empty_digit_set_is_named():
    """Probe 18: make_scenes with no digits failed in torch (min() of an empty tensor, scenes.py:40)."""
    with pytest.raises(ValueError, match=r"^digits_x holds no digits \(shape \(0, 1, 28, 28\)\)"):
        make_scenes(torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long), n=2, size=32)


def test_byte_digits_are_refused_with_the_fix(source):
    """Probe 19: uint8 digits (0..255) made scenes where 46% of the canvas was exactly 1.0 and labelled digit."""
    x, y = source
    as_bytes = (x * 255).round().to(torch.uint8)
    with pytest.raises(ValueError, match=r"digits_x must be float images in \[0, 1\], got dtype torch.uint8: "
                                         r"pass digits_x.float\(\) / 255"):
        make_scenes(as_bytes, y, n=4, size=32)
    with pytest.raises(ValueError, match=r"values from 0 to 255: pass digits_x / 255"):
        make_scenes(as_bytes.float(), y, n=4, size=32)
    scenes = make_scenes(as_bytes.float() / 255, y, n=4, size=32)  # the fix works
    assert (scenes.x == 1.0).float().mean() < 0.05
