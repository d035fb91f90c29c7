"""Datasets: layouts read into manifests, leak-free splits, decode-once cache, inspection, demo data."""

from .cache import AudioCache
from .inspect import check, inspect
from .layouts import LAYOUTS, build, detect
from .manifest import BadFile, Item, Manifest
from .splits import assign_splits

__all__ = ["AudioCache", "BadFile", "Item", "LAYOUTS", "Manifest", "assign_splits", "build", "check",
           "detect", "inspect"]
