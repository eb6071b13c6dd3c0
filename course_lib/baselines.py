"""Classical methods to compare against (from scikit-learn, not re-written)."""

from __future__ import annotations

import torch
from sklearn.decomposition import PCA


class PCAReconstructor:
    """PCA as a linear autoencoder: ``encode`` projects, ``decode`` maps back to images."""

    def __init__(self, latent_dim: int, seed: int = 0):
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self.pca = PCA(n_components=latent_dim, random_state=seed)
        self.input_shape: tuple[int, ...] | None = None

    def fit(self, x: torch.Tensor) -> "PCAReconstructor":
        """Fit on images (N, ...) with N >= latent_dim."""
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            raise ValueError(f"x must be a tensor (N, ...), got {getattr(x, 'shape', type(x))}")
        n, d = len(x), x[0].numel()
        if min(n, d) < self.latent_dim:
            raise ValueError(f"PCA with {self.latent_dim} components needs at least that many "
                             f"samples and features, got {n} samples of {d} features")
        self.input_shape = tuple(x.shape[1:])
        self.pca.fit(x.reshape(n, -1).double().numpy())
        return self

    def _check(self, x: torch.Tensor) -> None:
        if self.input_shape is None:
            raise ValueError("call fit() before encode/decode")
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"expected inputs of shape (N, {self.input_shape}), got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, ...) -> codes (N, latent_dim)."""
        self._check(x)
        z = self.pca.transform(x.reshape(len(x), -1).double().numpy())
        return torch.from_numpy(z).float()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (N, latent_dim) -> images (N, ...)."""
        if self.input_shape is None:
            raise ValueError("call fit() before encode/decode")
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        x_hat = self.pca.inverse_transform(z.double().numpy())
        return torch.from_numpy(x_hat).float().reshape(len(z), *self.input_shape)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
