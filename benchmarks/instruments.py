"""Instrument families from instruments never heard in training: notes of General MIDI programs.

The dataset is rendered here, once, from a General MIDI soundfont (Debian's ``timgm6mb-soundfont`` by
default) with FluidSynth, and cached in ``--data-dir``:

- Classes: nine General MIDI families of 8 programs each (0-based program = 8 * family index + k):
  piano (0-7), chromatic percussion (8-15), organ (16-23), guitar (24-31), bass (32-39), strings (40-47),
  brass (56-63), reed (64-71) and pipe (72-79). Left out: ensemble (48-55: choirs and string sections,
  mixtures of instruments), synth lead, pad and effects (80-103: synthesiser patches named by use, not
  one family of instruments), ethnic (104-111: a catch-all of unrelated instruments), percussive
  (112-119) and sound effects (120-127).
- Notes: for each program, 14 pitches spread evenly over the family's usual range (``FAMILIES``: bass
  MIDI 28-55, piano 36-96...), each at velocities 64 and 110: 28 notes. The ranges differ by family, as
  the instruments do, so pitch is a (real) cue to the family.
- Rendering: one Standard MIDI File per program (written here: format 0, one track, program change, a
  note held 1 s every 3 s, all sound off before each note), rendered by ``fluidsynth -ni -q -g 1.0 -R 0
  -C 0 -r 16000 -O float`` (reverb and chorus off: they would add the soundfont's room, not the
  instrument), mixed to mono, cut into 1.5 s clips from each note's onset (the note, then 0.5 s of its
  release).
- Level: each clip is peak-normalised to -1 dBFS. How loud a program sounds is the soundfont author's
  mixing and the velocity's, not a trait of its family; left in, it is a cue that names the program.
  The velocity still changes the timbre (brighter when harder).
- Silence: a note whose render peaks below -80 dBFS is skipped, and listed; a program with no audible note
  is left out (a small soundfont may lack some programs).
- Split: for each family, 2 of its programs (a generator seeded with ``SPLIT_SEED``) are the test set;
  the other 6 are training, with an empty ``split`` so that the library holds out validation itself:
  with ``group_column=program`` it holds out whole programs, as the test does.
- ``instruments.csv``: ``path,label,split,program``, paths relative to it.

Approaches, on exactly this CSV, in one run:

- ``baseline``: MFCC + SVM (``tympan.baseline``, group column ``program``);
- ``tutorial``: the small CNN of ``benchmarks/tutorial_vs_tympan.py`` trained as tutorials do (librosa
  log-mel in ``__getitem__``, here at 16 kHz: n_fft 512, hop 160, 64 bands, 1.5 s), on every training
  program (no validation), Adam lr 1e-3, batch 32, the last epoch's network tested;
- ``tympan``: ``tympan train`` with the default recipe and no option but ``group_column=program``
  (``--config`` and ``--set`` change it, for experiments);
- ``nogroups`` (optional): the same recipe without the group option, so validation is a random tenth of
  the training programs' notes: it shows how validation overstates accuracy on new instruments.

Target: Tympan at least 15 points of test accuracy above both references.

    python benchmarks/instruments.py [--approaches baseline,tutorial,tympan,nogroups] [--out DIR]
        [--data-dir DIR] [--soundfont SF2] [--config FILE] [--set train.epochs=2 ...]
        [--tutorial-epochs 30] [--threads 2] [--json FILE]
"""

import argparse
import csv
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from tympan.train.baseline import baseline
from tympan.data.layouts import build
from tympan.train.metrics import classification_metrics
from tympan.train.run import train

BENCHMARKS = Path(__file__).resolve().parent
SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
INSTALL = "sudo apt-get install fluidsynth timgm6mb-soundfont"
SR = 16000
NOTE_SPACING_MS, HOLD_MS = 3000, 1000  # a note held 1 s, then 2 s for its release to die before the next
CLIP_SECONDS = 1.5
PITCHES_PER_PROGRAM, VELOCITIES = 14, (64, 110)
SILENT_PEAK, PEAK = 1e-4, 10 ** (-1 / 20)  # -80 dBFS: no sound; -1 dBFS: the level of every clip
TEST_PROGRAMS, SPLIT_SEED = 2, 0
GROUP = {"group_column": "program"}
LABELS = {"baseline": "MFCC + SVM", "tutorial": "tutorial CNN", "tympan": "Tympan, default recipe",
          "nogroups": "Tympan, no group option"}
