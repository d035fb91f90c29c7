"""tympan.data.layouts: each real dataset layout read from generated copies, detection, bad metadata."""

from pathlib import Path

import pytest

from tympan import ConfigError, DatasetError
from tympan.data.layouts import LAYOUTS, build, detect
from tympan.data.manifest import BadFile, Manifest

from layout_fixtures import (ESC50_ROWS, SC_FILES, US8K_ROWS, add_fsdd_bad_name, make_csv, make_esc50,
                             make_folder, make_fsdd, make_gtzan, make_speech_commands, make_us8k, write_audio)

REAL_FSDD = Path(__file__).parents[1] / "../shared/data/fsdd"


def names(manifest: Manifest) -> list[str]:
    return [Path(item.path).name for item in manifest.items]


def by_name(manifest: Manifest) -> dict:
    return {Path(item.path).name: item for item in manifest.items}


def bad_reasons(manifest: Manifest) -> dict[str, str]:
    return {Path(bad.path).name: bad.reason for bad in manifest.bad}


def test_registry_has_every_layout():
    assert list(LAYOUTS) == ["folder", "csv", "events", "fsdd", "esc50", "urbansound8k", "gtzan", "speech_commands"]


# ------------------------------------------------------------------------------------------- folder


def test_folder(tmp_path):
    m = build(make_folder(tmp_path), layout="folder")
    assert (m.layout, m.root) == ("folder", str(tmp_path.resolve()))
    assert m.classes == ["bird", "cat", "dog"]  # sorted; the empty folder and hidden .cache are no class
    assert names(m) == ["bird_0.wav", "bird_1.wav", "bird_2.wav", "cat_0.wav", "cat_deep.flac",
                        "blob.bin", "broken.wav", "dog_0.wav", "dog_1.wav"]
    assert by_name(m)["cat_deep.flac"].labels == ("cat",)  # nested: the top-level folder is the class
    assert all(Path(i.path).is_absolute() and i.split is None and i.group is None for i in m.items)
    assert m.bad == [BadFile(str(tmp_path.resolve() / "stray.wav"), "not inside a class folder")]


def test_folder_skips_sidecars_and_hidden_but_keeps_undecodable(tmp_path):
    got = set(names(build(make_folder(tmp_path), layout="folder")))
    assert {"broken.wav", "blob.bin"} <= got  # decoding reports these later; never dropped silently
    assert not got & {"notes.txt", ".DS_Store", "hidden.wav", "README.md"}


def test_folder_without_class_folders_is_an_error(tmp_path):
    write_audio(tmp_path / "a.wav")
    with pytest.raises(DatasetError, match="no class folders"):
        build(tmp_path, layout="folder")


# ---------------------------------------------------------------------------------------------- csv


def test_csv(tmp_path):
    m = build(make_csv(tmp_path))
    assert m.layout == "csv" and m.root == str((tmp_path / "labels.csv").resolve())
    items = by_name(m)
    assert items["a.wav"].path == str(tmp_path.resolve() / "clips" / "a.wav")  # relative to the CSV's folder
    assert items["abs.wav"].path == str(tmp_path.resolve() / "elsewhere" / "abs.wav")
    assert items["b.wav"].labels == ("dog", "bark") and items["c.wav"].labels == ("rain", "wind")
    assert [items[n].split for n in ("a.wav", "b.wav", "c.wav", "abs.wav", "h.wav")] == \
        ["train", "val", "test", "train", "val"]
    b = items["b.wav"]
    assert (b.fold, b.group, b.start, b.end) == (2, "s1", 0.5, 1.5)
    assert (items["abs.wav"].group, items["abs.wav"].start, items["abs.wav"].end) == (None, 0.0, None)
    assert items["h.wav"].fold is None and m.multilabel
    assert m.classes == ["bark", "bird", "cat", "dog", "rain", "wind"]


def test_csv_bad_rows_become_bad_files(tmp_path):
    m = build(make_csv(tmp_path), layout="csv")
    reasons = bad_reasons(m)
    assert set(reasons) == {"d.wav", "e.wav", "f.wav", "g.wav", "missing.wav"}
    assert "empty label" in reasons["d.wav"] and "line 6" in reasons["d.wav"]
    assert "'holdout'" in reasons["e.wav"] and "fold 'x'" in reasons["f.wav"]
    assert "end 1 s is not after start 2 s" in reasons["g.wav"] and "not found" in reasons["missing.wav"]
    assert len(m) == 5


