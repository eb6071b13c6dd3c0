"""Chapter 08: the variational autoencoder, its loss, sampling, and scores for generated digits.

A VAE's encoder outputs a Gaussian over codes, ``q(z|x) = N(mu(x), diag(exp(logvar(x))))``,
instead of one code. Training maximises the evidence lower bound (ELBO): for a decoder
``p(x|z)`` and the prior ``p(z) = N(0, I)``, Jensen's inequality gives

    log p(x) = log E_q[p(x|z) p(z) / q(z|x)] >= E_q[log p(x|z)] - KL(q(z|x) || p(z)),

so the loss per image is a reconstruction term (``-log p(x|z)``: binary cross-entropy
summed over pixels for a Bernoulli decoder) plus the KL divergence, which for two
Gaussians has a closed form, per code dimension

    KL(N(mu, s^2) || N(0, 1)) = E_q[log q - log p] = -log s - 1/2 + (s^2 + mu^2) / 2
                              = 1/2 (mu^2 + exp(logvar) - 1 - logvar).

``beta`` weights the KL term (beta-VAE, Higgins et al. 2017); beta = 1 is the ELBO.
The plain autoencoder of the comparison is an ``MLPAutoencoder`` with the same layers and
the same reconstruction loss (beta = 0 and no noise).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from . import sizes
from .config import Config
from .examples import Splits
from .metrics import bootstrap_interval
from .models import Autoencoder, MLPAutoencoder, check_images
from .recipes import Trained, _seeded, train
from .training import predict


def _check_stats(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if not isinstance(mu, torch.Tensor) or not isinstance(logvar, torch.Tensor):
        raise ValueError(f"mu and logvar must be tensors, got {type(mu).__name__} and {type(logvar).__name__}")
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(f"mu and logvar must both be (B, latent_dim), got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A code drawn from N(mu, exp(logvar)) as ``mu + sigma * eps``: the gradient flows into mu and logvar."""
    _check_stats(mu, logvar)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps  # (B, latent_dim)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per item, summed over the code: (B,)."""
    _check_stats(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over each image's pixels, averaged over the batch."""
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    return F.binary_cross_entropy(x_hat, x, reduction="sum") / len(x)


def vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float = 1.0) -> torch.Tensor:
    """The negative ELBO per image (for beta = 1): reconstruction + beta * KL, averaged over the batch."""
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    return reconstruction_loss(x_hat, x) + beta * kl_divergence(mu, logvar).mean()


