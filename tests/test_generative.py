"""Chapter 08's library: the VAE, its loss, sampling and the scores of generated digits."""

import math

import pytest
import torch
import torch.nn.functional as F
from test_recipes import tiny_digits  # digit-shaped stand-ins, shared with the recipes' tests

from course_lib import generative as G
from course_lib.examples import Examples, Splits
from course_lib.training import fit, predict


def test_the_vae_maps_images_to_mean_and_log_variance_and_back():
    model = G.VAE(hidden=(32,), latent_dim=3)
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode_stats(x)
    assert mu.shape == logvar.shape == (5, 3) and torch.equal(model.encode(x), mu)
    model.eval()
    x_hat = model(x)
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    assert torch.allclose(x_hat, model.decode(mu)), "in eval mode the VAE decodes the mean code"
    model.train()
    assert not torch.allclose(model(x), x_hat), "in training mode it decodes a sampled code"
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\)"):
        model.encode(torch.rand(5, 784))


def test_the_vae_has_the_plain_autoencoders_layers_plus_one_head():
    from course_lib.models import MLPAutoencoder, count_parameters

    vae, plain = G.VAE(hidden=(64,), latent_dim=4), MLPAutoencoder(hidden=(64,), latent_dim=4)
    assert count_parameters(vae) - count_parameters(plain) == 64 * 4 + 4


def test_kl_is_zero_at_the_prior_and_matches_torch_elsewhere():
    zeros = torch.zeros(4, 3)
    assert torch.equal(G.kl_divergence(zeros, zeros), torch.zeros(4))
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    kl = G.kl_divergence(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    assert (kl > 0).all() and torch.allclose(kl, torch.distributions.kl_divergence(q, p).sum(1), atol=1e-5)
    with pytest.raises(ValueError, match="both be"):
        G.kl_divergence(mu, logvar[:, :2])


def test_the_reparameterised_sample_has_the_right_moments_and_passes_gradients():
    mu = torch.full((20_000, 2), 1.5, requires_grad=True)
    logvar = torch.full((20_000, 2), math.log(0.25), requires_grad=True)
    z = G.reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 1.5) < 0.02 and abs(z.std().item() - 0.5) < 0.02
    z.pow(2).mean().backward()
    assert mu.grad is not None and logvar.grad is not None and mu.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0


def test_the_loss_adds_beta_times_kl_to_the_summed_cross_entropy():
    x, x_hat = torch.rand(6, 1, 4, 4), torch.rand(6, 1, 4, 4).clamp(0.01, 0.99)
    mu, logvar = torch.randn(6, 2), torch.randn(6, 2)
    bce = F.binary_cross_entropy(x_hat, x, reduction="none").sum((1, 2, 3)).mean()
    assert torch.allclose(G.reconstruction_loss(x_hat, x), bce)
    assert torch.allclose(G.vae_loss(x_hat, x, mu, logvar, beta=2.0),
                          bce + 2.0 * G.kl_divergence(mu, logvar).mean())
    with pytest.raises(ValueError, match="beta"):
        G.ELBOLoss(-1)
    with pytest.raises(ValueError, match="VAE's output"):
        G.ELBOLoss()(x_hat, x)


def test_fit_trains_a_vae_on_low_rank_data(low_rank_images):
    torch.manual_seed(0)
    model = G.VAE(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    history = fit(model, low_rank_images[:448], x_val=low_rank_images[448:], num_epochs=30, batch_size=32,
                  lr=3e-3, loss_fn=G.ELBOLoss(1.0), progress=False)
    assert history.val_loss[-1] < 0.9 * history.val_loss[0]
    recon = G.reconstruction_loss(predict(model, low_rank_images[448:]), low_rank_images[448:])
    assert recon < 0.9 * G.reconstruction_loss(torch.full_like(low_rank_images[448:], 0.5), low_rank_images[448:])


def test_fitted_gaussian_codes_match_the_codes_they_were_fitted_to():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5_000, 2, generator=g) @ torch.tensor([[2.0, 1.0], [0.0, 0.5]]) + torch.tensor([3.0, -1.0])
    full = G.fitted_gaussian_codes(z, 20_000, g, "full")
    diag = G.fitted_gaussian_codes(z, 20_000, g, "diag")
    assert full.shape == diag.shape == (20_000, 2)
    assert torch.allclose(full.mean(0), z.mean(0), atol=0.05) and torch.allclose(diag.mean(0), z.mean(0), atol=0.05)
    assert torch.allclose(torch.cov(full.T), torch.cov(z.T), atol=0.1)
    assert abs(torch.corrcoef(diag.T)[0, 1]) < 0.03 < torch.corrcoef(z.T)[0, 1]
    assert G.prior_codes(7, 3, g).shape == (7, 3)
    with pytest.raises(ValueError, match="'diag' or 'full'"):
        G.fitted_gaussian_codes(z, 5, g, "spherical")
    with pytest.raises(ValueError, match="N > k"):
        G.fitted_gaussian_codes(z[:2], 5, g)