COLUMNS = {"baseline": "MFCC + SVM", "tutorial": "tutorial CNN", "tympan": "Tympan", "nogroups": "no groups"}
TARGET_POINTS = 15.0

# family: (first program, (lowest, highest) MIDI note, the General MIDI names of its 8 programs)
FAMILIES = {
    "piano": (0, (36, 96), ["Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano",
                            "Honky-tonk Piano", "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet"]),
    "chromatic_percussion": (8, (48, 96), ["Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba",
                                           "Xylophone", "Tubular Bells", "Dulcimer"]),
    "organ": (16, (36, 84), ["Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ",
                             "Accordion", "Harmonica", "Tango Accordion"]),
    "guitar": (24, (40, 79), ["Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
                              "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
                              "Distortion Guitar", "Guitar Harmonics"]),
    "bass": (32, (28, 55), ["Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
                            "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2"]),
    "strings": (40, (36, 84), ["Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings",
                               "Orchestral Harp", "Timpani"]),
    "brass": (56, (40, 77), ["Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section",
                             "Synth Brass 1", "Synth Brass 2"]),
    "reed": (64, (40, 81), ["Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn",
                            "Bassoon", "Clarinet"]),
    "pipe": (72, (60, 96), ["Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle",
                            "Ocarina"]),
}


def fail(message: str):
    print(f"instruments: {message}", file=sys.stderr)
    sys.exit(2)


def notes(family: str) -> list[tuple[int, int]]:
    """(pitch, velocity) of every note rendered for a program of ``family``."""
    low, high = FAMILIES[family][1]
    pitches = np.unique(np.linspace(low, high, PITCHES_PER_PROGRAM).round().astype(int))
    return [(int(p), v) for p in pitches for v in VELOCITIES]


def variable_length(n: int) -> bytes:
    """A MIDI variable-length quantity: 7 bits a byte, most significant first, high bit set but on the last."""
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def midi_file(program: int, played: list[tuple[int, int]]) -> bytes:
    """A format-0 Standard MIDI File: ``program`` on channel 1 playing each (pitch, velocity) in turn.
    500 ticks per quarter note at 120 bpm (500,000 us a quarter) make a tick one millisecond."""
    events = [(0, b"\xff\x51\x03" + (500000).to_bytes(3, "big")), (0, bytes([0xC0, program]))]
    for i, (pitch, velocity) in enumerate(played):
        onset = i * NOTE_SPACING_MS
        events += [(onset, bytes([0xB0, 120, 0])),  # all sound off: nothing of the last note's tail remains
                   (onset, bytes([0x90, pitch, velocity])), (onset + HOLD_MS, bytes([0x80, pitch, 0]))]
    events.append((len(played) * NOTE_SPACING_MS, b"\xff\x2f\x00"))  # end of track
    track, last = b"", 0
    for when, event in events:
        track += variable_length(when - last) + event
        last = when
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500) + b"MTrk" + struct.pack(">I", len(track)) + track


