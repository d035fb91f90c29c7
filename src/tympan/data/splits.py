"""Train / validation / test splits that do not leak.

The dataset's own protocol wins: an official split is kept as it is, and official folds choose the test
fold (and the validation fold next to it). Otherwise the split is stratified by class and group-aware: no
speaker, source recording or artist appears on two sides. The validation part imitates the test part's
relation to training: carved group-aware when the official test set shares no group with training
(speaker-independent protocols), by stratified sampling otherwise (FSDD's official split shares speakers).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import ConfigError, DatasetError
from .manifest import Item, Manifest


def _holdout(items: list[Item], fraction: float, seed: int, by_group: bool) -> np.ndarray:
    """Boolean mask of a stratified (and, if ``by_group``, group-disjoint) part of about ``fraction``."""
    n = len(items)
    if n < 2 or fraction <= 0:
        return np.zeros(n, dtype=bool)
    # Multi-label items are stratified on their first label: good enough to keep every class represented.
    y = np.array([item.label for item in items])
    groups = np.array([item.group if by_group and item.group is not None else f"\0item{i}"
                       for i, item in enumerate(items)])
    n_splits = max(2, int(round(1.0 / fraction)))
    n_splits = min(n_splits, len(set(groups)))
    if n_splits < 2:
        raise DatasetError(f"cannot hold out {fraction:.0%} by group: all items share the group {groups[0]!r}")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    # Classes rarer than n_splits make scikit-learn warn; the split is still as stratified as it can be.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, held = next(splitter.split(np.zeros(n), y, groups))
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return mask


def _shares_groups(a: list[Item], b: list[Item]) -> bool:
    groups_a = {item.group for item in a if item.group is not None}
    return any(item.group in groups_a for item in b if item.group is not None)


def assign_splits(manifest: Manifest, val_fraction: float = 0.1, test_fraction: float = 0.2,
                  test_fold: int | None = None, seed: int = 0) -> Manifest:
    """Give every item a split: ``"train"``, ``"val"`` or ``"test"``.

    Parameters
    ----------
    manifest : Manifest
        Items with or without official splits or folds.
    val_fraction : float
        Share of the training part held out for validation when the dataset has no validation split.
    test_fraction : float
        Share held out for test when the dataset has neither official split nor folds.
    test_fold : int or None
        With official folds: the test fold (default: the last fold). Validation is the fold before it
        (cyclically), training the rest, so whole folds stay together as the protocol intends.
    seed : int
        Seed of every random choice.

    Returns
    -------
    Manifest
        The same items, each with a split.

    Examples
    --------
    >>> from tympan.data.manifest import Item, Manifest
    >>> items = [Item(f"/x/{i}.wav", (str(i % 2),), group=f"s{i % 5}") for i in range(40)]
    >>> split = assign_splits(Manifest("/x", "csv", items, ["0", "1"]), seed=0)
    >>> sorted(split.split_sizes())
    ['test', 'train', 'val']
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ConfigError(f"split fractions must be in [0, 1) and sum below 1; got val_fraction={val_fraction}, "
                          f"test_fraction={test_fraction}")
    items = list(manifest.items)
    if not items:
        raise DatasetError(f"{manifest.root}: no usable items to split")
    folds = sorted({item.fold for item in items if item.fold is not None})
    has_split = any(item.split is not None for item in items)

    if folds and not has_split:
        if len(folds) < 3:
            raise DatasetError(f"{manifest.root}: {len(folds)} fold(s) cannot give train, validation and test folds")
        test_fold = folds[-1] if test_fold is None else test_fold
        if test_fold not in folds:
            raise ConfigError(f"test_fold={test_fold}: the dataset's folds are {folds}")
        val_fold = folds[folds.index(test_fold) - 1]
        role = {test_fold: "test", val_fold: "val"}
        return replace(manifest, items=[replace(item, split=role.get(item.fold, "train")) for item in items])
    if test_fold is not None:
        raise ConfigError(f"test_fold={test_fold} given, but {manifest.root} has no folds")

    if has_split:
        # Items without a split in a dataset that has one are training items (e.g. Speech Commands).
        items = [item if item.split else replace(item, split="train") for item in items]
        test = [item for item in items if item.split == "test"]
        by_group = bool(test) and not _shares_groups([i for i in items if i.split == "train"], test)
    else:
        by_group = any(item.group is not None for item in items)
        held = _holdout(items, test_fraction, seed, by_group)
        items = [replace(item, split="test" if h else "train") for item, h in zip(items, held)]

    if not any(item.split == "val" for item in items):
        train_idx = [i for i, item in enumerate(items) if item.split == "train"]
        train = [items[i] for i in train_idx]
        held = _holdout(train, val_fraction, seed + 1, by_group)
        for i, h in zip(train_idx, held):
            if h:
                items[i] = replace(items[i], split="val")
    return replace(manifest, items=items)
