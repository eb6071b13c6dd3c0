"""Inference throughput of each chapter's main model, as the chapters build and call it.

Each model is built with its chapter's settings and run through
``course_lib.training.predict`` (eval mode, no gradients, batches of ``--batch-size``)
on random inputs of the chapter's shape: the speed does not depend on the weights.
One warm-up pass, then the median of ``--repeats`` timed passes over ``--n`` inputs.

    python benchmarks/bench_inference.py [--n 2048] [--repeats 5] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from course_lib import recipes
from course_lib.config import get_config
from course_lib.generative import VAE
from course_lib.models import Conv1dAutoencoder, ConvAutoencoder, MLPAutoencoder, UNet
from course_lib.training import predict

SEGMENTATION = "-".join(map(str, recipes.SEGMENTATION_CHANNELS))


def chapter_models() -> dict[str, tuple[torch.nn.Module, tuple[int, ...]]]:
    """name -> (model, shape of one input), with the chapters' own settings."""
    return {
        "01 MLP autoencoder 784-256-32": (MLPAutoencoder(hidden=(256,), latent_dim=32), (1, 28, 28)),
        "02 MLP autoencoder 784-512-16": (MLPAutoencoder(hidden=(512,), latent_dim=16), (1, 28, 28)),
        "03 conv autoencoder 16-32, code 16": (ConvAutoencoder(channels=(16, 32), latent_dim=16), (1, 28, 28)),
        "04 denoising U-Net 8-16-32": (UNet(1, 1, channels=(8, 16, 32), output="clamp"), (1, 28, 28)),
        "05 inpainting U-Net 8-16-32, mask channel": (UNet(2, 1, channels=(8, 16, 32), output="clamp"),
                                                      (2, 28, 28)),
        "05 photo eraser U-Net, 32x32 RGB patches": (UNet(4, 3, channels=(8, 16, 32), output="clamp"),
                                                     (4, 32, 32)),
        f"06 segmentation U-Net {SEGMENTATION}, 11 classes": (UNet(1, 11, channels=recipes.SEGMENTATION_CHANNELS),
                                                             (1, 32, 32)),
        "07 heartbeat MLP autoencoder 140-64-32-8": (MLPAutoencoder(input_shape=(1, 140), hidden=(64, 32),
                                                                    latent_dim=8, output="linear"), (1, 140)),
        "07 heartbeat conv1d autoencoder": (Conv1dAutoencoder(input_shape=(1, 140), channels=(16, 32),
                                                              latent_dim=8), (1, 140)),
        "08 variational autoencoder 784-256-16": (VAE(hidden=(256,), latent_dim=16), (1, 28, 28)),
    }


def throughput(model: torch.nn.Module, shape: tuple[int, ...], n: int, batch_size: int, repeats: int,
               device: str) -> float:
    """Median inputs per second of ``predict`` over ``n`` random inputs of ``shape``."""
    x = torch.rand(n, *shape)
    model.to(device).eval()
    predict(model, x[:batch_size], batch_size=batch_size, device=device)  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        predict(model, x, batch_size=batch_size, device=device)  # returns on the CPU: a synchronisation
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2048, help="inputs per timed pass")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=get_config().device)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rows = {name: throughput(model, shape, args.n, args.batch_size, args.repeats, args.device)
            for name, (model, shape) in chapter_models().items()}
    result = {"device": args.device, "torch_threads": torch.get_num_threads(), "n": args.n,
              "batch_size": args.batch_size, "repeats": args.repeats, "inputs_per_s": rows}
    print(f"inference on {args.device} ({torch.get_num_threads()} threads), batch {args.batch_size}, "
          f"median of {args.repeats} passes over {args.n} inputs")
    for name, rate in rows.items():
        print(f"  {name:<46} {rate:>10,.0f} inputs/s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
