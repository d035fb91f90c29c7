"""Event detection as a model: frame networks, targets rasterised and cropped, post-processing, streaming
equal to whole-waveform scoring, the model file, and a real (small) training run to a timeline."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from tympan.data.events import Event
from tympan.errors import ConfigError
from tympan.model_file import load_model, save_model
from tympan.nn.detector import EventDetector, PostProcess, decode
from tympan.nn.models import build_network
from tympan.train.events import EventSet, rasterise

FRONTEND = {"kind": "logmel", "sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 32}
SMALL = {"kind": "crnn", "channels": [8, 8], "pool": [[2, 2], [2, 1]], "hidden": 8}


@pytest.mark.parametrize("kind", ["crnn", "cnn", "gru", "lstm", "rnn", "mlp", "perceptron", "transformer"])
def test_every_kind_that_keeps_time_gives_frames(kind):
    net = build_network(kind, (32, 101), 3, seed=0, task="events")
    assert net(torch.zeros(2, 32, 101)).shape == (2, *net.out_shape) and net.out_shape[-1] == 3


def test_a_network_without_time_is_refused_for_events():
    with pytest.raises(ConfigError, match="no layer that pools time"):
        build_network({"kind": "layers", "layers": [{"kind": "frame_dense", "units": 4}], "output_layer": False},
                      (32, 101), 3, task="events")


def test_transformer_patches_span_every_band_for_events():
    net = build_network({"kind": "transformer", "dim": 16, "depth": 1, "heads": 2, "patch": 4}, (32, 100), 3,
                        seed=0, task="events")
    assert net.out_shape == (25, 3)  # one patch per 4 frames, each over all 32 bands


def test_frame_rate_follows_hop_and_time_pooling():
    model = EventDetector(FRONTEND, SMALL, ["a", "b"], clip_seconds=2.0, seed=0)
    assert model.frame_samples == 160 and model.frame_seconds == 0.02  # hop 80, pooled twice in time
    assert model(torch.zeros(1, 16000)).shape == (1, 101, 2)


def test_rasterise_marks_frames_the_event_touches():
    targets = rasterise([Event(0.05, 0.12, "dog"), Event(0.3, 0.4, "car")], ["car", "dog"], 5, 0.1)
    assert targets[:, 1].tolist() == [1, 1, 0, 0, 0] and targets[:, 0].tolist() == [0, 0, 0, 1, 0]
    # a crop starting at 0.2 s sees the car from its second frame
    assert rasterise([Event(0.3, 0.4, "car")], ["car"], 3, 0.1, start=0.2)[:, 0].tolist() == [0, 1, 0]


def test_crops_cut_the_targets_to_match_the_audio():
    sr, frame = 8000, 160
    y = np.zeros(sr * 6, np.float32)
    y[int(3.2 * sr):int(3.6 * sr)] = 1.0  # the event is where the samples are non-zero
    events = [Event(3.2, 3.6, "beep")]
    recordings = EventSet([y], np.ones((1, 1), np.float32), ["x.wav"], [None], [events], ["beep"], frame, sr, 101)
    for epoch in range(8):
        waves, targets, _ = next(recordings.batches(epoch, 1, 2 * sr, seed=0))
        loud = np.flatnonzero(waves[0].numpy() > 0)
        active = np.flatnonzero(targets[0, :, 0].numpy())
        if len(loud):
            ends_inside = loud[-1] < len(waves[0]) - 1
            assert active[0] == loud[0] // frame
            assert active[-1] == (loud[-1] // frame if ends_inside else targets.shape[1] - 1)
        else:
            assert not len(active)


def test_decode_threshold_median_gap_and_shortest():
    scores = np.zeros((50, 1))
    scores[5:15] = 0.9
    scores[9] = 0.1        # a one-frame dip: the median filter closes it
    scores[18:25] = 0.9    # three frames after the first: bridged by min_gap
    scores[40:41] = 0.9    # one frame: shorter than min_duration
    post = PostProcess(threshold=0.5, median_seconds=0.3, min_gap=0.35, min_duration=0.15)
    assert decode(scores, 0.1, ["a"], post) == [Event(0.5, 2.5, "a")]
    assert len(decode(scores, 0.1, ["a"], PostProcess(median_seconds=0, min_gap=0, min_duration=0))) == 4


def test_hysteresis_extends_events_that_reach_the_threshold_and_only_those():
    scores = np.zeros((40, 1))
    scores[5:20] = 0.3
    scores[10:14] = 0.8    # reaches the threshold: the event is all of 5-20
    scores[25:35] = 0.3    # never reaches it: no event
    post = PostProcess(threshold=0.5, median_seconds=0, min_gap=0, min_duration=0)
    assert decode(scores, 0.1, ["a"], post) == [Event(1.0, 1.4, "a")]
    assert decode(scores, 0.1, ["a"], PostProcess(**{**vars(post), "low_threshold": 0.2})) == [Event(0.5, 2.0, "a")]
    assert decode(scores, 0.1, ["a"], PostProcess(**{**vars(post), "low_threshold": 0.5})) == [Event(1.0, 1.4, "a")]
    with pytest.raises(ConfigError, match="low_threshold=0.7: above threshold=0.5"):
        decode(scores, 0.1, ["a"], PostProcess(**{**vars(post), "low_threshold": 0.7}))


def test_tuning_chooses_hysteresis_where_event_edges_score_low():
    from tympan.train.events import tune_postprocess

    # a real detector whose network is replaced by fixed frame scores: events of 1 s whose middle scores
    # 0.9 and whose edges 0.35, as a voice never heard does, and a second of 0.35 with no event: only a
    # low threshold under 0.35 with a threshold above it finds every event whole and nothing else
    class Fixed(EventDetector):
        def frame_scores(self, y, batch_size=8):
            return self.table[int(y[0])]

    model = Fixed(FRONTEND, SMALL, ["a", "b"], clip_seconds=2.0, seed=0)
    frame = model.frame_seconds
    model.table, audio, events = [], [], []
    for i in range(6):
        onset = 1.0 + 0.5 * i
        table = np.zeros((int(round(8 / frame)), 2))
        first, end = int(round(onset / frame)), int(round((onset + 1.0) / frame))
        table[first:end, 0] = 0.35
        table[first + (end - first) // 3:end - (end - first) // 3, 0] = 0.9
        table[int(round(6 / frame)):int(round(7 / frame)), 0] = 0.35
        model.table.append(table)
        audio.append(np.full(8000 * 8, float(i), dtype=np.float32))
        events.append([Event(onset, onset + 1.0, "a")])
    recordings = EventSet(audio, np.zeros((6, 2), np.float32), [f"r{i}.wav" for i in range(6)], [None] * 6, events,
                          ["a", "b"], model.frame_samples, model.sr, model.network.out_shape[0])
    post, chosen = tune_postprocess(model, recordings)
    assert chosen["a"]["event_f1"] == 1.0 and chosen["a"]["low_threshold"] <= 0.3 < chosen["a"]["threshold"]
    assert post.low_threshold[0] == chosen["a"]["low_threshold"] and post.threshold[0] == chosen["a"]["threshold"]
    assert post.low_threshold[1] == post.threshold[1]  # "b" has no events: nothing beats its settings


def test_streamed_scores_equal_whole_waveform_scores():
    model = EventDetector(FRONTEND, SMALL, ["a", "b"], clip_seconds=2.0, seed=0)
    y = np.random.default_rng(0).standard_normal(8000 * 13 + 77).astype(np.float32)
    whole = model.frame_scores(y)
    assert whole.shape == (int(np.ceil(len(y) / 160)), 2)
    for size in (999, 8000, 50000):
        streamed = model.stream_scores([y[i:i + size] for i in range(0, len(y), size)], batch_size=3)
        np.testing.assert_allclose(streamed, whole, atol=1e-5)


def test_embeddings_are_the_frames_mean():
    model = EventDetector(FRONTEND, SMALL, ["a", "b"], 2.0, seed=0).eval()
    y = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    frames = model.network.embed(model.features(y))
    assert frames.ndim == 3 and torch.allclose(model.embed(y), frames.mean(dim=1))
    assert model.embed_waveforms([y[0].numpy(), y[1, :9000].numpy()]).shape == (2, frames.shape[-1])


def test_model_file_keeps_task_and_postprocessing(tmp_path):
    model = EventDetector(FRONTEND, SMALL, ["a", "b"], clip_seconds=2.0, seed=0,
                          postprocess={"threshold": [0.3, 0.6], "median_seconds": 0.1})
    save_model(model, tmp_path / "m.tympan")
    loaded = load_model(tmp_path / "m.tympan")
    assert isinstance(loaded, EventDetector) and loaded.postprocess == model.postprocess
    y = np.random.default_rng(1).standard_normal(8000 * 3).astype(np.float32)
    np.testing.assert_allclose(loaded.frame_scores(y), model.eval().frame_scores(y), atol=1e-6)


def test_export_gives_frame_probabilities(tmp_path):
    from tympan.predict.export import export

    model = EventDetector(FRONTEND, SMALL, ["a", "b"], clip_seconds=2.0, seed=0).eval()
    y = torch.from_numpy(np.random.default_rng(2).standard_normal((1, 8000 * 3)).astype(np.float32))
    expected = torch.sigmoid(model(y)).detach().numpy()
    export(model, tmp_path / "m.pt", format="torchscript")
    extra = {"tympan.json": ""}
    loaded = torch.jit.load(str(tmp_path / "m.pt"), _extra_files=extra)
    np.testing.assert_allclose(loaded(y).detach().numpy(), expected, atol=1e-5)
    assert json.loads(extra["tympan.json"])["frame_seconds"] == 0.02
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime (a dev dependency) runs the ONNX file")
    cnn = EventDetector(FRONTEND, {"kind": "cnn", "channels": [8, 8], "pool": [2, 1]}, ["a", "b"], 2.0, seed=0).eval()
    export(cnn, tmp_path / "m.onnx", format="onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: y.numpy()})[0]
    np.testing.assert_allclose(got, torch.sigmoid(cnn(y)).detach().numpy(), atol=1e-4)


@pytest.fixture(scope="module")
def soundscapes(tmp_path_factory):
    """Sixteen 4-s soundscapes of three demo classes' dry events over coloured noise."""
    from tympan.data.layouts import build
    from tympan.data.soundscapes import SynthConfig, synthesize
    from tympan.data.synthetic import make_demo

    root = tmp_path_factory.mktemp("events")
    clips = make_demo(root / "clips", n_per_class=4, dry=True)
    for name in [p.name for p in clips.iterdir() if p.is_dir()][3:]:
        import shutil
        shutil.rmtree(clips / name)
    synthesize(build(clips, layout="folder"), root / "scapes", None,
               SynthConfig(n=16, seconds=4.0, events=(1, 3), val_fraction=0.25, test_fraction=0.25))
    return root / "scapes"


