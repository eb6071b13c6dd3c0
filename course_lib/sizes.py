"""Every size the course uses, for a full run and a fast run side by side: the one place to change them.

A full run is what the chapters' claims are about. A fast run (``COURSE_FAST=1``, what
CI executes) trains tiny models on small subsets: it shows that every cell works, not
that the lessons hold. Each entry reads ``name: (full, fast)``.

    size = sizes.of(cfg, "denoising")
    x_test = digits.test.x[:size.test_images]

The chapters are named by topic, so renumbering a chapter changes nothing here.
"""

from __future__ import annotations

from types import SimpleNamespace

DATA = {  # every chapter: the dataset splits, the batch and chapter 01's epochs (``cfg.*``)
    "n_train": (10_000, 1_000),
    "n_val": (1_000, 200),
    "n_test": (10_000, 500),
    "batch_size": (64, 64),
    "num_epochs": (20, 1),
}

CHAPTERS = {
    "autoencoder": {               # 01 an autoencoder from scratch, and its solutions
        "hand_epochs": (3, 1),         # the loop written by hand
        "manifold_grid": (15, 8),      # decoded grid of the 2-D code space, per side
        "exercise_epochs": (5, 1),     # every model of the solutions
    },
    "bottleneck": {                # 02 bottleneck size
        "max_epochs": (100, 1),        # every model trains until its validation loss stops improving ...
        "wide_linear_epochs": (20, 1),  # ... but the wide linear one, which only copies better with time
        "probe_images": (1_000, 200),  # test digits and unseen inputs for the copying test
    },
    "convolutional": {             # 03 convolutional autoencoders
        "max_epochs": (100, 1),        # the conv and MLP autoencoders train until validation stops improving ...
        "skip_epochs": (8, 1),         # ... but the one with skips, which only copies better with time
        "code_size": (16, 16),         # the conv and MLP autoencoders are compared at this code size
        "retrieval_neighbours": (10, 10),
    },
    "denoising": {                 # 04 denoising
        "test_images": (500, 30),
        "tune_images": (50, 10),       # validation images that choose the filters' settings
        "epochs": (8, 1),              # every U-Net of the chapter: one cycle of this many passes
        "photo_patches": (4_000, 200),
        "photo_val_patches": (200, 50),
    },
    "inpainting": {                # 05 inpainting
        "epochs": (12, 1),             # both digit inpainters: one cycle of this many passes
        "test_images": (500, 50),
        "exercise_test_images": (300, 40),
        "photo_patches": (4_000, 100),  # the eraser's distinct training patches ...
        "eraser_study_patches": ((1_000, 2_000), (50,)),  # ... and the smaller sets of the study
        "eraser_patches_seen": (32_000, 200),  # every eraser's budget: patches seen, repeats included
        "eraser_holes": ((4, 8, 12, 16, 20, 24), (8, 16)),  # sides of the centre holes it is scored on
        "photo_val_patches": (500, 30),
        "photo_test_patches": (300, 40),
    },
    "segmentation": {              # 06 segmentation
        "train_scenes": (32_000, 200),  # generated: fresh scenes cost nothing, and none is seen twice a cycle
        "val_scenes": (1_000, 50),
        "test_scenes": (1_000, 100),
        "epochs": (3, 1),              # both networks: one cycle of this many passes over the training scenes
        "blob_fit_scenes": (2_000, 100),
        "blob_test_scenes": (1_000, 60),
        "exercise_scenes": (300, 50),
        "three_digit_scenes": (500, 50),
    },
    "anomaly": {                   # 07 anomaly detection
        "digit_epochs": (60, 1),       # ceilings: both models train until validation stops improving
        "beat_epochs": (300, 10),
    },
    "variational": {               # 08 variational autoencoders
        "hand_epochs": (2, 1),         # the VAE loop written by hand
        "max_epochs": (60, 2),         # ceiling: every model trains until validation stops improving
        "samples": (2_000, 200),       # generated digits per model and way of drawing codes
        "pairs": (200, 20),            # pairs of test digits to interpolate between
        "steps": (9, 5),               # codes per interpolation path, both ends included
        "grid": (15, 6),               # decoded grid over the 2-D code space, per side
        "bootstrap": (1_000, 50),      # resamples of every interval
    },
}


EXERCISES = {  # the exercises at the end of each chapter (and their solutions): each a few minutes in full
    "autoencoder": {
        "few_images": (300, 300),      # 01.3: the training digits of the model that memorises them ...
        "few_images_epochs": (150, 3),  # ... and its epochs, fixed, to show the whole curve
    },
    "bottleneck": {
        "probe_labels": (100, 100),    # 02.3: labelled training digits of the scarce-label probe
    },
    "denoising": {
        "n2n_targets": (1, 1),         # 04.2: noisy copies of each training digit (Noise2Noise targets)
    },
    "inpainting": {
        "crisp_images": (300, 40),     # 05.3: test digits whose filled centre holes are compared
    },
    "anomaly": {
        "threshold_resamples": (1_000, 200),  # 07.1: bootstrap resamples of the validation beats
    },
    "variational": {
        "temperatures": ((0.5, 1.0, 1.5), (0.5, 1.0, 1.5)),  # 08.2: scales of the prior's spread
    },
}


def of(cfg, chapter: str) -> SimpleNamespace:
    """The sizes of ``chapter`` (a key of ``CHAPTERS``), its exercises' too, for this run's mode, as attributes."""
    if chapter not in CHAPTERS:
        raise ValueError(f"no sizes for chapter {chapter!r}; the chapters are {sorted(CHAPTERS)}")
    table = CHAPTERS[chapter] | EXERCISES.get(chapter, {})
    return SimpleNamespace(**{name: cfg.pick(full=full, fast=fast) for name, (full, fast) in table.items()})


def data_sizes(fast: bool) -> dict[str, int]:
    """The ``DATA`` entries for one mode (what ``config.get_config`` puts in ``cfg``)."""
    return {name: sizes[1] if fast else sizes[0] for name, sizes in DATA.items()}
