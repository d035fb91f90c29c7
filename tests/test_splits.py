"""tympan.data.splits: official splits kept, folds respected, otherwise stratified and group-aware."""

from collections import Counter

import pytest

from tympan import ConfigError, DatasetError
from tympan.data.manifest import Item, Manifest
from tympan.data.splits import assign_splits, describe, group_folds


def _manifest(n=200, n_classes=4, n_groups=20, split=None, fold=None):
    items = [Item(f"/d/{i}.wav", (f"c{i % n_classes}",), group=f"g{i % n_groups}",
                  split=split(i) if split else None, fold=fold(i) if fold else None) for i in range(n)]
    return Manifest("/d", "csv", items, [f"c{k}" for k in range(n_classes)])


def _groups(manifest, split):
    return {item.group for item in manifest.items if item.split == split}


def test_no_official_split_is_stratified_group_aware_and_seeded():
    result = assign_splits(_manifest(), val_fraction=0.1, test_fraction=0.2, seed=3)
    sizes = result.split_sizes()
    assert set(sizes) == {"train", "val", "test"}
    assert sizes["test"] == pytest.approx(40, abs=12) and sizes["val"] == pytest.approx(16, abs=10)
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        assert not _groups(result, a) & _groups(result, b), f"a group is on both {a} and {b}"
    per_class_test = Counter(item.label for item in result.items if item.split == "test")
    assert set(per_class_test) == {"c0", "c1", "c2", "c3"}
    assert assign_splits(_manifest(), seed=3) == result
    assert assign_splits(_manifest(), seed=4) != result


def test_without_groups_items_are_split_stratified():
    items = [Item(f"/d/{i}.wav", (f"c{i % 5}",)) for i in range(500)]
    result = assign_splits(Manifest("/d", "folder", items, [f"c{k}" for k in range(5)]), seed=0)
    counts = Counter((item.label, item.split) for item in result.items)
    assert all(counts[(f"c{k}", "test")] == 20 for k in range(5))


def test_official_split_kept_and_val_held_out_by_speaker_even_when_test_shares_speakers():
    # As FSDD: every speaker is in train and in test; validation still holds out whole speakers, so the
    # epoch is chosen for new speakers, and describe() says the test measures known ones.
    result = assign_splits(_manifest(split=lambda i: "test" if i < 20 else "train"), seed=0)
    assert {i for i, item in enumerate(result.items) if item.split == "test"} == set(range(20))
    assert _groups(result, "test") == _groups(result, "train") | _groups(result, "val")
    assert _groups(result, "val") and not _groups(result, "val") & _groups(result, "train")
    said = describe(result)
    assert (said["test"], said["val"]) == ("known", "new")
    assert "shares its groups with training" in said["note"] and "new groups" in said["note"]


def test_val_falls_back_to_recordings_when_training_has_one_group():
    items = [Item(f"/d/{i}.wav", (f"c{i % 2}",), group="solo" if i < 40 else "other",
                  split="train" if i < 40 else "test") for i in range(60)]
    result = assign_splits(Manifest("/d", "csv", items, ["c0", "c1"]), seed=0)
    assert result.split_sizes()["val"] > 0
    assert describe(result)["val"] == "known"


def test_describe_warns_once_without_groups_and_names_unused_columns():
    items = [Item(f"/d/{i}.wav", (f"c{i % 2}",)) for i in range(40)]
    manifest = Manifest("/d/x.csv", "csv", items, ["c0", "c1"], other_columns=["speaker_id", "mic"])
    said = describe(assign_splits(manifest, seed=0))
    assert (said["test"], said["val"]) == ("unknown", "unknown")
    assert said["note"].count("much lower") == 1
    assert "speaker_id, mic" in said["note"] and "group_column=" in said["note"]
    assert describe(assign_splits(_manifest(), seed=0)) == {"group_name": "group", "test": "new", "val": "new",
                                                            "note": None}


@pytest.mark.parametrize("n_folds", [None, 4])
def test_group_folds_keep_every_group_in_one_fold(n_folds):
    folded = group_folds(_manifest(split=lambda i: "test" if i < 20 else "train"), n_folds, seed=0)
    assert all(item.split is None for item in folded.items)
    fold_of = {}
    for item in folded.items:
        assert fold_of.setdefault(item.group, item.fold) == item.fold, "a group in two folds"
    assert len(set(fold_of.values())) == (20 if n_folds is None else 4)
    result = assign_splits(folded, test_fold=2)
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        assert not _groups(result, a) & _groups(result, b)


def test_group_folds_refuse_what_cannot_work():
    with pytest.raises(DatasetError, match="have no group"):
        group_folds(Manifest("/d", "folder", [Item("/d/a.wav", ("c",))], ["c"]))
    with pytest.raises(ConfigError, match="--folds 50"):
        group_folds(_manifest(), 50)


def test_val_is_group_aware_when_official_test_is_speaker_independent():
    result = assign_splits(_manifest(split=lambda i: "test" if i % 20 < 4 else "train"), seed=0)
    assert not _groups(result, "train") & _groups(result, "test")
    assert _groups(result, "val") and not _groups(result, "val") & _groups(result, "train")


def test_official_val_is_kept():
    result = assign_splits(_manifest(split=lambda i: ["train", "train", "val", "test"][i % 4]), seed=0)
    assert result.split_sizes() == {"train": 100, "val": 50, "test": 50}


def test_folds_choose_whole_test_and_val_folds():
    result = assign_splits(_manifest(fold=lambda i: 1 + i % 5))
    assert {item.fold for item in result.items if item.split == "test"} == {5}
    assert {item.fold for item in result.items if item.split == "val"} == {4}
    result = assign_splits(_manifest(fold=lambda i: 1 + i % 5), test_fold=1)
    assert {item.fold for item in result.items if item.split == "test"} == {1}
    assert {item.fold for item in result.items if item.split == "val"} == {5}
    with pytest.raises(ConfigError, match="test_fold=7"):
        assign_splits(_manifest(fold=lambda i: 1 + i % 5), test_fold=7)


def test_bad_requests_are_clear_errors():
    with pytest.raises(ConfigError, match="fractions"):
        assign_splits(_manifest(), val_fraction=0.5, test_fraction=0.6)
    with pytest.raises(DatasetError, match="no usable items"):
        assign_splits(Manifest("/d", "csv", [], []))
    with pytest.raises(ConfigError, match="no folds"):
        assign_splits(_manifest(), test_fold=1)


def test_a_tiny_dataset_is_split_or_refused_in_words():
    """Fewer items per class than the folds a fraction asks for: a larger share held out, not a traceback."""
    items = [Item(f"/d/{i}.wav", (f"c{i % 3}",), group=f"g{i}") for i in range(18)]  # 6 per class
    split = assign_splits(Manifest("/d", "folder", items, ["c0", "c1", "c2"]), seed=0)
    assert {"train", "val", "test"} <= {item.split for item in split.items}
    with pytest.raises(DatasetError, match="one item per class"):
        assign_splits(Manifest("/d", "folder", items[:3], ["c0", "c1", "c2"]), seed=0)
    with pytest.raises(ConfigError, match="--folds 8: the largest class has 6 items"):
        group_folds(Manifest("/d", "folder", items, ["c0", "c1", "c2"]), 8)