TINY = ["train.epochs=2", "data.clip_seconds=2", "train.batch_size=4",
        'network={kind: crnn, channels: [8, 8], pool: [[4, 2], [4, 2]], hidden: 8}']


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tympan", *map(str, args)], capture_output=True, text=True)


def test_train_predict_evaluate_an_events_model(soundscapes, tmp_path):
    from tympan.data.events import read_annotations

    run = _cli("train", "--data", soundscapes, "--out", tmp_path / "run", "--json", *sum((["--set", s] for s in TINY), []))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["config"]["data"]["task"] == "events" and result["config"]["train"]["monitor"] == "event_f1"
    metrics = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    assert metrics["test"]["event_f1"] == result["test"]["event_f1"]
    html = (tmp_path / "run" / "report" / "report.html").read_text()
    assert "event F1" in html and f"{metrics['test']['event_f1']:.3f}"[:4] in html
    assert (tmp_path / "run" / "report" / "timeline_0.png").is_file()
    model = load_model(tmp_path / "run" / "model.tympan")
    assert isinstance(model, EventDetector) and model.frame_seconds == pytest.approx(0.04)

    test_files = sorted((soundscapes / "audio" / "test").glob("*.wav"))
    predicted = _cli("predict", *test_files, "--model", tmp_path / "run" / "model.tympan", "--csv",
                     tmp_path / "events.tsv", "--json")
    assert predicted.returncode == 0, predicted.stderr
    report = json.loads(predicted.stdout)
    assert report["task"] == "events" and len(report["files"]) == len(test_files)
    rows, bad, _ = read_annotations(tmp_path / "events.tsv")
    assert not bad and {r.filename for r in rows} == {str(f) for f in test_files}
    assert sum(r.event is not None for r in rows) == sum(len(item["events"]) for item in report["files"])

    tuned = _cli("evaluate", "--model", tmp_path / "run" / "model.tympan", "--data", soundscapes, "--tune", "--json")
    assert tuned.returncode == 0, tuned.stderr
    chosen = json.loads(tuned.stdout)["tuned"]
    reloaded = load_model(tmp_path / "run" / "model.tympan")
    assert reloaded.postprocess.threshold == [chosen[c]["threshold"] for c in reloaded.classes]


