"""Train / validation / test splits that do not leak.

The dataset's own protocol wins: an official split is kept as it is, and official folds choose the test
fold (and the validation fold next to it). Otherwise the split is stratified by class and group-aware: no
speaker, source recording or instrument appears on two sides. Validation is held out by group whenever
groups are known, even where the official test set shares its groups with training (FSDD's speakers): the
epoch and settings are then chosen for recordings from new sources, the thing that matters, and
``train.refit`` retrains on training and validation together afterwards.

``group_folds`` makes folds of whole groups (leave one group out, or k folds) for cross-validation, and
``describe`` says in words what the test and validation scores measure.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import replace

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..defaults import TEST_FRACTION, VAL_FRACTION
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
    # scikit-learn needs one class with at least n_splits items; a tiny dataset holds out a larger share
    # (a third, a half) rather than failing
    n_splits = min(n_splits, int(np.unique(y, return_counts=True)[1].max()))
    if n_splits < 2:
        raise DatasetError(f"cannot hold out {fraction:.0%} of {n} items with one item per class: give each class "
                           "at least two recordings")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    # Classes rarer than n_splits make scikit-learn warn; the split is still as stratified as it can be.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, held = next(splitter.split(np.zeros(n), y, groups))
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return mask


def assign_splits(manifest: Manifest, val_fraction: float = VAL_FRACTION, test_fraction: float = TEST_FRACTION,
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
        return replace(manifest, items=_split_by_folds(items, folds, test_fold, manifest.root))
    if test_fold is not None:
        raise ConfigError(f"test_fold={test_fold} given, but {manifest.root} has no folds")

    by_group = manifest.has_groups
    if has_split:
        # Items without a split in a dataset that has one are training items (e.g. Speech Commands).
        items = [item if item.split else replace(item, split="train") for item in items]
    else:
        held = _holdout(items, test_fraction, seed, by_group)
        items = [replace(item, split="test" if h else "train") for item, h in zip(items, held)]

    if not any(item.split == "val" for item in items):
        items = _with_validation(items, val_fraction, seed + 1, by_group)
    return replace(manifest, items=items)


def _split_by_folds(items: list[Item], folds: list, test_fold, root) -> list[Item]:
    """The items of ``test_fold`` (default: the last fold) as test, of the fold before it as validation,
    the rest as training: whole folds stay together, as the dataset's protocol intends."""
    if len(folds) < 3:
        raise DatasetError(f"{root}: {len(folds)} fold(s) cannot give train, validation and test folds")
    test_fold = folds[-1] if test_fold is None else test_fold
    if test_fold not in folds:
        raise ConfigError(f"test_fold={test_fold}: the dataset's folds are {folds}")
    val_fold = folds[folds.index(test_fold) - 1]
    role = {test_fold: "test", val_fold: "val"}
    return [replace(item, split=role.get(item.fold, "train")) for item in items]


def _with_validation(items: list[Item], fraction: float, seed: int, by_group: bool) -> list[Item]:
    """The items with about ``fraction`` of the training ones moved to validation, stratified by class and,
    where training has two groups or more, group-disjoint from the rest of training."""
    train_idx = [i for i, item in enumerate(items) if item.split == "train"]
    train = [items[i] for i in train_idx]
    # one group in training cannot give a group of its own to validation: recordings, then
    enough = len({item.group for item in train if item.group is not None}) >= 2
    held = _holdout(train, fraction, seed, by_group and enough)
    items = list(items)
    for i, h in zip(train_idx, held):
        if h:
            items[i] = replace(items[i], split="val")
    return items