class ELBOLoss:
    """``vae_loss`` in the form ``training.fit`` calls a loss: ``loss(x_hat, x)``.

    A ``VAE``'s forward hands its ``mu`` and ``logvar`` along as attributes of ``x_hat``.
    """

    def __init__(self, beta: float = 1.0):
        if not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)

    def __call__(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if not hasattr(x_hat, "mu"):
            raise ValueError("ELBOLoss needs a VAE's output (x_hat with .mu and .logvar); got a plain tensor")
        return vae_loss(x_hat, x, x_hat.mu, x_hat.logvar, self.beta)

    def __repr__(self) -> str:
        return f"ELBOLoss(beta={self.beta:g})"


class VAE(Autoencoder):
    """An MLP variational autoencoder with the layers of ``MLPAutoencoder``, but two heads.

    The encoder's body maps x to the last hidden layer; ``to_mu`` and ``to_logvar`` map that
    to the mean and log-variance of q(z|x). ``encode`` returns the mean (the code used for
    reconstructions, plots and interpolation); ``forward`` samples z in training mode and
    uses the mean in eval mode, and attaches ``mu`` and ``logvar`` to its output for the loss.
    """

    def __init__(self, input_shape=(1, 28, 28), hidden=(256,), latent_dim: int = 2):
        super().__init__()
        plain = MLPAutoencoder(input_shape, hidden, latent_dim)
        self.input_shape, self.latent_dim = plain.input_shape, latent_dim
        width = hidden[-1] if hidden else math.prod(self.input_shape)
        self.encoder = plain.encoder[:-1]              # (B, width): everything but the code layer
        self.to_mu = nn.Linear(width, latent_dim)      # (B, latent_dim)
        self.to_logvar = nn.Linear(width, latent_dim)  # (B, latent_dim)
        self.decoder = plain.decoder

    def encode_stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input (B, *input_shape) -> mean and log-variance of q(z|x), each (B, latent_dim)."""
        check_images(x, self.input_shape, model=self)
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Input (B, *input_shape) -> the mean code (B, latent_dim)."""
        return self.encode_stats(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.encode_stats(x)
        z = reparameterize(mu, logvar) if self.training else mu
        x_hat = self.decode(z)
        x_hat.mu, x_hat.logvar = mu, logvar  # for ELBOLoss
        return x_hat


class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both also see the label as a one-hot vector (chapter 08's exercises).

    ``x`` is then a pair: call ``encode_stats(x, y)``, ``decode(z, y)``; ``forward`` takes
    images whose label was set with ``set_labels``, so ``training.fit`` can train it on
    ``LabelledImages``.
    """

    def __init__(self, input_shape=(1, 28, 28), hidden=(256,), latent_dim: int = 2, num_classes: int = 10):
        super().__init__(input_shape, hidden, latent_dim)
        n_in, width = math.prod(self.input_shape), hidden[-1]
        self.num_classes = num_classes
        self.encoder[1] = nn.Linear(n_in + num_classes, self.encoder[1].out_features)
        self.decoder[0] = nn.Linear(latent_dim + num_classes, width)

    def _one_hot(self, y: torch.Tensor, n: int) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.shape != (n,) or y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"y must be {n} labels in 0..{self.num_classes - 1}, got {getattr(y, 'shape', y)}")
        return F.one_hot(y.long(), self.num_classes).float()

    def encode_stats(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_images(x, self.input_shape, model=self)
        h = self.encoder[2:](self.encoder[1](torch.cat([x.flatten(1), self._one_hot(y, len(x))], 1)))
        return self.to_mu(h), self.to_logvar(h)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.encode_stats(x, y)[0]

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_images(z, (self.latent_dim,), name="z", model=self)
        return self.decoder(torch.cat([z, self._one_hot(y, len(z))], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.input_shape
        check_images(x, (c + 1, h, w), name="x (images with their label channel, see with_label_channel)",
                     model=self)
        images, y = x[:, :-1], x[:, -1, 0, 0].long()  # the label rides along as an extra channel
        mu, logvar = self.encode_stats(images, y)
        z = reparameterize(mu, logvar) if self.training else mu
        x_hat = self.decode(z, y)
        x_hat.mu, x_hat.logvar = mu, logvar
        return x_hat


def with_label_channel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Images (B, C, H, W) and labels (B,) -> (B, C + 1, H, W), the label filling the last channel."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or len(y) != len(x):
        raise ValueError(f"expected images (B, C, H, W) and B labels, got {tuple(getattr(x, 'shape', ()))} "
                         f"and {len(y)} labels")
    return torch.cat([x, y.float().view(-1, 1, 1, 1).expand(-1, 1, *x.shape[-2:])], 1)


# --------------------------------------------------------------------------- sampling

def prior_codes(n: int, latent_dim: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` codes from the prior N(0, I): (n, latent_dim)."""
    if n < 1 or latent_dim < 1:
        raise ValueError(f"need n >= 1 and latent_dim >= 1, got {n} and {latent_dim}")
    return torch.randn(n, latent_dim, generator=generator)


def fitted_gaussian_codes(z_train: torch.Tensor, n: int, generator: torch.Generator,
                          covariance: str = "full") -> torch.Tensor:
    """``n`` codes from a Gaussian fitted to the codes ``z_train`` (N, k): mean and covariance.

    ``covariance="diag"`` keeps only each dimension's variance; ``"full"`` also the correlations.
    """
    if not isinstance(z_train, torch.Tensor) or z_train.dim() != 2 or len(z_train) <= z_train.shape[1]:
        raise ValueError(f"z_train must be codes (N, k) with N > k, got {tuple(getattr(z_train, 'shape', ()))}")
    if covariance not in ("diag", "full"):
        raise ValueError(f"covariance must be 'diag' or 'full', got {covariance!r}")
    z = z_train.double()
    mean, cov = z.mean(0), torch.cov(z.T).reshape(z.shape[1], z.shape[1])
    if covariance == "diag":
        cov = torch.diag(torch.diagonal(cov))
    chol = torch.linalg.cholesky(cov + 1e-9 * torch.eye(len(cov), dtype=cov.dtype))
    eps = torch.randn(n, z.shape[1], generator=generator, dtype=torch.float64)
    return (mean + eps @ chol.T).float()  # (n, k)


def mixture_codes(z_train: torch.Tensor, n: int, generator: torch.Generator, components: int = 10,
                  seed: int = 0) -> torch.Tensor:
    """``n`` codes from a mixture of ``components`` Gaussians (full covariances) fitted to ``z_train`` (N, k).

    scikit-learn's ``GaussianMixture`` fits it (EM, started from k-means with ``seed``); the
    codes are drawn here with the torch ``generator``: a component by its weight, then a
    point from that component's Gaussian.
    """
    from sklearn.mixture import GaussianMixture

    if not isinstance(z_train, torch.Tensor) or z_train.dim() != 2 or len(z_train) <= components * z_train.shape[1]:
        raise ValueError(f"z_train must be codes (N, k) with N > components * k, got "
                         f"{tuple(getattr(z_train, 'shape', ()))} for {components} components")
    if n < 1 or components < 1:
        raise ValueError(f"need n >= 1 and components >= 1, got {n} and {components}")
    mixture = GaussianMixture(n_components=components, covariance_type="full", random_state=seed)
    mixture.fit(z_train.double().numpy())
    weights, means, covariances = (torch.as_tensor(a, dtype=torch.float64)
                                   for a in (mixture.weights_, mixture.means_, mixture.covariances_))
    component = torch.multinomial(weights, n, replacement=True, generator=generator)  # one Gaussian per code
    chol = torch.linalg.cholesky(covariances)  # (components, k, k)
    eps = torch.randn(n, z_train.shape[1], 1, generator=generator, dtype=torch.float64)
    return (means[component] + (chol[component] @ eps).squeeze(-1)).float()  # (n, k)


def interpolate_codes(z_a: torch.Tensor, z_b: torch.Tensor, steps: int) -> torch.Tensor:
    """Codes on the straight line from each ``z_a`` to each ``z_b`` (P, k): (P, steps, k), ends included."""
    if z_a.shape != z_b.shape or z_a.dim() != 2 or steps < 2:
        raise ValueError(f"need two (P, k) code batches of one shape and steps >= 2, got "
                         f"{tuple(z_a.shape)}, {tuple(z_b.shape)} and {steps}")
    t = torch.linspace(0, 1, steps).view(1, -1, 1)
    return z_a.unsqueeze(1) * (1 - t) + z_b.unsqueeze(1) * t


def code_box(z: torch.Tensor, share: float = 0.96) -> tuple[float, float, float, float]:
    """The box (z0_min, z0_max, z1_min, z1_max) holding the central ``share`` of 2-D codes along each axis."""
    if z.dim() != 2 or z.shape[1] != 2 or not 0 < share < 1:
        raise ValueError(f"need 2-D codes (N, 2) and 0 < share < 1, got {tuple(z.shape)} and {share}")
    tail = (1 - share) / 2
    lo, hi = torch.quantile(z, tail, dim=0), torch.quantile(z, 1 - tail, dim=0)
    return lo[0].item(), hi[0].item(), lo[1].item(), hi[1].item()


# --------------------------------------------------------------------------- scoring generated digits

class DigitClassifier(nn.Module):
    """An MLP 784-256-10 that scores images (B, 1, 28, 28): the judge of generated digits."""

    def __init__(self, input_shape=(1, 28, 28), hidden: int = 256, num_classes: int = 10):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.layers = nn.Sequential(
            nn.Flatten(),                                              # (B, 784)
            nn.Linear(math.prod(self.input_shape), hidden), nn.ReLU(),  # (B, hidden)
            nn.Linear(hidden, num_classes),                            # (B, num_classes): scores
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.input_shape, model=self)
        return self.layers(x)


def class_probabilities(classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The classifier's softmax probabilities for images x: (N, num_classes), on the CPU."""
    return predict(classifier, x).softmax(1)


def _check_probs(probs: torch.Tensor) -> None:
    if not isinstance(probs, torch.Tensor) or probs.dim() != 2 or len(probs) == 0:
        raise ValueError(f"probs must be (N, num_classes) with N >= 1, got {tuple(getattr(probs, 'shape', ()))}")
    if probs.min() < 0 or not torch.allclose(probs.sum(1), torch.ones(len(probs), dtype=probs.dtype), atol=1e-4):
        raise ValueError("probs must be probabilities: non-negative, each row summing to 1")


def confident_share(probs: torch.Tensor, threshold: float = 0.9) -> float:
    """The share of images whose most likely class has probability at least ``threshold``."""
    _check_probs(probs)
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return (probs.max(1).values >= threshold).float().mean().item()


def class_entropy(probs: torch.Tensor) -> float:
    """Entropy in bits of how often each class is the most likely one: log2(10) = 3.32 when all ten appear equally."""
    _check_probs(probs)
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log2()).sum()) + 0.0  # + 0.0: one class gives 0.0, not -0.0


def sample_scores(probs: torch.Tensor, n_resamples: int = 1000, seed: int = 0) -> dict:
    """Confident share and class entropy of generated images, each with a 95% bootstrap interval over them."""
    _check_probs(probs)
    confident, labels = probs.max(1).values >= 0.9, probs.argmax(1)
    k = probs.shape[1]

    def entropy(i):
        p = torch.bincount(labels[i], minlength=k).double() / len(i)
        p = p[p > 0]
        return float(-(p * p.log2()).sum()) + 0.0

    return {"confident_share": confident_share(probs), "class_entropy": class_entropy(probs),
            "confident_interval": bootstrap_interval(lambda i: confident[i].float().mean(), len(probs),
                                                     n_resamples=n_resamples, seed=seed),
            "entropy_interval": bootstrap_interval(entropy, len(probs), n_resamples=n_resamples, seed=seed)}


def different_label_pairs(y: torch.Tensor, n_pairs: int,
                          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (a, b) of ``n_pairs`` random pairs of items whose labels differ."""
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or len(y.unique()) < 2 or n_pairs < 1:
        raise ValueError(f"need labels (N,) of at least two classes and n_pairs >= 1, got "
                         f"{tuple(getattr(y, 'shape', ()))} and {n_pairs}")
    a, b = torch.randint(len(y), (2, 4 * n_pairs + 20), generator=generator)
    keep = y[a] != y[b]
    return a[keep][:n_pairs], b[keep][:n_pairs]


def grey_share(x: torch.Tensor, low: float = 0.2, high: float = 0.8) -> torch.Tensor:
    """Per image, the share of its pixels that are neither near black nor near white, in (low, high): (N,).

    Digits are mostly ink or background; a blurred image has many grey pixels in between.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not 0 <= low < high <= 1:
        raise ValueError(f"need images (N, C, H, W) and 0 <= low < high <= 1, got "
                         f"{tuple(getattr(x, 'shape', ()))}, {low} and {high}")
    return ((x > low) & (x < high)).flatten(1).float().mean(1)


@torch.no_grad()
def aggregate_codes(model: VAE, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One code drawn from q(z|x) for every image: together, a sample of the VAE's aggregate posterior (N, k)."""
    model.eval()
    mu, logvar = model.encode_stats(x.to(next(model.parameters()).device))
    return reparameterize(mu.cpu(), logvar.cpu(), generator)


def plot_aggregate_posterior(z2: torch.Tensor, y: torch.Tensor, z16: torch.Tensor) -> Figure:
    """The codes of all training digits against the prior N(0, I): a 2-D scatter coloured by digit ``y``
    with the prior's 1, 2 and 3 sigma circles, and each of k dimensions' mean and standard deviation
    against the prior's 0 and 1."""
    if z2.dim() != 2 or z2.shape[1] != 2 or z16.dim() != 2 or len(y) != len(z2):
        raise ValueError(f"expected codes (N, 2), labels (N,) and codes (M, k), got {tuple(z2.shape)}, "
                         f"{tuple(y.shape)} and {tuple(z16.shape)}")
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4.8), gridspec_kw={"width_ratios": [1, 1.4]})
    ax.scatter(z2[:, 0], z2[:, 1], s=2, alpha=0.3, c=plt.cm.tab10(y.numpy() % 10))
    t = np.linspace(0, 2 * np.pi, 200)
    for r in (1, 2, 3):
        ax.plot(r * np.cos(t), r * np.sin(t), "k--", lw=0.8, label="prior N(0, I): 1, 2, 3 sigma" if r == 1 else None)
    lim = max(3.5, float(z2.abs().max()) * 1.02)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="z[0]", ylabel="z[1]",
           title="k=2: one code per training digit (colour: digit)")
    for d in sorted(set(y.tolist())):  # one legend entry per digit, for the colours
        ax.scatter([], [], s=12, color=plt.cm.tab10(d % 10), label=str(d))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=6, handlelength=1.0)
    dims = np.arange(z16.shape[1])
    bx.errorbar(dims, z16.mean(0).numpy(), yerr=z16.std(0).numpy(), fmt="o", color="C0", capsize=3,
                label="training codes: mean ± standard deviation")
    bx.errorbar(dims + 0.3, np.zeros(len(dims)), yerr=np.ones(len(dims)), fmt="s", color="k", ms=3, capsize=3,
                label="prior N(0, 1)")
    reach = float((z16.mean(0).abs() + z16.std(0)).max())
    bx.set(xticks=dims, xlabel="code dimension", title=f"k={z16.shape[1]}", ylim=(-1.25 * reach, 1.6 * reach))
    bx.legend(fontsize=7, loc="upper right")
    fig.suptitle("The VAE's codes of all training digits against its prior", fontsize=10)
    fig.tight_layout()
    fig.subplots_adjust(bottom=0.24)  # room for the digits' legend under the scatter
    return fig


