"""Training-epoch speed: the course's in-memory tensor batching vs the usual DataLoader pipeline.

Same model (chapter 01's MLP autoencoder 784-256-32), same batch size, same
optimizer; one epoch each, repeated, median reported. The usual pipeline is
``DataLoader(torchvision.datasets.MNIST(transform=ToTensor()), shuffle=True)``,
which decodes every image through PIL and ToTensor on every epoch.

    python benchmarks/bench_pipeline.py [--repeats 3] [--n 6000] [--json out.json]

It reads MNIST from the course's data folder (``aecourse fetch-data``); without it,
it writes random digits-shaped IDX files to a temporary folder so both pipelines
still read the same files through torchvision.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from course_lib.config import get_config
from course_lib.models import MLPAutoencoder
from course_lib.speed import adam
from course_lib.training import batch_indices


def _write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def mnist_root(n: int) -> tuple[Path, str]:
    """A folder torchvision's MNIST can read: the course's data, else synthetic files."""
    cfg = get_config()
    if (cfg.data_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        return cfg.data_dir, "real MNIST from the course's data folder"
    root = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    for prefix, count in (("train", n), ("t10k", 10)):
        _write_idx(root / "MNIST" / "raw" / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        _write_idx(root / "MNIST" / "raw" / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count))
    return root, "synthetic IDX files (no MNIST on disk)"


def step(model, optimizer, x):
    x_hat = model(x)
    loss = F.mse_loss(x_hat, x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def epoch_dataloader(model, optimizer, loader) -> float:
    start = time.perf_counter()
    for x, _ in loader:
        step(model, optimizer, x)
    return time.perf_counter() - start


def epoch_tensors(model, optimizer, x_all, batch_size, g) -> float:
    start = time.perf_counter()
    for idx in batch_indices(len(x_all), batch_size, generator=g):
        step(model, optimizer, x_all[idx])
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=6000, help="training images per epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    root, source = mnist_root(args.n)
    ds = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
    ds = Subset(ds, range(min(args.n, len(ds))))
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=0)
    x_all = ds.dataset.data[: len(ds)].unsqueeze(1).float().div(255)  # loaded once: (N, 1, 28, 28)
    g = torch.Generator().manual_seed(0)

    times = {"DataLoader(MNIST, ToTensor())": [], "in-memory tensors (course_lib)": []}
    for _ in range(args.repeats):
        for name, run in (("DataLoader(MNIST, ToTensor())", lambda m, o: epoch_dataloader(m, o, loader)),
                          ("in-memory tensors (course_lib)",
                           lambda m, o: epoch_tensors(m, o, x_all, args.batch_size, g))):
            torch.manual_seed(0)
            model = MLPAutoencoder(hidden=(256,), latent_dim=32)
            optimizer = adam(model.parameters(), lr=1e-3)  # the course's optimizer, for both
            times[name].append(run(model, optimizer))
    result = {"source": source, "images": len(ds), "batch_size": args.batch_size,
              "torch_threads": torch.get_num_threads(), "repeats": args.repeats,
              "median_epoch_s": {k: statistics.median(v) for k, v in times.items()}}
    med = result["median_epoch_s"]
    result["images_per_s"] = {k: len(ds) / v for k, v in med.items()}
    result["speedup"] = med["DataLoader(MNIST, ToTensor())"] / med["in-memory tensors (course_lib)"]
    print(f"{len(ds)} images ({source}), batch {args.batch_size}, median of {args.repeats} epochs")
    for k, v in med.items():
        print(f"  {k:<32} {v:6.2f} s/epoch  {len(ds) / v:8.0f} images/s")
    print(f"  in-memory batching is {result['speedup']:.2f}x faster per epoch")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
