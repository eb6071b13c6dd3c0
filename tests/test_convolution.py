import pytest
import torch
from torch import nn

from course_lib.convolution import feature_maps, influence_map, maps_as_images, receptive_field, shape_trace
from course_lib.metrics import unreconstructed_share
from course_lib.models import ConvAutoencoder, count_parameters
from course_lib.training import fit, predict

STACKS = {  # built inside the test, after seeding: their weights do not depend on test order
    "one 3x3": (lambda: [nn.Conv2d(1, 2, 3, padding=1)], 3),
    "two 3x3": (lambda: [nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1)], 5),
    "stride 2, then 3x3": (lambda: [nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.Conv2d(2, 2, 3, padding=1)], 7),
    "pool, then 3x3": (lambda: [nn.MaxPool2d(2), nn.Conv2d(1, 2, 3, padding=1)], 6),
    "5x5 dilated 2": (lambda: [nn.Conv2d(1, 1, 5, padding=4, dilation=2)], 9),
}


@pytest.mark.parametrize("name", list(STACKS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_receptive_field_matches_what_the_gradient_reaches(name, seed):
    make, expected = STACKS[name]
    torch.manual_seed(seed)
    stack = nn.Sequential(*make())
    assert receptive_field(stack) == expected
    reached = influence_map(stack, (1, 32, 32))
    rows, cols = reached.any(1).nonzero().flatten(), reached.any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 <= expected and cols.max() - cols.min() + 1 <= expected
    # with random weights every pixel of the field matters: the extent is the full field, not less
    # (max-pooling passes the gradient to one pixel per block, which can cost the field's edge row)
    assert rows.max() - rows.min() + 1 >= expected - (1 if "pool" in name else 0)


def test_receptive_field_of_the_course_encoder_and_what_it_refuses():
    model = ConvAutoencoder(latent_dim=4)
    assert receptive_field(model.encoder[:4]) == 7
    with pytest.raises(ValueError, match="transposed"):
        receptive_field(model.decoder)
    with pytest.raises(ValueError, match="square"):
        receptive_field([nn.Conv2d(1, 1, (3, 5))])


def test_shape_trace_follows_the_encoder():
    model = ConvAutoencoder(latent_dim=4)
    shapes = [s for _, s in shape_trace(model.encoder, torch.rand(2, 1, 28, 28))]
    assert shapes[0] == (2, 1, 28, 28) and (2, 16, 14, 14) in shapes and (2, 32, 7, 7) in shapes
    assert shapes[-1] == (2, 4)
    with pytest.raises(ValueError):
        shape_trace(model.encoder[0], torch.rand(2, 1, 28, 28))


def test_feature_maps_and_their_pictures():
    model = ConvAutoencoder(latent_dim=4)
    maps = feature_maps(model, torch.rand(3, 1, 28, 28), {"first": model.encoder[1], "second": model.encoder[3]})
    assert maps["first"].shape == (3, 16, 14, 14) and maps["second"].shape == (3, 32, 7, 7)
    pictures = maps_as_images(maps["second"][0], (28, 28), channels=5)
    assert pictures.shape == (5, 1, 28, 28) and pictures.min() >= 0 and pictures.max() <= 1
    assert maps_as_images(torch.ones(2, 4, 4), (8, 8), channels=2).max() == 0  # a flat map shows black
    with pytest.raises(ValueError, match="not modules"):
        feature_maps(model, torch.rand(1, 1, 28, 28), {"other": nn.ReLU()})


def test_skips_add_no_parameters_and_leave_the_plain_network_unchanged():
    torch.manual_seed(0)
    plain = ConvAutoencoder(latent_dim=4)
    skipping = ConvAutoencoder(latent_dim=4, skips=True)
    skipping.load_state_dict(plain.state_dict())  # the same parameters, name for name
    assert count_parameters(plain) == count_parameters(skipping)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(plain(x), plain.decode(plain.encode(x)))
    assert not torch.allclose(skipping(x), plain(x))


def test_with_skips_the_output_follows_the_input_even_without_a_code():
    torch.manual_seed(0)
    for skips in (False, True):
        model = ConvAutoencoder(latent_dim=4, skips=skips)
        nn.init.zeros_(model.decoder[0].weight)  # the code contributes nothing any more
        nn.init.zeros_(model.decoder[0].bias)
        a, b = model(torch.rand(1, 1, 28, 28)), model(torch.rand(1, 1, 28, 28))
        assert torch.allclose(a, b) != skips


def test_skips_let_an_autoencoder_copy_what_it_never_saw():
    # uniform noise cannot pass through a 1-number code: only what bypasses the code can rebuild it
    x = torch.rand(256, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    unseen = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    unrec = {}
    for skips in (False, True):
        torch.manual_seed(0)
        model = ConvAutoencoder(input_shape=(1, 16, 16), channels=(8, 16), latent_dim=1, skips=skips)
        fit(model, x, num_epochs=10, batch_size=16, lr=1e-2, progress=False)
        unrec[skips] = unreconstructed_share(unseen, predict(model, unseen))
    assert unrec[True] < 0.1 * unrec[False] and unrec[False] > 0.2


def test_neighbour_label_share_against_a_brute_force_count():
    from course_lib.metrics import neighbour_label_share
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (40,), generator=g)
    z = torch.randn(40, 5, generator=g) + 3.0 * torch.nn.functional.one_hot(y, 5).float()  # labels cluster
    share = neighbour_label_share(z, y, k=4)
    for i in (0, 17, 39):
        d = (z - z[i]).norm(dim=1)
        d[i] = float("inf")
        expected = (y[d.argsort()[:4]] == y[i]).double().mean()
        assert share[i] == pytest.approx(expected.item())
    assert share.mean() > 0.8  # well-separated clusters: most neighbours share the label
    shuffled = neighbour_label_share(torch.randn(40, 5, generator=g), y, k=4)
    assert shuffled.mean() < 0.6
    with pytest.raises(ValueError, match="k must"):
        neighbour_label_share(z, y, k=40)
    with pytest.raises(ValueError, match="expected"):
        neighbour_label_share(z, y[:-1])