@torch.no_grad()
def kl_per_dimension(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """The VAE's mean KL divergence per code dimension over images x, in nats: (latent_dim,)."""
    model.eval()
    mu, logvar = model.encode_stats(x.to(next(model.parameters()).device))
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0).cpu()


def plot_confidence_grids(grids: dict, boxes: dict) -> Figure:
    """The classifier's top probability on each model's decoded grid, side by side.

    Args:
        grids: name -> (n, n) confidences, top row = largest z[1] (``plotting.latent_grid``'s order).
        boxes: name -> the (z0_min, z0_max, z1_min, z1_max) box that grid covers.
    """
    fig, axes = plt.subplots(1, len(grids), figsize=(3.6 * len(grids), 3.4), squeeze=False, layout="constrained")
    for ax, (name, conf) in zip(axes[0], grids.items(), strict=True):
        shown = ax.imshow(conf.numpy(), cmap="viridis", vmin=0, vmax=1, extent=boxes[name], aspect="auto")
        share = (conf >= 0.9).float().mean().item()
        ax.set(title=f"{name}\n{share:.0%} of cells at 0.9 or more", xlabel="z[0]", ylabel="z[1]")
    fig.colorbar(shown, ax=axes[0].tolist(), label="classifier's top probability")
    return fig


# --------------------------------------------------------------------------- recipes

