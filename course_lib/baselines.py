"""Classical methods to compare against (from scikit-learn, not re-written)."""

from __future__ import annotations

import numpy as np
import torch


class PCAReconstructor:
    """PCA as a linear autoencoder: ``encode`` projects, ``decode`` maps back to images."""

    def __init__(self, latent_dim: int, seed: int = 0):
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        from sklearn.decomposition import PCA  # here, not at the top: importing scikit-learn
        # costs a kernel 5 s or more on a slow CPU, and chapters 05 and 06 never need it

        self.latent_dim = latent_dim
        # Exact PCA from the eigenvectors of the features' covariance (784 x 784 for MNIST):
        # about 0.5 s on 5,000 digits here. The default solver picks a randomized, slightly
        # approximate SVD for small codes and a full SVD for large ones, 1.5-3.6 s each.
        self.pca = PCA(n_components=latent_dim, svd_solver="covariance_eigh", random_state=seed)
        self.input_shape: tuple[int, ...] | None = None

    def fit(self, x: torch.Tensor) -> PCAReconstructor:
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


# --------------------------------------------------------------------------- anomaly detectors

class AnomalyDetector:
    """A scikit-learn novelty detector fitted on normal items; ``score`` is high for anomalies.

    Wraps any estimator with ``fit`` and ``score_samples`` (high = normal), e.g.
    ``IsolationForest``, ``OneClassSVM``, ``LocalOutlierFactor(novelty=True)``,
    and flattens items (N, ...) to rows.
    """

    def __init__(self, estimator):
        if not (hasattr(estimator, "fit") and hasattr(estimator, "score_samples")):
            raise ValueError(f"estimator needs fit and score_samples, got {type(estimator).__name__}")
        self.estimator = estimator
        self.input_shape: tuple[int, ...] | None = None

    def _rows(self, x: torch.Tensor):
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or len(x) == 0:
            raise ValueError(f"x must be a non-empty tensor (N, ...), got {getattr(x, 'shape', type(x))}")
        if self.input_shape is not None and tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"expected items of shape {self.input_shape}, got {tuple(x.shape[1:])}")
        return x.reshape(len(x), -1).double().numpy()

    def fit(self, x_normal: torch.Tensor) -> AnomalyDetector:
        """Fit on normal items only (N, ...)."""
        rows = self._rows(x_normal)
        self.input_shape = tuple(x_normal.shape[1:])
        self.estimator.fit(rows)
        return self

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly scores (N,): the estimator's ``-score_samples``."""
        if self.input_shape is None:
            raise ValueError("call fit() before score()")
        return torch.from_numpy(-self.estimator.score_samples(self._rows(x))).float()


class PCAErrorDetector:
    """PCA fitted on normal items; the score is the mean squared reconstruction error."""

    def __init__(self, latent_dim: int, seed: int = 0):
        self.pca = PCAReconstructor(latent_dim, seed=seed)

    def fit(self, x_normal: torch.Tensor) -> PCAErrorDetector:
        """Fit on normal items only (N, ...)."""
        self.pca.fit(x_normal)
        return self

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly scores (N,): mean squared error of the PCA reconstruction."""
        return (x.float() - self.pca(x)).pow(2).flatten(1).mean(1)


def anomaly_baselines(latent_dim: int, seed: int = 0, nu: float = 0.05,
                      n_neighbors: int = 20) -> dict[str, object]:
    """The classical detectors the course compares with, unfitted, by name."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM

    if not 0.0 < nu <= 1.0 or n_neighbors < 1:
        raise ValueError(f"need 0 < nu <= 1 and n_neighbors >= 1, got nu={nu}, n_neighbors={n_neighbors}")
    return {f"PCA error (k={latent_dim})": PCAErrorDetector(latent_dim, seed=seed),
            "Isolation Forest": AnomalyDetector(IsolationForest(random_state=seed)),
            "One-Class SVM": AnomalyDetector(OneClassSVM(nu=nu, gamma="scale")),
            "LOF": AnomalyDetector(LocalOutlierFactor(n_neighbors=n_neighbors, novelty=True))}


# ------------------------------------------------------------------------- classical inpainting (chapter 05)

def _check_inpainting(x_masked: torch.Tensor, mask: torch.Tensor) -> None:
    if not isinstance(x_masked, torch.Tensor) or x_masked.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got {tuple(getattr(x_masked, 'shape', ()))}")
    if not isinstance(mask, torch.Tensor) or mask.shape != (len(x_masked), 1, *x_masked.shape[2:]):
        raise ValueError(f"expected a mask of shape {(len(x_masked), 1, *x_masked.shape[2:])}, got "
                         f"{tuple(getattr(mask, 'shape', ()))}")