def group_folds(manifest: Manifest, n_folds: int | None = None, seed: int = 0) -> Manifest:
    """The items in folds of whole groups, for cross-validation on sources never heard in training:
    ``n_folds=None`` leaves one group out per fold, an integer makes that many folds, stratified by class
    (``StratifiedGroupKFold``). Official splits and folds are set aside: every item gets ``split=None``.

    Examples
    --------
    >>> from tympan.data.manifest import Item, Manifest
    >>> items = [Item(f"/x/{i}.wav", (str(i % 2),), group=f"s{i % 4}") for i in range(16)]
    >>> folded = group_folds(Manifest("/x", "csv", items, ["0", "1"]))
    >>> sorted({(item.group, item.fold) for item in folded.items})
    [('s0', 1), ('s1', 2), ('s2', 3), ('s3', 4)]
    """
    items = manifest.items
    missing = sum(item.group is None for item in items)
    if missing:
        raise DatasetError(f"{manifest.root}: {missing} of {len(items)} items have no {manifest.group_name}: folds by "
                           "group need a group for every item (a group column, or --option group_pattern=...)")
    groups = sorted({item.group for item in items})
    if n_folds is None:
        fold_of = {group: number for number, group in enumerate(groups, 1)}
        folded = [replace(item, split=None, fold=fold_of[item.group]) for item in items]
    else:
        if not 3 <= n_folds <= len(groups):
            raise ConfigError(f"--folds {n_folds}: choose between 3 and the number of {manifest.group_name}s "
                              f"({len(groups)}), to have training, validation and test folds")
        largest = max(Counter(item.label for item in items).values())
        if n_folds > largest:
            raise ConfigError(f"--folds {n_folds}: the largest class has {largest} items, too few for {n_folds} "
                              f"stratified folds; choose at most {largest}")
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        folded = list(items)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for number, (_, held) in enumerate(splitter.split(np.zeros(len(items)), [i.label for i in items],
                                                              [i.group for i in items]), 1):
                for i in held:
                    folded[i] = replace(items[i], split=None, fold=number)
    if len(groups) < 3:
        raise DatasetError(f"{manifest.root}: {len(groups)} {manifest.group_name}(s); folds by group need at least "
                           "3, for training, validation and test")
    return replace(manifest, items=folded)


def describe(split: Manifest) -> dict:
    """What the test and validation scores of a split measure, in words a newcomer understands.

    Returns ``{"group_name", "test", "val", "note"}``: ``test`` and ``val`` are ``"new"`` (no group shared
    with training: a score on sources never heard), ``"known"`` (groups shared with training: a score on
    known sources), ``"unknown"`` (no groups: it cannot be told) or ``None`` (an empty split); ``note``
    is the warning to show once, or ``None`` when both measure new sources.
    """
    name = split.group_name
    train = {item.group for item in split.items if item.split == "train" and item.group is not None}

    def relation(part: str) -> str | None:
        items = [item for item in split.items if item.split == part]
        if not items:
            return None
        if all(item.group is None for item in items) or not train:
            return "unknown"
        return "known" if any(item.group in train for item in items) else "new"

    test, val = relation("test"), relation("val")
    note = None
    if "unknown" in (test, val):
        note = ("No groups are known in this dataset (speakers, instruments, source recordings, rooms), so "
                "test and validation recordings may come from the same sources as training ones. The scores "
                "then show how well the model recognises sources it has heard; on recordings from new sources "
                "accuracy may be much lower.")
        if split.other_columns:
            note += (f" Columns not used: {', '.join(split.other_columns)}. If one names the source, pass "
                     "--option group_column=NAME.")
        elif split.layout == "folder":
            note += " If file names name the source, pass --option group_pattern='{label}_{group}_{index}'."
    elif "known" in (test, val):
        parts = [p for p, r in (("test", test), ("validation", val)) if r == "known"]
        note = (f"The {' and '.join(parts)} set{'s share' if len(parts) > 1 else ' shares'} its {name}s with "
                f"training: {'they measure' if len(parts) > 1 else 'it measures'} how well known {name}s are "
                f"recognised, not new ones.")
        if val == "new":
            note += f" Validation holds out whole {name}s: its score is the estimate for new {name}s."
    return {"group_name": name, "test": test, "val": val, "note": note}