# The same recipe for every model of the chapter: Adam at 1e-3 in batches of 64, the rate divided
# by 5 after an epoch without a 0.5% gain in validation loss, training stopped after two such epochs
# and the best epoch's weights kept; ``sizes variational.max_epochs`` is only a ceiling. Looser than
# ``recipes.CONVERGED`` (patience 3 at 0.3%) to fit the time budget: measured on the 5,000 training
# digits, that took 22-33 epochs against 12-23 here, and gave the same verdicts on the samples (the plain
# AE with a fitted full Gaussian ahead of the VAE's prior at k=2 and k=16) at seeds 0 and 1.
GENERATIVE_CONVERGED = dict(schedule="plateau", patience=2, min_improvement=5e-3)
HIDDEN = (256,)
BETA_SWEEP = (0.25, 1.0, 4.0)  # the KL weights of the chapter's sweep, fixed in advance around the ELBO's 1


def _generative_fit(cfg: Config, x_val: torch.Tensor, loss_fn) -> dict:
    return dict(x_val=x_val, num_epochs=sizes.of(cfg, "variational").max_epochs, batch_size=cfg.batch_size,
                lr=1e-3, loss_fn=loss_fn, **GENERATIVE_CONVERGED)


def plain_autoencoder(cfg: Config, digits: Splits, latent_dim: int) -> Trained:
    """An ``MLPAutoencoder`` 784-256-``latent_dim`` trained on the VAE's reconstruction loss alone."""
    model = _seeded(cfg, lambda: MLPAutoencoder(hidden=HIDDEN, latent_dim=latent_dim), seed_offset=latent_dim)
    history = train(cfg, model, f"ch08-ae{latent_dim}", digits.train.x,
                    **_generative_fit(cfg, digits.val.x, reconstruction_loss))
    return model, history


