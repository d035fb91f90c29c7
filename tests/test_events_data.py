"""Events in time as data: the DCASE annotation layout with every bad-row case, its inspection, and
soundscapes synthesised from real clips (annotations where the clips were put, no source across splits)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tympan.data.events import Event, read_annotations, statistics, write_annotations
from tympan.data.inspect import inspect
from tympan.data.layouts import build, detect
from tympan.data.soundscapes import SynthConfig, audible, synthesize

SR = 16000


def _soundscape_folder(root: Path) -> Path:
    """Five 5-s recordings and two annotation files (train and test by their names), every bad row case."""
    (root / "audio").mkdir(parents=True)
    for name in "abcde":
        sf.write(root / "audio" / f"{name}.wav", np.zeros(5 * SR, np.float32), SR)
    (root / "audio" / "broken.wav").write_text("not audio")
    (root / "meta").mkdir()
    (root / "meta" / "train.tsv").write_text(
        "filename\tonset\toffset\tevent_label\tnote\n"
        "a.wav\t0.5\t1.5\tdog\tx\n"          # 2: fine
        "a.wav\t1.0\t2.0\tcar\t\n"           # 3: fine, overlaps the dog
        "b.wav\t\t\t\t\n"                    # 4: a recording without events
        "c.wav\t3\t2\tdog\t\n"               # 5: onset after offset
        "c.wav\t-1\t2\tdog\t\n"              # 6: negative time
        "c.wav\t4.5\t5.02\tcar\t\n"          # 7: a hair past the end: cut to it
        "c.wav\t4.5\t6\tcar\t\n"             # 8: past the end
        "missing.wav\t1\t2\tdog\t\n"         # 9: no such file
        "broken.wav\t1\t2\tdog\t\n"          # 10: unreadable
        "d.wav\t1\t\tdog\t\n"                # 11: no offset
        "d.wav\t1\t2\t\t\n"                  # 12: no label
        "d.wav\tsoon\t2\tdog\t\n"            # 13: not a number
        "d.wav\t1\t2\tdog\tx\textra\n")      # 14: more values than columns
    (root / "meta" / "test.tsv").write_text("filename\tonset\toffset\tevent_label\ne.wav\t1\t2\tcar\n")
    return root


def test_layout_reads_events_splits_and_weak_labels(tmp_path):
    root = _soundscape_folder(tmp_path / "set")
    assert detect(root) == "events"
    manifest = build(root)
    items = {Path(i.path).name: i for i in manifest.items}
    # d.wav has only bad rows: it is not taken for a recording without events
    assert sorted(items) == ["a.wav", "b.wav", "c.wav", "e.wav"]
    assert items["a.wav"].events == (Event(0.5, 1.5, "dog"), Event(1.0, 2.0, "car"))
    assert items["a.wav"].labels == ("car", "dog")  # the weak labels, derived
    assert items["b.wav"].events == () and items["b.wav"].labels == ()
    assert items["c.wav"].events == (Event(4.5, 5.0, "car"),)  # the rounding past the end cut, not refused
    assert {i.split for n, i in items.items() if n != "e.wav"} == {"train"} and items["e.wav"].split == "test"
    assert manifest.classes == ["car", "dog"] and manifest.multilabel and manifest.has_events


def test_every_bad_row_is_reported_with_its_reason(tmp_path):
    manifest = build(_soundscape_folder(tmp_path / "set"))
    reasons = {b.path.rpartition(":")[2] if ".tsv:" in b.path else Path(b.path).name: b.reason for b in manifest.bad}
    assert "onset 3 s is not before offset 2 s (line 5 of train.tsv)" == reasons["5"]
    assert reasons["6"].startswith("negative onset -1 s")
    assert "past the end of c.wav" in reasons["8"]
    assert reasons["9"].startswith("missing.wav: listed but not found")
    assert "not an audio file" in reasons["broken.wav"]
    assert "without its offset" in reasons["11"]
    assert "no event_label" in reasons["12"]
    assert "'soon' is not a number" in reasons["13"]
    assert "6 values for the 5 columns" in reasons["14"]
    assert "unknown column 'note'" in reasons["train.tsv"]
    assert "7" not in reasons and "2" not in reasons and "3" not in reasons


def test_inspect_counts_events_and_polyphony_and_exits_1_on_bad_rows(tmp_path):
    root = _soundscape_folder(tmp_path / "set")
    report = inspect(build(root), decode=False)
    events = report["events"]
    assert events["per_class"]["car"] == {"events": 3, "total_seconds": 2.5, "median_seconds": 1.0}
    assert events["per_class"]["dog"]["events"] == 1
    assert events["polyphony"]["max"] == 2 and events["polyphony"]["seconds"]["2"] == pytest.approx(0.5)
    assert events["recordings_without_events"] == 1
    run = subprocess.run([sys.executable, "-m", "tympan", "datasets", "inspect", str(root), "--quick"],
                         capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert "polyphony: at most 2 at once" in run.stdout and "line 5 of train.tsv" in run.stdout


def test_annotations_round_trip_in_tsv_and_csv(tmp_path):
    events = {"x.wav": [Event(1.25, 2.5, "dog"), Event(0.0, 0.5, "car")], "y.wav": []}
    for name in ("a.tsv", "a.csv"):
        write_annotations(tmp_path / name, events)
        rows, bad, unknown = read_annotations(tmp_path / name)
        assert not bad and not unknown
        assert [(r.filename, r.event) for r in rows] == [("x.wav", Event(0.0, 0.5, "car")),
                                                         ("x.wav", Event(1.25, 2.5, "dog")), ("y.wav", None)]


def test_statistics_polyphony_by_hand():
    stats = statistics([([Event(0, 4, "rain"), Event(1, 2, "dog"), Event(1.5, 3, "car")], 5.0)], ["car", "dog", "rain"])
    assert stats["polyphony"]["seconds"] == {"0": 1.0, "1": 2.0, "2": 1.5, "3": 0.5}
    assert stats["polyphony"]["overlap_share"] == pytest.approx(0.5)


def test_audible_part_of_a_real_spoken_digit(fsdd_dir):
    import librosa

    y, _ = librosa.load(fsdd_dir / "recordings" / "0_jackson_0.wav", sr=SR)
    first, last = audible(y, SR, top_db=35)
    reference = librosa.effects.trim(y, top_db=35, frame_length=320, hop_length=80)[1]
    # the same idea as librosa's trim, to within a frame
    assert abs(first - reference[0]) <= 320 and abs(last - reference[1]) <= 320
    assert 0 <= first < last <= len(y)


@pytest.fixture(scope="module")
def synthesized(fsdd_dir, examples_dir, tmp_path_factory):
    """Soundscapes of the digits of four speakers, split by speaker, over the real example recordings."""
    root = tmp_path_factory.mktemp("synth")
    rows = [(str(p), p.name.split("_")[0], p.name.split("_")[1])
            for p in sorted((fsdd_dir / "recordings").glob("*.wav"))
            if int(p.stem.split("_")[2]) < 3 and p.stem.split("_")[0] in "0123"]
    with open(root / "clips.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "group"), *rows])
    out = root / "soundscapes"
    summary = synthesize(build(root / "clips.csv"), out, examples_dir,
                         SynthConfig(n=12, seconds=4.0, events=(2, 4), max_polyphony=2, val_fraction=0.25,
                                     test_fraction=0.25))
    return out, summary


def test_synthesis_annotates_where_the_clips_were_put(synthesized):
    out, summary = synthesized
    manifest = build(out)
    assert manifest.layout == "events" and not manifest.bad
    assert sum(summary["soundscapes"].values()) == len(manifest) == 12
    sources = json.loads((out / "synth.json").read_text())["sources"]
    for item in manifest.items:
        y, sr = sf.read(item.path)
        assert sr == SR and len(y) == 4 * SR
        used = sources[Path(item.path).name]
        assert [(e.onset, e.label) for e in item.events] == sorted((u["onset"], u["label"]) for u in used)
        for event in item.events:
            source = next(u for u in used if u["onset"] == event.onset)
            clip, clip_sr = sf.read(source["source"])
            span = audible(clip.astype(np.float32), clip_sr)
            assert event.offset - event.onset == pytest.approx((span[1] - span[0]) / clip_sr, abs=0.01)
            # the sound is there: the annotated span is louder than the background around it
            inside = y[int(event.onset * sr):int(event.offset * sr)]
            assert np.sqrt(np.mean(inside ** 2)) > 10 ** (-30 / 20)
        levels = np.zeros(4 * 100, int)
        for e in item.events:
            levels[int(e.onset * 100):int(e.offset * 100)] += 1
        assert levels.max() <= 2


def test_synthesis_keeps_every_speaker_and_clip_on_one_side(synthesized):
    out, _ = synthesized
    sources = json.loads((out / "synth.json").read_text())["sources"]
    groups, clips = {}, {}
    for filename, used in sources.items():
        split = filename.split("_")[0]
        for u in used:
            groups.setdefault(u["group"], set()).add(split)
            clips.setdefault(u["source"], set()).add(split)
    assert all(len(s) == 1 for s in groups.values()) and all(len(s) == 1 for s in clips.values())
    assert {s for v in groups.values() for s in v} == {"train", "val", "test"}


def test_synthesis_refuses_to_overwrite_and_is_deterministic(synthesized, tmp_path):
    out, summary = synthesized
    from tympan.errors import DatasetError

    with pytest.raises(DatasetError, match="already exists"):
        synthesize(build(Path(summary["clips"]) if summary["clips"].endswith(".csv") else out), out)
    again = tmp_path / "again"
    config = SynthConfig(n=12, seconds=4.0, events=(2, 4), max_polyphony=2, val_fraction=0.25, test_fraction=0.25)
    synthesize(build(summary["clips"]), again, summary["background"], config)
    for wav in sorted((out / "audio").rglob("*.wav")):
        assert wav.read_bytes() == (again / wav.relative_to(out)).read_bytes()
