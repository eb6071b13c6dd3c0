"""Is the same cache key the same weights? One recipe trained twice on 1 thread and twice on 2.

Chapter 04's U-Net (``recipes.unet``) on 2,000 digits, 2 epochs of fresh Gaussian noise, each run
in a process of its own with ``torch.set_num_threads(n)``. Prints each run's cache key and the
largest weight difference between runs.

    python benchmarks/same_key_weights.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

TRAIN = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from course_lib import recipes
from course_lib.cache import fingerprint
from course_lib.config import get_config
from course_lib.data import load_mnist_family
from course_lib.training import fit
cfg = get_config({"COURSE_FAST": "0", "COURSE_CACHE": "0", "COURSE_DEVICE": "cpu"})
x = load_mnist_family(cfg, "mnist").train.x[:2000]
model = recipes.unet(cfg, recipes.average_pixel(x).item())
settings = dict(num_epochs=2, batch_size=64, lr=3e-3, progress=False, transform=recipes.PHOTO_NOISE)
print(fingerprint(fit, model, x, None, sorted(settings.items())))
fit(model, x, **settings)
torch.save(model.state_dict(), sys.argv[2])
"""


def main() -> dict:
    import torch

    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, threads in (("1a", 1), ("1b", 1), ("2a", 2), ("2b", 2)):
            out = Path(tmp) / f"{name}.pt"
            done = subprocess.run([sys.executable, "-c", TRAIN, str(threads), str(out)], capture_output=True,
                                  text=True, check=True)
            runs[name] = (done.stdout.split()[-1], torch.load(out, weights_only=True))

    def gap(a, b):
        return max((runs[a][1][k] - runs[b][1][k]).abs().max().item() for k in runs[a][1])

    result = {"keys": {k: v[0] for k, v in runs.items()}, "1 thread twice": gap("1a", "1b"),
              "2 threads twice": gap("2a", "2b"), "1 thread vs 2": gap("1a", "2a")}
    print(f"cache keys: {result['keys']}")
    for what in ("1 thread twice", "2 threads twice", "1 thread vs 2"):
        print(f"largest weight difference, {what}: {result[what]:.4g}")
    return result


if __name__ == "__main__":
    main()