def variational_autoencoder(cfg: Config, digits: Splits, latent_dim: int, beta: float = 1.0) -> Trained:
    """A ``VAE`` 784-256-``latent_dim`` trained on reconstruction + ``beta`` * KL, like ``plain_autoencoder``."""
    model = _seeded(cfg, lambda: VAE(hidden=HIDDEN, latent_dim=latent_dim), seed_offset=latent_dim)
    history = train(cfg, model, f"ch08-vae{latent_dim}-beta{beta:g}", digits.train.x,
                    **_generative_fit(cfg, digits.val.x, ELBOLoss(beta)))
    return model, history


def conditional_vae(cfg: Config, digits: Splits, latent_dim: int = 2) -> Trained:
    """A ``ConditionalVAE`` trained like ``variational_autoencoder`` (beta 1), its labels riding as a channel."""
    model = _seeded(cfg, lambda: ConditionalVAE(hidden=HIDDEN, latent_dim=latent_dim), seed_offset=latent_dim)
    x, x_val = (with_label_channel(s.x, s.y) for s in (digits.train, digits.val))
    history = train(cfg, model, f"ch08-cvae{latent_dim}", x, digits.train.x,
                    **_generative_fit(cfg, x_val, ELBOLoss(1.0)), target_val=digits.val.x)
    return model, history


def digit_classifier(cfg: Config, digits: Splits) -> Trained:
    """``DigitClassifier`` trained with cross-entropy on the training split, stopped on the validation loss."""
    model = _seeded(cfg, DigitClassifier)
    history = train(cfg, model, "ch08-classifier", digits.train.x, digits.train.y,
                    target_val=digits.val.y, **_generative_fit(cfg, digits.val.x, F.cross_entropy))
    return model, history
