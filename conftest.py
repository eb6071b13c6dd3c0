"""pytest runs the notebooks in fast mode unless told otherwise (COURSE_FAST=0)."""

import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