def biharmonic_inpaint(x_masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill the pixels where ``mask`` is 1 by scikit-image's biharmonic inpainting, image by image."""
    from skimage.restoration import inpaint_biharmonic

    _check_inpainting(x_masked, mask)
    a = x_masked.detach().cpu().double().numpy().transpose(0, 2, 3, 1)  # (B, H, W, C)
    holes = mask.detach().cpu().numpy()[:, 0] > 0.5
    out = np.stack([inpaint_biharmonic(img, hole, channel_axis=-1) if hole.any() else img
                    for img, hole in zip(a, holes, strict=True)])
    return torch.from_numpy(out.transpose(0, 3, 1, 2).copy()).float().clamp(0, 1)


def mean_fill(x_masked: torch.Tensor, mask: torch.Tensor, mean_image: torch.Tensor) -> torch.Tensor:
    """Fill the pixels where ``mask`` is 1 with ``mean_image`` (C, H, W), e.g. the training mean."""
    _check_inpainting(x_masked, mask)
    if not isinstance(mean_image, torch.Tensor) or mean_image.shape != x_masked.shape[1:]:
        raise ValueError(f"mean_image must have shape {tuple(x_masked.shape[1:])}, got "
                         f"{tuple(getattr(mean_image, 'shape', ()))}")
    return x_masked * (1 - mask) + mean_image * mask


# ----------------------------------------------------------------------- classical segmentation (chapter 06)

def _ink_crop(img: np.ndarray, side: int) -> np.ndarray:
    """The bounding box of the non-zero pixels of ``img``, resized to ``side`` x ``side``."""
    from skimage.transform import resize

    rows, cols = np.nonzero(img)
    crop = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return resize(crop, (side, side), anti_aliasing=True).ravel()


class BlobSegmenter:
    """Otsu threshold, connected blobs, and each blob's digit by a nearest class centroid.

    The classical pipeline: foreground by Otsu's threshold (scikit-image), blobs by
    connected components, and a scikit-learn ``NearestCentroid`` names each blob from its
    ink crop. It is fitted the way it is applied: on the blobs of training *scenes*, each
    labelled with the digit that owns most of its pixels. Touching digits merge into one blob.
    """

    def __init__(self, side: int = 16):
        from sklearn.neighbors import NearestCentroid

        if not isinstance(side, int) or side < 4:
            raise ValueError(f"side must be an int >= 4, got {side!r}")
        self.side = side
        self.classifier = NearestCentroid()
        self.fitted = False

    def blobs(self, x: torch.Tensor) -> np.ndarray:
        """The connected blobs of each image's Otsu foreground, (B, H, W): 0 off the ink, 1, 2, ... on it."""
        from skimage.measure import label

        return np.stack([label(mask, connectivity=2) for mask in self.foreground(x).numpy()])

    def fit(self, scenes_x: torch.Tensor, scenes_y: torch.Tensor) -> BlobSegmenter:
        """Fit the centroids on the blobs of training scenes (B, 1, H, W) with pixel labels (B, H, W)."""
        if not isinstance(scenes_x, torch.Tensor) or scenes_x.dim() != 4 or not isinstance(scenes_y, torch.Tensor) \
                or scenes_y.shape != (len(scenes_x), *scenes_x.shape[2:]):
            raise ValueError(f"expected scenes (B, 1, H, W) and pixel labels (B, H, W), got "
                             f"{tuple(getattr(scenes_x, 'shape', ()))} and {tuple(getattr(scenes_y, 'shape', ()))}")
        features, labels = [], []
        for img, blobs, y in zip(scenes_x[:, 0].numpy(), self.blobs(scenes_x), scenes_y.numpy(), strict=True):
            for b in range(1, blobs.max() + 1):
                where = blobs == b
                owners = np.bincount(y[where], minlength=2)[1:]  # pixels per digit label (background left out)
                if owners.sum() == 0:
                    continue
                features.append(_ink_crop(img * where, self.side))
                labels.append(int(owners.argmax()))  # label d + 1 -> digit d
        if len(set(labels)) < 2:
            raise ValueError("the training scenes hold fewer than two digit classes: nothing to fit")
        self.classifier.fit(np.stack(features), np.array(labels))
        self.fitted = True
        return self

    def foreground(self, x: torch.Tensor) -> torch.Tensor:
        """Otsu's threshold of each image (B, 1, H, W): a boolean mask (B, H, W)."""
        from skimage.filters import threshold_otsu

        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected images (B, 1, H, W), got {tuple(getattr(x, 'shape', ()))}")
        a = x[:, 0].numpy()
        return torch.from_numpy(np.stack([img > threshold_otsu(img) for img in a]))

    def merged_share(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Share of the digits in scenes ``x`` (true labels ``y``) whose blob also holds another digit's pixels.

        Counted by label, so two touching digits of the same class count as one.
        """
        merged = total = 0
        for blobs, labels in zip(self.blobs(x), y.numpy(), strict=True):
            owner_sets = [set(np.unique(labels[blobs == b]).tolist()) - {0} for b in range(1, blobs.max() + 1)]
            digits = set(np.unique(labels).tolist()) - {0}
            total += len(digits)
            merged += len({d for d in digits if any(d in s and len(s) > 1 for s in owner_sets)})
        return merged / max(total, 1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Labels (B, H, W): 0 for background, digit + 1 on each blob."""
        if not self.fitted:
            raise ValueError("call fit() before predict()")
        blobs_all = self.blobs(x)
        out = np.zeros(blobs_all.shape, dtype=np.int64)
        for i, (img, blobs) in enumerate(zip(x[:, 0].numpy(), blobs_all, strict=True)):
            for b in range(1, blobs.max() + 1):
                where = blobs == b
                digit = self.classifier.predict(_ink_crop(img * where, self.side)[None])[0]
                out[i][where] = digit + 1
        return torch.from_numpy(out)


