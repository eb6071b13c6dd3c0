import pytest
import torch

from course_lib.models import Conv1dAutoencoder, MLPAutoencoder, count_parameters
from course_lib.training import fit


@pytest.mark.parametrize("model", [Conv1dAutoencoder(latent_dim=8),
                                   MLPAutoencoder((1, 140), hidden=(64, 32), latent_dim=8, output="linear")])
def test_beat_autoencoders_keep_the_shape(model):
    x = torch.randn(5, 1, 140)
    z = model.encode(x)
    assert z.shape == (5, 8)
    x_hat = model.decode(z)
    assert x_hat.shape == (5, 1, 140)
    assert model.decode(100 * z).abs().max() > 1  # linear output, not squashed to [0, 1]
    assert torch.allclose(model(x), x_hat)


def test_mlp_also_takes_flat_beats():
    model = MLPAutoencoder((140,), hidden=(32,), latent_dim=4, output="linear")
    assert model(torch.randn(3, 140)).shape == (3, 140)


def test_conv1d_takes_other_lengths_and_channels():
    model = Conv1dAutoencoder(input_shape=(2, 64), channels=(4, 8), latent_dim=3)
    assert model(torch.randn(2, 2, 64)).shape == (2, 2, 64)
    assert count_parameters(model) < count_parameters(Conv1dAutoencoder())


@pytest.mark.parametrize("bad", [torch.randn(5, 140), torch.randn(5, 1, 136),
                                 torch.zeros(5, 1, 140, dtype=torch.long)])
def test_wrong_inputs_raise_value_error(bad):
    with pytest.raises(ValueError, match="must"):
        Conv1dAutoencoder()(bad)


def test_bad_settings_raise_value_error():
    with pytest.raises(ValueError, match="divisible by 4"):
        Conv1dAutoencoder(input_shape=(1, 142))
    with pytest.raises(ValueError):
        Conv1dAutoencoder(latent_dim=0)


def test_conv1d_learns_smooth_series():
    t = torch.linspace(0, 1, 140)
    g = torch.Generator().manual_seed(0)
    phase = torch.rand(128, 1, generator=g)
    x = torch.sin(6.28 * (t + phase)).unsqueeze(1)  # (128, 1, 140), a one-parameter family
    torch.manual_seed(0)
    model = Conv1dAutoencoder(latent_dim=4)
    h = fit(model, x, num_epochs=20, batch_size=32, lr=3e-3, progress=False)
    assert h.train_loss[-1] < 0.2 * h.train_loss[0]
