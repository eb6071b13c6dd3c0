import pytest
import torch

from course_lib.models import ConvAutoencoder, MLPAutoencoder, UNet, count_parameters
from course_lib.training import fit


@pytest.mark.parametrize("model", [MLPAutoencoder(latent_dim=8), ConvAutoencoder(latent_dim=8)])
def test_shapes_of_code_and_reconstruction(model):
    x = torch.rand(5, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (5, 8)
    x_hat = model.decode(z)
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    assert torch.allclose(model(x), x_hat)


def test_mlp_layout_mirrors_the_encoder():
    model = MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32, 16), latent_dim=4, output="linear")
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (64, 32), (32, 16), (16, 4), (4, 16), (16, 32), (32, 64)]
    assert count_parameters(model) == sum(m.weight.numel() + m.bias.numel() for m in linears)


@pytest.mark.parametrize("bad", [torch.rand(5, 784), torch.rand(5, 1, 27, 27),
                                 torch.zeros(5, 1, 28, 28, dtype=torch.long)])
def test_wrong_inputs_raise_value_error(bad):
    for model in (MLPAutoencoder(), ConvAutoencoder()):
        with pytest.raises(ValueError, match="expected|must"):
            model(bad)


def test_bad_constructor_arguments_raise_value_error():
    with pytest.raises(ValueError):
        MLPAutoencoder(latent_dim=0)
    with pytest.raises(ValueError):
        MLPAutoencoder(output="tanh")
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvAutoencoder(input_shape=(1, 30, 30))
    with pytest.raises(ValueError, match="z"):
        MLPAutoencoder(latent_dim=4).decode(torch.rand(3, 5))


@pytest.mark.parametrize("make", [
    lambda: MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4),
    lambda: ConvAutoencoder(input_shape=(1, 8, 8), channels=(8, 16), latent_dim=4),
])
def test_models_learn_structured_data(make, low_rank_images):
    torch.manual_seed(0)
    history = fit(make(), low_rank_images, num_epochs=15, batch_size=32, lr=3e-3, progress=False)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


@pytest.mark.parametrize("skips", [True, False])
def test_unet_keeps_the_image_size_and_maps_channels(skips):
    net = UNet(in_channels=2, out_channels=5, channels=(4, 8, 16), skips=skips)
    assert net(torch.rand(3, 2, 20, 28)).shape == (3, 5, 20, 28)


def test_unet_without_skips_has_fewer_inputs_to_merge():
    with_skips, without = UNet(channels=(4, 8, 16)), UNet(channels=(4, 8, 16), skips=False)
    assert count_parameters(without) < count_parameters(with_skips)


def test_unet_refuses_sizes_it_cannot_halve_with_a_clear_message():
    with pytest.raises(ValueError, match="multiples of 4"):
        UNet(channels=(4, 8, 16))(torch.rand(1, 1, 30, 28))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        UNet()(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError):
        UNet(output="softmax")


def test_unet_clamp_output_stays_in_range_at_inference():
    net = UNet(channels=(4, 8), output="clamp").eval()
    y = net(torch.randn(2, 1, 8, 8) * 100)
    assert 0 <= y.min() and y.max() <= 1


def test_unet_runs_channels_last_inside_and_returns_the_usual_layout():
    torch.manual_seed(0)
    net = UNet(in_channels=1, out_channels=5, channels=(4, 8, 16))
    assert net.down[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.rand(3, 1, 16, 16)
    y = net(x)
    assert y.is_contiguous() and y.view(3, -1).shape == (3, 5 * 16 * 16)
    # the same weights in the ordinary layout, run layer by layer, give the same numbers
    plain = UNet(in_channels=1, out_channels=5, channels=(4, 8, 16))
    plain.load_state_dict(net.state_dict())
    plain.to(memory_format=torch.contiguous_format)
    feats, h = [], x
    for i, block in enumerate(plain.down):
        h = block(h if i == 0 else plain.pool(h))
        feats.append(h)
    h = feats.pop()
    for up, merge in zip(plain.up, plain.merge):
        h = merge(torch.cat([up(h), feats.pop()], 1))
    assert torch.allclose(plain.head(h), y, atol=1e-5)


def _every_course_model():
    from course_lib.generative import VAE, DigitClassifier
    from course_lib.models import Conv1dAutoencoder, Inpainter

    images = torch.rand(2, 1, 16, 16)
    return [(MLPAutoencoder((1, 16, 16), hidden=(8,), latent_dim=4), images),
            (ConvAutoencoder((1, 16, 16), channels=(4, 8), latent_dim=4), images),
            (ConvAutoencoder((1, 16, 16), channels=(4, 8), latent_dim=4, skips=True), images),
            (UNet(channels=(4, 8)), images),
            (Inpainter(UNet(in_channels=2, channels=(4, 8))), torch.rand(2, 2, 16, 16)),
            (Conv1dAutoencoder((1, 16), channels=(4, 8), latent_dim=4), torch.rand(2, 1, 16)),
            (VAE((1, 16, 16), hidden=(8,), latent_dim=2), images),
            (DigitClassifier((1, 16, 16), hidden=8), images)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.bool])
def test_every_model_names_a_wrong_input_dtype_and_the_fix_before_torch_sees_it(dtype):
    """Probe 2: float64 or bool input failed deep inside torch (linear.py, conv.py) without naming x."""
    for model, x in _every_course_model():
        name = "x_in" if type(model).__name__ == "Inpainter" else "x"
        expected = (rf"^{name} must have the dtype of {type(model).__name__}'s weights, torch.float32, "
                    rf"got {dtype}: pass {name}.float\(\)$")
        with pytest.raises(ValueError, match=expected):
            model(x.to(dtype))
        model(x)  # float32, as the weights: runs


def test_a_model_converted_to_float64_takes_float64_and_names_float32_as_wrong():
    model = MLPAutoencoder((1, 8, 8), hidden=(8,), latent_dim=4).double()
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    assert model(x).dtype == torch.float64
    with pytest.raises(ValueError, match=r"z must have the dtype of MLPAutoencoder's weights, torch.float64, got "
                                         r"torch.float32: pass z.double\(\)"):
        model.decode(torch.rand(3, 4))