def test_events_training_is_deterministic(soundscapes, tmp_path):
    from tympan.train import train

    sets = [*TINY, "train.epochs=1", "postprocess.tune=true", "postprocess.min_gap=0.2"]
    first = train(soundscapes, tmp_path / "a", sets=sets, progress=False)
    second = train(soundscapes, tmp_path / "b", sets=sets, progress=False)
    assert first["history"][0]["train_loss"] == second["history"][0]["train_loss"]
    assert first["test"] == second["test"] and first["tuned"] == second["tuned"]
    # tuned on validation before the test is scored, and kept in the model file with the settings given
    post = load_model(tmp_path / "a" / "model.tympan").postprocess
    assert post.threshold == [first["tuned"][c]["threshold"] for c in first["classes"]] and post.min_gap == 0.2
    assert post.low_threshold == [first["tuned"][c]["low_threshold"] for c in first["classes"]]
    with pytest.raises(ConfigError, match="postprocess threshold"):
        train(soundscapes, tmp_path / "c", sets=[*TINY, "postprocess.threshold=[0.5, 0.5]"], progress=False)


def test_events_start_from_a_clip_models_backbone_with_targets_moving_in_time(soundscapes, tmp_path):
    from tympan.train import train

    # a clip model on the same recordings' weak labels (the events recipe with data.task=clips)
    clip = train(soundscapes, tmp_path / "clip", sets=[*TINY, "train.epochs=1", "data.task=clips"], progress=False)
    assert clip["config"]["train"]["monitor"] == "mAP"
    moving = 'augment=[{kind: time_shift, p: 1, max_seconds: 0.3}, {kind: time_stretch, p: 1, rate: [0.8, 1.2]}]'
    events = train(soundscapes, tmp_path / "events", progress=False,
                   sets=[*TINY, "train.epochs=1", f"transfer.init_from={tmp_path / 'clip' / 'model.tympan'}",
                         "transfer.freeze=backbone", moving])
    source, model = load_model(tmp_path / "clip" / "model.tympan"), load_model(tmp_path / "events" / "model.tympan")
    assert isinstance(model, EventDetector) and not isinstance(source, EventDetector)
    theirs, ours = source.state_dict(), model.state_dict()
    frozen = [n for n in ours if n.startswith("network.") and "output" not in n and "running" not in n]
    assert frozen and all(torch.equal(theirs[n], ours[n]) for n in frozen)  # the backbone, kept as it was
    assert events["test"]["n"] > 0 and "event_f1" in events["test"]
    with pytest.raises(ConfigError, match="transfer.head=logistic"):
        train(soundscapes, tmp_path / "head", progress=False,
              sets=[*TINY, f"transfer.init_from={tmp_path / 'clip' / 'model.tympan'}", "transfer.head=logistic",
                    "transfer.freeze=backbone"])


