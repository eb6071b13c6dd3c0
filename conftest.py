"""pytest runs the notebooks in fast mode unless told otherwise (COURSE_FAST=0)."""

import os

os.environ.setdefault("COURSE_FAST", "1")
# Idle OpenMP threads sleep instead of spinning: faster when kernels share the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
