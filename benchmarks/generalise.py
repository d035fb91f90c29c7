"""Generalise: spoken digits from voices never heard in training (FSDD, leave one speaker out).

For each of FSDD's speakers, train on the others and test on that one, every fold, three approaches:

- MFCC + SVM, the conventional pipeline (``tympan baseline``: MFCCs, deltas, mean and std, grouped CV grid);
- the FSDD recipe as it was before issue 13 (``examples/generalise/fsdd_before.yaml``), with its own
  protocol: validation a random tenth of the training speakers' recordings;
- the FSDD recipe (``recipes/fsdd.yaml``) as Tympan runs it now: validation holds out a whole training
  speaker to choose the epoch, then (``train.refit``) the model is trained again on every training speaker.

Then the official split (takes 0-4 of every speaker are test: known speakers), each approach in its own
protocol as in the folds, and a
robustness table: each fold's model on its unseen speaker with white noise (20, 10, 5 dB SNR),
reverberation (a simulated 6 x 4 x 3 m room of RT60 0.5 s: pyroomacoustics' image method when installed, else
decaying noise; neither is the training augmentation's generator) and a telephone band
(300-3400 Hz, 4th-order Butterworth).

    python benchmarks/generalise.py [--data ../shared/data/fsdd] [--out DIR] [--threads 2]
        [--approaches baseline,before,recipe] [--recipe FILE] [--speakers a,b] [--no-official] [--no-robustness]
        [--reuse] [--posthoc] [--json FILE]

The reverberation of the robustness table comes from pyroomacoustics when it is installed (``pip install
pyroomacoustics``; the benchmark says which it used).
"""

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from tympan import load
from tympan.train.baseline import baseline
from tympan.model_file import load_model
from tympan.train.config import recipe_path
from tympan.train.run import train

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ROOT / "examples" / "generalise" / "fsdd_before.yaml"
NAME = re.compile(r"(\d)_([a-z]+)_(\d+)\.wav$")
LABELS = {"baseline": "MFCC + SVM", "before": "recipe before", "recipe": "recipe now"}
CORRUPTIONS = ("clean", "noise 20 dB", "noise 10 dB", "noise 5 dB", "reverb", "telephone")


def recordings(data: Path) -> list[tuple[Path, str, str, int]]:
    found = []
    for path in sorted((data / "recordings").glob("*.wav")):
        digit, speaker, take = NAME.search(path.name).groups()
        found.append((path, digit, speaker, int(take)))
    return found


def write_csv(items, split_of, path: Path) -> Path:
    """``path,label,split,group`` rows; ``split_of(item)`` is train, val, test or '' (the library decides)."""
    path.write_text("path,label,split,group\n" + "".join(
        f"{p},{digit},{split_of((p, digit, speaker, take))},{speaker}\n" for p, digit, speaker, take in items))
    return path


def room_impulse_response(sr: int, seed: int = 0) -> np.ndarray:
    """A room's impulse response: pyroomacoustics' image method for a 6 x 4 x 3 m room when installed,
    else exponentially decaying noise of RT60 0.5 s after a direct path."""
    try:
        import pyroomacoustics as pra

        absorption, order = pra.inverse_sabine(0.5, [6, 4, 3])
        room = pra.ShoeBox([6, 4, 3], fs=sr, materials=pra.Material(absorption), max_order=order)
        room.add_source([2.0, 1.5, 1.6])
        room.add_microphone([4.2, 2.6, 1.2])
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
    except ImportError:
        rng = np.random.default_rng(seed)
        t = np.arange(int(0.6 * sr)) / sr
        rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / 0.5) * 0.3
        rir[0] = 1.0
    return rir / np.abs(rir).max()