def test_csv_renamed_columns_and_separator(tmp_path):
    write_audio(tmp_path / "x.flac")
    write_audio(tmp_path / "y.flac")
    table = tmp_path / "tags.csv"
    table.write_text("file,tags,subset,speaker\nx.flac,piano|voice,Train,ann\ny.flac,drums,test,bob\n")
    m = build(table, path_column="file", label_column="tags", split_column="subset", group_column="speaker",
              label_separator="|")
    assert [(i.labels, i.split, i.group) for i in m.items] == [(("piano", "voice"), "train", "ann"),
                                                               (("drums",), "test", "bob")]
    with pytest.raises(DatasetError, match=r"tags.csv: missing column\(s\) fold_nr"):
        build(table, path_column="file", label_column="tags", fold_column="fold_nr")
    with pytest.raises(DatasetError, match=r"missing column\(s\) path, label; found file, tags"):
        build(table)


def test_csv_unknown_option_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no option 'label_col'.*label_column"):
        build(make_csv(tmp_path), label_col="x")


# --------------------------------------------------------------------------------------------- fsdd


@pytest.mark.parametrize("in_recordings", [True, False])
def test_fsdd(tmp_path, in_recordings):
    root = make_fsdd(tmp_path, in_recordings)
    assert detect(root) == "fsdd"
    m = build(root)
    assert m.classes == [str(d) for d in range(10)] and len(m) == 24
    item = by_name(m)["9_lucas_4.wav"]
    assert (item.labels, item.group, item.split) == (("9",), "lucas", "test")
    assert by_name(m)["0_george_5.wav"].split == "train"
    assert m.split_sizes() == {"test": 12, "train": 12} and m.groups() == {"george": 12, "lucas": 12}


def test_fsdd_bad_name(tmp_path):
    add_fsdd_bad_name(make_fsdd(tmp_path))
    m = build(tmp_path, layout="fsdd")
    assert len(m) == 24 and "does not match {digit}_{speaker}_{index}.wav" in bad_reasons(m)["ten_george_0.wav"]


# -------------------------------------------------------------------------------------------- esc50


def test_esc50(tmp_path):
    m = build(make_esc50(tmp_path))
    assert m.layout == "esc50" and len(m) == len(ESC50_ROWS)
    assert m.classes == ["dog", "rooster", "rain", "chirping_birds", "sneezing", "engine"]  # target order
    item = by_name(m)["2-109505-B-21.wav"]
    assert (item.labels, item.fold, item.group, item.split) == (("sneezing",), 2, "109505", None)
    assert item.path == str(tmp_path.resolve() / "audio" / "2-109505-B-21.wav")
    assert m.folds() == {1: 3, 2: 2, 3: 1, 4: 1, 5: 2} and m.groups()["109505"] == 2


def test_esc10_subset(tmp_path):
    m = build(make_esc50(tmp_path), subset="esc10")
    assert m.classes == ["dog", "rooster", "rain", "sneezing"]
    assert len(m) == 7 and "chirping_birds" not in {i.label for i in m.items}
    with pytest.raises(ConfigError, match="subset='esc20'"):
        build(tmp_path, subset="esc20")


def test_esc50_missing_file_and_bad_fold(tmp_path):
    make_esc50(tmp_path, missing={"1-110389-A-0.wav"})
    meta = tmp_path / "meta" / "esc50.csv"
    meta.write_text(meta.read_text() + "9-1-A-0.wav,9,0,dog,True,1,A\n")
    m = build(tmp_path)
    reasons = bad_reasons(m)
    assert "listed in meta/esc50.csv but not found" in reasons["1-110389-A-0.wav"]
    assert "fold 9 is outside 1-5" in reasons["9-1-A-0.wav"] and len(m) == len(ESC50_ROWS) - 1