def render(soundfont: Path, program: int, played, folder: Path) -> np.ndarray:
    """The program playing ``played``, as FluidSynth renders it: mono float32 at ``SR``."""
    midi, wav = folder / f"{program}.mid", folder / f"{program}.wav"
    midi.write_bytes(midi_file(program, played))
    command = ["fluidsynth", "-ni", "-q", "-g", "1.0", "-R", "0", "-C", "0", "-r", str(SR), "-O", "float",
               "-F", str(wav), str(soundfont), str(midi)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not wav.exists():
        fail(f"fluidsynth failed on program {program} ({' '.join(command)}):\n{done.stderr.strip()}")
    y, sr = sf.read(wav, dtype="float32", always_2d=True)
    if sr != SR:
        fail(f"fluidsynth wrote {sr} Hz instead of {SR} Hz; this version ignores -r")
    return y.mean(axis=1)


def settings(soundfont: Path) -> dict:
    """What the rendered clips depend on, as JSON reads it back (lists, not tuples): a cache made with other
    settings is rendered again."""
    found = {"soundfont": str(soundfont.resolve()), "soundfont_bytes": soundfont.stat().st_size, "sr": SR,
             "clip_seconds": CLIP_SECONDS, "hold_ms": HOLD_MS, "spacing_ms": NOTE_SPACING_MS,
             "notes": {family: notes(family) for family in FAMILIES}, "peak": PEAK, "split_seed": SPLIT_SEED,
             "test_programs": TEST_PROGRAMS}
    return json.loads(json.dumps(found))


def check_tools(soundfont: Path):
    if shutil.which("fluidsynth") is None:
        fail(f"the dataset is rendered with FluidSynth, which is not installed; install it with:\n  {INSTALL}")
    if not soundfont.is_file():
        fail(f"soundfont {soundfont} not found; install Debian's General MIDI soundfont with:\n  {INSTALL}\n"
             "or name another General MIDI .sf2 with --soundfont")


def render_clips(soundfont: Path, data_dir: Path) -> tuple[list[dict], dict]:
    """Every program's notes cut into clip files under ``data_dir/clips``: (rows, silent notes per program
    as ``pitch/velocity``)."""
    rows, silent = [], {}
    clip = int(CLIP_SECONDS * SR)
    with tempfile.TemporaryDirectory() as tmp:
        for family, (first, _, names) in FAMILIES.items():
            (data_dir / "clips" / family).mkdir(parents=True, exist_ok=True)
            for k, name in enumerate(names):
                program, played = first + k, notes(family)
                y = render(soundfont, program, played, Path(tmp))
                group = f"{program:03d} {name}"
                for i, (pitch, velocity) in enumerate(played):
                    start = i * NOTE_SPACING_MS * SR // 1000
                    note = np.pad(y[start:start + clip], (0, max(0, start + clip - len(y))))
                    peak = float(np.abs(note).max())
                    if peak < SILENT_PEAK:
                        silent.setdefault(group, []).append(f"{pitch}/{velocity}")
                        continue
                    path = Path("clips", family, f"{program:03d}_n{pitch:03d}_v{velocity:03d}.flac")
                    sf.write(data_dir / path, note * (PEAK / peak), SR, subtype="PCM_16")
                    rows.append({"path": path.as_posix(), "label": family, "program": group})
    return rows, silent


def choose_test(rows: list[dict]) -> set[str]:
    """``TEST_PROGRAMS`` programs of each family, among those that sounded, by a seeded generator."""
    rng = np.random.default_rng(SPLIT_SEED)
    chosen = set()
    for family in FAMILIES:
        programs = sorted({row["program"] for row in rows if row["label"] == family})
        size = min(TEST_PROGRAMS, len(programs) - 1)  # a family keeps at least one training program
        chosen.update(str(p) for p in rng.choice(programs, size=size, replace=False))
    return chosen


def dataset(data_dir: Path, soundfont: Path) -> tuple[Path, dict]:
    """``instruments.csv`` and what was rendered, from the cache when it was made with the same settings."""
    csv_path, info_path = data_dir / "instruments.csv", data_dir / "dataset.json"
    wanted = settings(soundfont) if soundfont.is_file() else None
    if csv_path.is_file() and info_path.is_file():
        info = json.loads(info_path.read_text())
        if wanted is None or info["settings"] == wanted:
            return csv_path, {**info, "cached": True}
    check_tools(soundfont)
    shutil.rmtree(data_dir / "clips", ignore_errors=True)  # clips of other settings would linger unlisted
    started = time.perf_counter()
    rows, silent = render_clips(soundfont, data_dir)
    render_seconds = time.perf_counter() - started
    test = choose_test(rows)
    with open(csv_path, "w", newline="") as file:
        writer = csv.DictWriter(file, ["path", "label", "split", "program"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "split": "test" if row["program"] in test else ""} for row in rows)
    version = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    info = {"settings": wanted, "fluidsynth": version, "render_seconds": render_seconds, "clips": len(rows),
            "silent_notes": silent, "test_programs": sorted(test),
            "silent_programs": sorted(set(silent) - {row["program"] for row in rows})}
    info_path.write_text(json.dumps(info, indent=1))
    return csv_path, {**info, "cached": False}


def summary(csv_path: Path, info: dict):
    manifest = build(csv_path, layout="csv", **GROUP)
    print(f"dataset {csv_path}: {len(manifest)} clips of {CLIP_SECONDS} s at {SR} Hz, {len(manifest.groups())} "
          f"programs, {info['settings']['soundfont'] if info['settings'] else '?'} ({info['fluidsynth']}); "
          + ("cached" if info["cached"] else f"rendered in {info['render_seconds']:.0f} s"))
    print(f"{'family':<22}{'programs':>9}{'clips':>7}{'test clips':>11}  test programs")
    for family in FAMILIES:
        items = [item for item in manifest.items if item.label == family]
        test = sorted({item.group for item in items if item.split == "test"})
        print(f"{family:<22}{len({item.group for item in items}):>9}{len(items):>7}"
              f"{sum(item.split == 'test' for item in items):>11}  {', '.join(test)}")
    print(f"silent programs: {', '.join(info['silent_programs']) or 'none'}; silent notes skipped: "
          + (", ".join(f"{p} ({len(n)})" for p, n in info["silent_notes"].items()) or "none"))


def run_baseline(csv_path: Path, out: Path, args) -> dict:
    result = baseline(csv_path, out / "baseline", layout="csv", options=GROUP, progress=False)
    return row(result["test"], result.get("val"), result.get("train_seconds"))


def run_tympan(csv_path: Path, out: Path, args, groups: bool = True) -> dict:
    result = train(csv_path, out / ("tympan" if groups else "nogroups"), layout="csv", config_file=args.config,
                   sets=args.set, options=GROUP if groups else None, progress=False)
    found = row(result["test"], result.get("val"), result.get("train_seconds"))
    return {**found, "best_epoch": result.get("best_epoch"), "epochs": result.get("epochs"),
            "per_program": result["test"].get("per_group")}


def run_tutorial(csv_path: Path, out: Path, args) -> dict:
    """tutorial_vs_tympan's dataset and loop, imported (not copied), with features at 16 kHz on 1.5 s clips."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import tutorial_vs_tympan as tutorial
    except ImportError as error:  # librosa: a dev extra, which the tutorial computes its features with
        fail(f"the tutorial approach needs {error.name}: pip install -e '.[dev]', or leave it out of --approaches")

    features = dict(sr=SR, n_fft=512, hop_length=160, n_mels=64)
    manifest = build(csv_path, layout="csv", **GROUP)
    training = replace(manifest, items=[item for item in manifest.items if item.split != "test"])
    test = manifest.subset("test")
    settings = argparse.Namespace(epochs=args.tutorial_epochs, batch_size=32, learning_rate=1e-3, seed=0)
    seconds, _, network, _, _ = tutorial.tutorial(training, test, settings, features, CLIP_SECONDS)
    scores, targets = [], []
    with torch.no_grad():  # again over the test clips, for the macro-F1 and per family the function does not give
        for x, target in torch.utils.data.DataLoader(tutorial.TutorialDataset(test, features, CLIP_SECONDS),
                                                             batch_size=64):
            scores.append(torch.softmax(network(x), dim=1))
            targets.append(target)
    metrics = classification_metrics(torch.cat(targets).numpy(), torch.cat(scores).numpy(), manifest.classes)
    return row(metrics, None, sum(seconds))


def row(test: dict, val: dict | None, seconds: float | None) -> dict:
    return {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
            "val_accuracy": val["accuracy"] if val else None, "train_seconds": seconds,
            "per_family": {name: c["recall"] for name, c in test["per_class"].items()}}


def report(found: dict):
    number = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    print(f"\n{'approach':<26}{'test acc':>9}{'macro-F1':>9}{'val acc':>9}{'train s':>9}{'wall s':>8}")
    for name, r in found.items():
        print(f"{LABELS[name]:<26}{r['accuracy']:>9.3f}{r['macro_f1']:>9.3f}{number(r['val_accuracy'], '9.3f'):>9}"
              f"{number(r['train_seconds'], '9.0f'):>9}{r['wall_seconds']:>8.0f}")
    print(f"\ntest accuracy per family{'':<10}" + "".join(f"{COLUMNS[n]:>14}" for n in found))
    for family in FAMILIES:
        print(f"{family:<34}" + "".join(f"{r['per_family'].get(family, float('nan')):>14.3f}" for r in found.values()))
    if "tympan" in found:
        programs = list((found["tympan"]["per_program"] or {}).items())
        print("\nTympan, test accuracy per unseen program:")
        for i in range(0, len(programs), 3):  # three to a line
            print("  " + "".join(f"{p:<28}{v['accuracy']:>5.2f}    " for p, v in programs[i:i + 3]).rstrip())
        references = [n for n in ("baseline", "tutorial") if n in found]
        gains = {n: 100 * (found["tympan"]["accuracy"] - found[n]["accuracy"]) for n in references}
        for n, gain in gains.items():
            print(f"Tympan vs {LABELS[n]}: {gain:+.1f} points of test accuracy")
        if len(gains) == 2:
            print(f"target: Tympan at least {TARGET_POINTS:.0f} points above both: "
                  f"{'met' if min(gains.values()) >= TARGET_POINTS else 'NOT met'}")
    if "nogroups" in found:
        r = found["nogroups"]
        print(f"without the group option, validation reads {number(r['val_accuracy'], '.3f')} while test (unseen "
              f"programs) reads {r['accuracy']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approaches", default="baseline,tutorial,tympan",
                        help=f"comma-separated, in order, from {', '.join(LABELS)}")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the rendered clips and instruments.csv (default ~/.cache/tympan-bench/instruments/"
                             "<soundfont name>); reused when rendered with the same settings")
    parser.add_argument("--soundfont", type=Path, default=SOUNDFONT, help="a General MIDI .sf2 file")
    parser.add_argument("--config", type=Path, default=None, help="Tympan's configuration in place of the default")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="an override for Tympan's runs (repeatable), e.g. train.epochs=2")
    parser.add_argument("--tutorial-epochs", type=int, default=30, help="the tutorial CNN's epochs")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    args = parser.parse_args()
    approaches = args.approaches.split(",")
    unknown = sorted(set(approaches) - set(LABELS))
    if unknown:
        fail(f"--approaches: unknown {', '.join(unknown)}; choose from {', '.join(LABELS)}")
    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or Path.home() / ".cache" / "tympan-bench" / "instruments" / args.soundfont.stem
    data_dir.mkdir(parents=True, exist_ok=True)
    csv_path, info = dataset(data_dir, args.soundfont)
    summary(csv_path, info)
    runners = {"baseline": run_baseline, "tutorial": run_tutorial, "tympan": run_tympan,
               "nogroups": lambda c, o, a: run_tympan(c, o, a, groups=False)}
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for name in approaches:
            started = time.perf_counter()
            found[name] = {**runners[name](csv_path, out, args), "wall_seconds": time.perf_counter() - started}
            print(f"  {LABELS[name]:<26} test {found[name]['accuracy']:.3f}  "
                  f"({found[name]['wall_seconds']:.0f} s)", flush=True)
    report(found)
    if args.json:
        args.json.write_text(json.dumps({"dataset": info, "approaches": found, "threads": args.threads,
                                         "config": str(args.config) if args.config else "default",
                                         "sets": args.set, "tutorial_epochs": args.tutorial_epochs}, indent=1))


if __name__ == "__main__":
    main()