def test_events_cross_validate_over_source_folds(soundscapes, tmp_path):
    from tympan.train import train

    result = train(soundscapes, tmp_path / "folds", sets=[*TINY, "train.epochs=1"], folds=3, progress=False)
    assert len(result["cross_validation"]["event_f1"]["values"]) == 3
    assert [f["fold"] for f in result["folds"]] == [1, 2, 3]
    assert all((tmp_path / "folds" / "folds" / f"fold_{k}" / "model.tympan").is_file() for k in (1, 2, 3))


def test_events_training_resumes_after_kill_with_the_same_result(soundscapes, tmp_path):
    from test_train import KILLED_IN_EPOCH_3

    args = ["train", "--data", str(soundscapes), "--json", *sum((["--set", s] for s in TINY), []),
            "--set", "train.epochs=3"]
    whole = _cli(*args, "--out", tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_EPOCH_3, *args, "--out", str(tmp_path / "killed")],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode < 0 and not (tmp_path / "killed" / "model.tympan").exists(), killed.stderr[-2000:]
    resumed = _cli(*args, "--out", tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(whole.stdout), json.loads(resumed.stdout)
    assert a["test"] == b["test"] and [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]


def test_events_two_process_data_parallel_run_matches_one_process(soundscapes, tmp_path):
    import os
    from pathlib import Path

    # without batch norm and dropout, which see each process's share of the batch (as for clips)
    plain = "network={kind: crnn, channels: [8, 8], pool: [[4, 2], [4, 2]], hidden: 8, batch_norm: false, dropout: 0}"
    args = ["train", "--data", str(soundscapes), *sum((["--set", s] for s in [*TINY, plain, "train.epochs=1"]), [])]
    one = _cli(*args, "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    torchrun = Path(sys.executable).with_name("torchrun")
    two = subprocess.run([str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "tympan", *args,
                          "--out", str(tmp_path / "two")], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = load_model(tmp_path / "one" / "model.tympan").state_dict(), load_model(tmp_path / "two" / "model.tympan").state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


def test_weak_rows_score_the_clip_pooled_by_linear_softmax_and_strong_rows_their_frames():
    from tympan.train.losses import WEAK, binary_cross_entropy

    logits = torch.randn(3, 6, 2, generator=torch.Generator().manual_seed(0))
    strong = (torch.rand(3, 6, 2, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    targets = strong.clone()
    targets[1] = WEAK + torch.tensor([1.0, 0.0])  # row 1: the first class heard somewhere, the second not
    targets[1, :2] = 0.0  # as a time shift leaves it: frames moved in are empty
    got = binary_cross_entropy(logits, targets)
    p = torch.sigmoid(logits[1]).double()
    clip = (p ** 2).sum(0) / p.sum(0)
    expected = -(torch.log(clip[0]) + torch.log(1 - clip[1]))
    assert got[1].item() == pytest.approx(expected.item(), rel=1e-5)
    plain = binary_cross_entropy(logits, strong)
    assert torch.allclose(got[[0, 2]], plain[[0, 2]])


def test_weakly_labelled_recordings_train_with_strong_ones(soundscapes, tmp_path):
    import shutil

    from tympan.data.inspect import inspect
    from tympan.data.layouts import build
    from tympan.train import train

    data = tmp_path / "mixed"
    shutil.copytree(soundscapes, data)
    header, *rows = (data / "metadata" / "train.tsv").read_text().splitlines()
    names = sorted({r.split("\t")[0] for r in rows})
    weak = names[::2]  # every other training recording keeps its classes only
    (data / "metadata" / "train.tsv").write_text("\n".join([header, *(r for r in rows if r.split("\t")[0] not in weak)]))
    heard = {n: sorted({r.split("\t")[3] for r in rows if r.split("\t")[0] == n and r.split("\t")[3]}) for n in weak}
    (data / "metadata" / "train_weak.tsv").write_text(
        "filename\tevent_labels\n" + "".join(f"{n}\t{','.join(heard[n])}\n" for n in weak))

    manifest = build(data)
    by_name = {item.path.rsplit("/", 1)[-1]: item for item in manifest.items}
    assert all(by_name[n].events is None and list(by_name[n].labels) == heard[n] for n in weak)
    assert all(by_name[n].events is not None for n in names if n not in weak)
    assert inspect(manifest, decode=False)["events"]["weakly_labelled_recordings"] == len(weak)

    result = train(data, tmp_path / "run", sets=[*TINY, "train.epochs=2"], progress=False)
    assert all(np.isfinite(h["train_loss"]) for h in result["history"]) and result["test"]["n"] > 0