def test_esc50_metadata_without_columns_is_an_error(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("filename,fold,category\n")
    with pytest.raises(DatasetError, match=r"esc50.csv: missing column\(s\) target, esc10, src_file, take"):
        build(tmp_path)


# ------------------------------------------------------------------------------------- urbansound8k


def test_urbansound8k(tmp_path):
    m = build(make_us8k(tmp_path))
    assert m.layout == "urbansound8k" and len(m) == len(US8K_ROWS) and not m.bad
    assert m.classes == ["car_horn", "children_playing", "dog_bark", "gun_shot"]  # classID order 1, 2, 3, 6
    item = by_name(m)["100648-1-0-0.wav"]
    assert item.path == str(tmp_path.resolve() / "audio" / "fold10" / "100648-1-0-0.wav")
    assert (item.labels, item.fold, item.group) == (("car_horn",), 10, "100648")
    assert m.groups()["100263"] == 2 and m.folds() == {1: 1, 2: 1, 5: 3, 10: 1}


def test_urbansound8k_start_end_are_not_crops(tmp_path):
    m = build(make_us8k(tmp_path))
    # 100263-2-0-117.wav starts 58.5 s into its source; the slice file itself is only 0.2 s long.
    assert all(item.start is None and item.end is None for item in m.items)


# -------------------------------------------------------------------------------------------- gtzan


@pytest.mark.parametrize("variant,ext", [("original", ".au"), ("kaggle", ".wav"), ("bare", ".wav")])
def test_gtzan(tmp_path, variant, ext):
    root = make_gtzan(tmp_path, variant)
    assert detect(root) == "gtzan"
    m = build(root)
    assert m.layout == "gtzan" and m.classes == ["blues", "jazz", "rock"] and len(m) == 6
    assert names(m)[:2] == [f"blues.00000{ext}", f"blues.00001{ext}"]
    assert all(i.split is None and i.group is None for i in m.items)


def test_gtzan_genres_folder_itself(tmp_path):
    make_gtzan(tmp_path, "original")
    assert detect(tmp_path / "genres") == "gtzan"
    assert len(build(tmp_path / "genres")) == 6


# ---------------------------------------------------------------------------------- speech_commands


def test_speech_commands(tmp_path):
    m = build(make_speech_commands(tmp_path))
    assert m.layout == "speech_commands" and not m.bad
    assert m.classes == ["bed", "right", "yes"] and len(m) == sum(map(len, SC_FILES.values()))
    splits = {f"{Path(i.path).parent.name}/{Path(i.path).name}": i.split for i in m.items}
    assert splits["right/bb05582b_nohash_0.wav"] == "val" and splits["bed/c1d39ce8_nohash_0.wav"] == "test"
    assert m.split_sizes() == {"train": 5, "val": 2, "test": 2}
    assert m.groups() == {"0a7c2a8d": 3, "bb05582b": 2, "c1d39ce8": 2, "ffd2ba2f": 2}
    noise = tmp_path.resolve() / "_background_noise_"
    assert m.extras == {"background_noise": [str(noise / "running_tap.wav"), str(noise / "white_noise.wav")]}


def test_speech_commands_missing_listed_file(tmp_path):
    m = build(make_speech_commands(tmp_path, extra_listed=["yes/deadbeef_nohash_0.wav"]))
    assert m.bad == [BadFile(str(tmp_path.resolve() / "yes" / "deadbeef_nohash_0.wav"),
                             "listed in testing_list.txt but not found")]
    assert len(m) == sum(map(len, SC_FILES.values()))


# ------------------------------------------------------------------------------------ detect, build


@pytest.mark.parametrize("make,expected", [(make_folder, "folder"), (make_csv, "csv"), (make_esc50, "esc50"),
                                           (make_us8k, "urbansound8k"), (make_speech_commands, "speech_commands")])
def test_detect(tmp_path, make, expected):
    root = make(tmp_path)
    assert detect(root) == expected and build(root).layout == expected


def test_detect_empty_folder_says_what_was_looked_for(tmp_path):
    with pytest.raises(DatasetError) as error:
        detect(tmp_path)
    message = str(error.value)
    assert "cannot tell which dataset layout" in message and "meta/esc50.csv" in message
    assert all(f"  {name}: " in message for name in LAYOUTS)


def test_build_errors(tmp_path):
    with pytest.raises(DatasetError, match="nope: not found"):
        build(tmp_path / "nope")
    with pytest.raises(ConfigError, match="dataset layout='librispeech' is unknown: choose one of folder, csv, events, fsdd"):
        build(tmp_path, layout="librispeech")
    with pytest.raises(DatasetError, match="esc50.csv: not found"):
        build(tmp_path, layout="esc50")
    with pytest.raises(DatasetError, match="is a folder; the csv layout expects"):
        build(tmp_path, layout="csv")


def test_builds_are_deterministic(tmp_path):
    make_folder(tmp_path / "folder")
    make_speech_commands(tmp_path / "sc")
    for root in (tmp_path / "folder", tmp_path / "sc"):
        assert build(root).to_json() == build(root).to_json()


# ---------------------------------------------------------------------------------------- real data


def test_real_fsdd():
    if not REAL_FSDD.exists():
        pytest.skip(f"real FSDD not found at {REAL_FSDD.resolve()} (it lives in ../shared/data beside the project)")
    m = build(REAL_FSDD, layout="auto")
    assert m.layout == "fsdd" and len(m) == 2000 and not m.bad
    assert len(m.classes) == 10 and len(m.groups()) == 4
    assert m.split_sizes() == {"train": 1800, "test": 200}
    assert all(counts["total"] == 200 for counts in m.counts().values())