def test_interpolation_runs_from_one_code_to_the_other_in_equal_steps():
    a, b = torch.zeros(3, 2), torch.ones(3, 2)
    path = G.interpolate_codes(a, b, 5)
    assert path.shape == (3, 5, 2) and torch.equal(path[:, 0], a) and torch.equal(path[:, -1], b)
    assert torch.allclose(path[0, :, 0], torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))
    with pytest.raises(ValueError, match="steps >= 2"):
        G.interpolate_codes(a, b, 1)


def test_code_box_holds_the_central_share():
    z = torch.stack([torch.arange(101.0), -torch.arange(101.0)], 1)
    assert G.code_box(z, 0.9) == pytest.approx((5.0, 95.0, -95.0, -5.0))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        G.code_box(torch.zeros(10, 3))


def test_confident_share_and_class_entropy_on_known_probabilities():
    eye = torch.eye(10)
    assert G.confident_share(eye) == 1.0 and G.class_entropy(eye) == pytest.approx(math.log2(10))
    flat = torch.full((4, 10), 0.1)
    assert G.confident_share(flat) == 0.0
    one_class = torch.zeros(8, 10)
    one_class[:, 3] = 1.0
    assert G.class_entropy(one_class) == 0.0
    mixed = torch.tensor([[0.95, 0.05], [0.89, 0.11], [0.2, 0.8], [0.05, 0.95]])
    assert G.confident_share(mixed) == 0.5 and G.class_entropy(mixed) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="summing to 1"):
        G.confident_share(torch.ones(3, 10))
    with pytest.raises(ValueError, match="threshold"):
        G.confident_share(eye, threshold=1.5)


def test_the_conditional_vae_reads_the_label_and_fit_trains_it():
    torch.manual_seed(0)
    digits = tiny_digits()
    model = G.ConditionalVAE(hidden=(32,), latent_dim=2)
    x = G.with_label_channel(digits.train.x, digits.train.y)
    assert x.shape == (48, 2, 28, 28) and torch.equal(x[:, -1, 0, 0].long(), digits.train.y)
    history = fit(model, x, digits.train.x, num_epochs=15, batch_size=16, lr=3e-3, loss_fn=G.ELBOLoss(),
                  progress=False)
    assert history.train_loss[-1] < 0.8 * history.train_loss[0]
    z = torch.zeros(2, 2)
    a, b = model.decode(z, torch.tensor([1, 1])), model.decode(z, torch.tensor([1, 7]))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="labels in 0..9"):
        model.decode(z, torch.tensor([1, 10]))


def bar_digits(n: int, seed: int) -> Examples:
    """Images with one vertical bar in one of ten columns; the label is the column."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(10, (n,), generator=g)
    x = 0.1 * torch.rand(n, 1, 28, 28, generator=g)
    for i, label in enumerate(y.tolist()):
        x[i, 0, 4:24, 2 + 2 * label:4 + 2 * label] = 1.0
    return Examples(x, y)


def test_the_recipes_train_and_the_classifier_learns_to_tell_the_classes_apart(cfg):
    digits = Splits(bar_digits(1000, 0), bar_digits(100, 1), bar_digits(100, 2), name="bars", source="test",
                    is_real=False, classes=tuple(map(str, range(10))))
    classifier, h = G.digit_classifier(cfg, digits)  # 2 epochs in a fast run
    probs = G.class_probabilities(classifier, digits.test.x)
    assert probs.shape == (100, 10) and torch.allclose(probs.sum(1), torch.ones(100))
    assert (probs.argmax(1) == digits.test.y).float().mean() > 0.9 and h.val_loss[-1] < 0.5 * h.val_loss[0]
    vae, history = G.variational_autoencoder(cfg, digits, latent_dim=2)
    ae, _ = G.plain_autoencoder(cfg, digits, latent_dim=2)
    assert isinstance(vae, G.VAE) and history.val_loss[-1] < 0.8 * history.val_loss[0]
    assert ae.latent_dim == vae.latent_dim == 2


def test_the_vae_explorer_moves_its_marker_and_redraws_the_decoded_digit():
    from course_lib import widgets

    decode = lambda z: torch.sigmoid(z.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)  # noqa: E731
    classify = lambda x: torch.tensor([[0.2, 0.8]]).expand(len(x), 2)  # noqa: E731
    box = widgets.vae_latent_explorer(decode, torch.randn(50, 2), torch.arange(50) % 10, classify)
    first = box.output.outputs[0]["data"]["image/png"]
    box.sliders[0].value = 2.0
    assert tuple(box.marker.get_data()[0]) == (2.0,) and box.artist.get_array()[0, 0] == pytest.approx(
        torch.sigmoid(torch.tensor(2.0)).item())
    assert box.output.outputs[0]["data"]["image/png"] != first
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        widgets.vae_latent_explorer(decode, torch.randn(50, 3), torch.zeros(50))