def corrupt(y: np.ndarray, kind: str, sr: int, rng: np.random.Generator, rir: np.ndarray) -> np.ndarray:
    if kind == "clean":
        return y
    if kind.startswith("noise"):
        snr = float(kind.split()[1])
        noise = rng.standard_normal(len(y))
        return (y + noise * np.sqrt(np.mean(y ** 2) / 10 ** (snr / 10))).astype(np.float32)
    if kind == "reverb":
        wet = scipy.signal.fftconvolve(y, rir)[:len(y)]
        return (wet * np.sqrt(np.mean(y ** 2) / max(np.mean(wet ** 2), 1e-12))).astype(np.float32)
    if kind == "telephone":
        sos = scipy.signal.butter(4, [300, min(3400, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
        return scipy.signal.sosfilt(sos, y).astype(np.float32)
    raise ValueError(kind)


def robustness(model_path: Path, items, rir_cache: dict) -> dict[str, float]:
    model = load_model(model_path)
    sr = model.sr
    rir = rir_cache.setdefault(sr, room_impulse_response(sr))
    audio = [load(p, sr=sr)[0] for p, *_ in items]
    truth = np.array([model.classes.index(digit) for _, digit, *_ in items])
    scores = {}
    for kind in CORRUPTIONS:
        rng = np.random.default_rng(0)
        corrupted = [corrupt(y, kind, sr, rng, rir) for y in audio]
        predicted = model.predict_waveforms(corrupted).numpy().argmax(axis=1)
        scores[kind] = float((predicted == truth).mean())
    return scores


def posthoc(run: Path, items) -> dict[str, float]:
    """What averaging predictions would add, on a recipe fold's unseen speaker: an ensemble of the
    validation run's best epoch (kept in the checkpoint) with the refit model, and test-time augmentation
    (scores averaged over pitch-shifted copies)."""
    from tympan.augment import pitch_shift

    refit, first = load_model(run / "model.tympan"), load_model(run / "model.tympan")
    saved = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    first.load_state_dict(saved["best_state"])
    audio = [torch.from_numpy(load(p, sr=refit.sr)[0]) for p, *_ in items]
    truth = np.array([refit.classes.index(digit) for _, digit, *_ in items])
    shifted = {k: [pitch_shift(y, k) for y in audio] for k in (-2, -1, 1, 2)}
    scores = {"refit": refit.predict_waveforms(audio), "first": first.predict_waveforms(audio),
              **{k: refit.predict_waveforms(v) for k, v in shifted.items()}}
    accuracy = lambda s: float((s.numpy().argmax(1) == truth).mean())  # noqa: E731
    return {"refit (the recipe)": accuracy(scores["refit"]),
            "validation run's best epoch": accuracy(scores["first"]),
            "ensemble of the two": accuracy(scores["refit"] + scores["first"]),
            "tta pitch 0, +-1": accuracy(scores["refit"] + scores[-1] + scores[1]),
            "tta pitch 0, +-1, +-2": accuracy(sum(scores[k] for k in ("refit", -2, -1, 1, 2)))}


def run_fold(approach: str, items, is_test, out: Path, recipe: Path, reuse: bool = False) -> dict:
    """Train ``approach`` with the recordings where ``is_test(item)`` as the test set, in its protocol."""
    rng = np.random.default_rng(0)
    random_val = {str(p): rng.random() < 0.1 for p, *_ in items}
    if approach == "recipe":  # the library holds out a whole training speaker for validation
        split_of = lambda item: "test" if is_test(item) else ""  # noqa: E731
    else:  # the protocol of before: validation a random tenth of the training speakers' recordings
        split_of = lambda item: "test" if is_test(item) else "val" if random_val[str(item[0])] else "train"  # noqa: E731
    csv = write_csv(items, split_of, out / f"{approach}.csv")
    started = time.perf_counter()
    metrics = out / approach / "report" / "metrics.json"
    if reuse and metrics.exists():  # a run of the same fold kept in --out: its numbers and its model
        result = json.loads(metrics.read_text())
    elif approach == "baseline":
        result = baseline(csv, out / approach, layout="csv", progress=False)
    else:
        result = train(csv, out / approach, layout="csv", config_file=BEFORE if approach == "before" else recipe,
                       progress=False)
    return {"accuracy": result["test"]["accuracy"], "val_accuracy": (result.get("val") or {}).get("accuracy"),
            "train_seconds": result.get("train_seconds", time.perf_counter() - started),
            "best_epoch": result.get("best_epoch"), "model": str(out / approach / "model.tympan")}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "fsdd")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--approaches", default="baseline,before,recipe", help="which approaches to run")
    parser.add_argument("--recipe", type=Path, default=recipe_path("fsdd"), help="the recipe to measure as 'now'")
    parser.add_argument("--speakers", default=None, help="comma-separated subset of the speakers (default: all)")
    parser.add_argument("--no-official", action="store_true", help="skip the official split")
    parser.add_argument("--no-robustness", action="store_true", help="skip the robustness table")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    parser.add_argument("--posthoc", action="store_true",
                        help="also measure an ensemble and test-time augmentation on the recipe's folds")
    parser.add_argument("--reuse", action="store_true",
                        help="take a fold's numbers and model from --out when a run of it is there, instead of "
                             "training it again (the table then mixes runs: say so)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    approaches = args.approaches.split(",")
    items = recordings(args.data)
    speakers = args.speakers.split(",") if args.speakers else sorted({s for _, _, s, _ in items})
    found: dict = {"loso": {a: {} for a in approaches}, "official": {}, "robustness": {}, "posthoc": {}}
    rir_cache: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        started = time.perf_counter()
        print(f"FSDD, leave one speaker out: {len(items)} recordings, speakers {', '.join(speakers)}; "
              f"recipe {args.recipe}; torch threads {args.threads}", flush=True)
        for speaker in speakers:
            (out / speaker).mkdir(parents=True, exist_ok=True)
            for approach in approaches:
                row = run_fold(approach, items, lambda item: item[2] == speaker, out / speaker, args.recipe,
                               args.reuse)
                found["loso"][approach][speaker] = row
                print(f"  {speaker:<9} {LABELS[approach]:<14} test {row['accuracy']:.3f}  val "
                      f"{row['val_accuracy'] if row['val_accuracy'] is not None else float('nan'):.3f}  best epoch "
                      f"{row['best_epoch']}  {row['train_seconds']:.0f} s", flush=True)
                if approach != "baseline" and not args.no_robustness:
                    test = [item for item in items if item[2] == speaker]
                    found["robustness"].setdefault(approach, {})[speaker] = robustness(Path(row["model"]), test,
                                                                                       rir_cache)
                if approach == "recipe" and args.posthoc:
                    test = [item for item in items if item[2] == speaker]
                    found["posthoc"][speaker] = posthoc(Path(row["model"]).parent, test)
        print(f"\ntest accuracy on the unseen speaker{'':<4}" + "".join(f"{s:>9}" for s in speakers)
              + f"{'mean':>8}{'lowest':>8}{'train s':>9}")
        for approach in approaches:
            rows = found["loso"][approach]
            values = [rows[s]["accuracy"] for s in speakers]
            print(f"{LABELS[approach]:<38}" + "".join(f"{v:>9.3f}" for v in values)
                  + f"{np.mean(values):>8.3f}{min(values):>8.3f}{np.mean([rows[s]['train_seconds'] for s in speakers]):>9.0f}")
        if "recipe" in approaches:
            values = [found["loso"]["recipe"][s]["accuracy"] for s in speakers]
            print(f"targets: mean >= 0.85 ({'met' if np.mean(values) >= 0.85 else 'NOT met'}), every speaker >= 0.75 "
                  f"({'met' if min(values) >= 0.75 else 'NOT met'})")
        if found["posthoc"]:
            print("\nensembles and test-time augmentation, recipe folds: accuracy on the unseen speaker")
            for key in next(iter(found["posthoc"].values())):
                values = [found["posthoc"][s][key] for s in found["posthoc"]]
                print(f"{key:<38}" + "".join(f"{v:>9.3f}" for v in values)
                      + f"{np.mean(values):>8.3f}{min(values):>8.3f}")
        if found["robustness"]:
            import importlib.util

            room = "pyroomacoustics" if importlib.util.find_spec("pyroomacoustics") else "decaying noise"
            print(f"\nrobustness: mean accuracy over the unseen speakers, test recordings corrupted (reverb: {room})")
            print(f"{'':<16}" + "".join(f"{k:>13}" for k in CORRUPTIONS))
            for approach, per_speaker in found["robustness"].items():
                print(f"{LABELS[approach]:<16}" + "".join(
                    f"{np.mean([per_speaker[s][k] for s in per_speaker]):>13.3f}" for k in CORRUPTIONS))
        if not args.no_official:
            print("\nofficial split (takes 0-4 of every speaker: known speakers)")
            for approach in approaches:
                row = run_fold(approach, items, lambda item: item[3] < 5, out / "official", args.recipe, args.reuse)
                found["official"][approach] = row
                print(f"  {LABELS[approach]:<14} test {row['accuracy']:.4f}  val {row['val_accuracy']:.4f}  training "
                      f"{row['train_seconds']:.0f} s", flush=True)
        print(f"\nwhole benchmark {time.perf_counter() - started:.0f} s")
        if args.json:
            args.json.write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
