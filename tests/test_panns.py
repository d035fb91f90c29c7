"""PANNs checkpoints as Tympan models (``tympan.nn.panns``, ``tympan.nn.pretrained``), checked without the real
weights: the reference implementations with random weights, saved as PANNs publish their checkpoints,
imported, and compared output for output; checkpoints checked name by name; and pickles that would run code
refused before anything runs. The references, on ``torchlibrosa``: ``panns_inference``'s model code (CNN14
and its decision-level variant), and PANNs' own ``models.py`` for every other family (CNN10, CNN6, the
MobileNets), as the ``frechet_audio_distance`` package ships it.

``panns_inference`` downloads its label file when imported unless ``~/panns_data/class_labels_indices.csv``
exists: the fixture points HOME at a folder holding Tympan's own copy, so nothing is fetched.
"""

import importlib.util
import json
import math
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import tympan
from tympan.cli import main
from tympan.errors import ModelFileError
from tympan.nn.classifier import Classifier
from tympan.nn.detector import EventDetector
from tympan.nn.panns import panns_frontend
from tympan.nn.summary import summary
from tympan.predict.embed import embed_files
from tympan.nn.pretrained import AUDIOSET_LABELS, audioset_classes, import_panns, read_panns

pytest.importorskip("torchlibrosa", reason="the PANNs reference (pip install panns-inference torchlibrosa)")

SR = 32000
# The PANNs paper's parameter counts (Kong et al. 2020, table of complexities), in millions
PUBLISHED = {"cnn14": 80.8, "cnn10": 5.2, "cnn6": 4.8, "mobilenetv1": 4.8, "mobilenetv2": 4.1}
# the layout PANNs' models.py gives each CNN: channels per block, kernel, convolutions per block, fc1 units
LAYOUT = {"cnn14": ((64, 128, 256, 512, 1024, 2048), 3, 2, 2048), "cnn10": ((64, 128, 256, 512), 3, 2, 512),
          "cnn6": ((64, 128, 256, 512), 5, 1, 512)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``panns_inference.models``, imported offline."""
    home = tmp_path_factory.mktemp("home")
    (home / "panns_data").mkdir()
    (home / "panns_data" / "class_labels_indices.csv").write_bytes(AUDIOSET_LABELS.read_bytes())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        models = pytest.importorskip("panns_inference.models")
    return models


@pytest.fixture(scope="module")
def original():
    """PANNs' own ``pytorch/models.py`` (audioset_tagging_cnn at d2f4b8c, every network of the paper), as
    ``frechet_audio_distance`` 0.3.4 ships it in ``models/pann.py``: identical but for one relative import.
    That package's own ``__init__`` imports CLAP, EnCodec and transformers, so it is installed with
    ``--no-deps`` (``make test`` does) and its ``models`` folder is imported alone, as a package of its own."""
    found = importlib.util.find_spec("frechet_audio_distance")
    if found is None:
        pytest.skip("PANNs' models.py: pip install --no-deps frechet-audio-distance==0.3.4")
    folder = Path(found.submodule_search_locations[0]) / "models"
    spec = importlib.util.spec_from_file_location("panns_original", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    package = sys.modules["panns_original"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    return importlib.import_module("panns_original.pann")


def _randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Batch norms far from their initial identity: scales, shifts and running statistics all random (bn0's
    on the scale of log-mel dB), so a name or axis mixed up cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g))
                m.bias.copy_(0.2 * torch.randn(n, generator=g))
                scale = 100.0 if name == "bn0" else 1.0
                m.running_mean.copy_((-20.0 if name == "bn0" else 0.0) + 0.1 * scale ** 0.5 * torch.randn(n, generator=g))
                m.running_var.copy_(scale * (0.5 + torch.rand(n, generator=g)))
                m.num_batches_tracked.fill_(1000)
    return model.eval()


def _waveform(sr=SR, seconds=1.0, seed=0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(round(sr * seconds))).astype(np.float32)


@pytest.fixture(scope="module")
def cnn14(reference, tmp_path_factory):
    """A random CNN14 and its checkpoint, saved as PANNs' training script saves them (the sampler's NumPy
    state included)."""
    torch.manual_seed(0)
    model = _randomise(reference.Cnn14(sample_rate=SR, window_size=1024, hop_size=320, mel_bins=64, fmin=50,
                                       fmax=14000, classes_num=527), seed=1)
    path = tmp_path_factory.mktemp("cnn14") / "Cnn14_mAP=0.431.pth"
    sampler = {"indexes_per_class": [np.arange(5), np.arange(3)], "queue": [1, 2], "pointers_of_classes": np.int64(3),
               "random_state": np.random.RandomState(0).get_state()}
    torch.save({"iteration": 660000, "model": model.state_dict(), "sampler": sampler}, path)
    return model, path


def test_cnn14_gives_the_references_scores_and_embedding(cnn14, tmp_path, capsys):
    reference, checkpoint = cnn14
    out = tmp_path / "cnn14.tympan"
    assert main(["import", "panns", str(checkpoint), "--out", str(out), "--clip-seconds", "1", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["parameters"] == sum(p.numel() for p in reference.parameters() if p.requires_grad) == 80_753_615
    assert said["embedding_size"] == 2048 and said["sr"] == SR

    model = tympan.load_model(out)
    assert model.classes == audioset_classes() and model.multi_label and model.sr == SR
    report = summary(model)  # what `tympan summary` prints: the published 80.8 M parameters
    assert report["total_parameters"] == 80_753_615 and report["trainable_parameters"] == 80_753_615
    assert sum(r["weights"] + r["biases"] for r in report["layers"]) == 80_753_615
    y = _waveform()
    with torch.no_grad():
        expected = reference(torch.from_numpy(y)[None])
    scores = model.predict(y, sr=SR)
    assert scores.shape == (527,)
    assert 0.05 < scores.min() and scores.max() < 0.95  # not saturated: the comparison means something
    assert np.abs(scores - expected["clipwise_output"][0].numpy()).max() < 1e-4
    with torch.no_grad():
        embedding = model.embed(torch.from_numpy(y)[None])[0]
    assert embedding.shape == (2048,)
    assert (embedding - expected["embedding"][0]).abs().max() < 1e-4

    # what `tympan embed` writes for a file: the same vector
    sf.write(tmp_path / "clip.wav", y, SR, subtype="FLOAT")
    matrix, _, bad = embed_files(model, [tmp_path / "clip.wav"])
    assert not bad and np.abs(matrix[0] - expected["embedding"][0].numpy()).max() < 1e-4


def test_the_decision_level_variant_scores_every_frame_as_the_reference(reference, cnn14):
    """Cnn14_DecisionLevelMax has CNN14's tensors; imported, it is an events model whose frames are
    PANNs' segments (32 of its 10-ms frames each) and whose clip score is the best frame's."""
    source, checkpoint = cnn14
    sed = reference.Cnn14_DecisionLevelMax(sample_rate=SR, window_size=1024, hop_size=320, mel_bins=64, fmin=50,
                                           fmax=14000, classes_num=527)
    sed.load_state_dict(source.state_dict())
    sed.eval()
    model = read_panns(checkpoint, arch="cnn14_decisionlevelmax")  # the file round trip is tested above
    assert isinstance(model, EventDetector) and model.frame_seconds == pytest.approx(0.32)
    y = torch.from_numpy(_waveform())[None]
    with torch.no_grad():
        expected = sed(y)
        frames = torch.sigmoid(model(y))[0]
    assert frames.shape == (3, 527)  # 101 frames pooled 32-fold, the remainder dropped
    # PANNs repeat each segment over its 32 frames, and the last one over the frames left over
    assert (frames - expected["framewise_output"][0, :3 * 32:32]).abs().max() < 1e-4
    assert (frames.amax(dim=0) - expected["clipwise_output"][0]).abs().max() < 1e-4


# PANNs' class, --arch, sample rate: each family but CNN14 (against panns_inference, above), CNN6 at 16 kHz
ORIGINAL = [("Cnn10", "cnn10", 32000), ("Cnn6", "cnn6", 16000), ("MobileNetV1", "mobilenetv1", 32000),
            ("MobileNetV2", "mobilenetv2", 32000)]


@pytest.mark.parametrize("name, arch, sr", ORIGINAL)
def test_each_family_gives_the_original_codes_scores_and_embedding(original, tmp_path, capsys, name, arch, sr):
    """The MobileNets pool before their batch norms, add residuals and cap at 6 (V2): any of it misplaced
    changes the scores."""
    torch.manual_seed(0)
    reference = _randomise(getattr(original, name)(sample_rate=sr, window_size=1024 * sr // SR,
                                                   hop_size=320 * sr // SR, mel_bins=64, fmin=50,
                                                   fmax=min(14000, sr // 2), classes_num=527), seed=1)
    checkpoint, out = tmp_path / f"{name}.pth", tmp_path / f"{arch}.tympan"
    torch.save({"iteration": 1, "model": reference.state_dict()}, checkpoint)
    assert main(["import", "panns", str(checkpoint), "--out", str(out), "--arch", arch, "--clip-seconds", "1",
                 "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    parameters = sum(p.numel() for p in reference.parameters() if p.requires_grad)
    assert said["parameters"] == parameters and said["sr"] == sr
    model = tympan.load_model(out)
    assert summary(model)["total_parameters"] == parameters  # what `tympan summary` counts
    y = _waveform(sr)
    with torch.no_grad():
        expected = reference(torch.from_numpy(y)[None])
        embedding = model.embed(torch.from_numpy(y)[None])[0]
    scores = model.predict(y, sr=sr)
    assert scores.shape == (527,) and 0.05 < scores.min() and scores.max() < 0.95
    assert np.abs(scores - expected["clipwise_output"][0].numpy()).max() < 1e-4
    assert (embedding - expected["embedding"][0]).abs().max() < 1e-4
    if arch.startswith("mobilenet"):  # fine-tuning: the batch norms take batch statistics where PANNs' do
        body = torch.nn.Sequential(*(getattr(model.network.layers, f"features_{i}")
                                     for i in range(len(reference.features))))
        x = torch.randn(2, 1, 64, 48, dtype=torch.float64)  # (batch, 1, frames, bins) in PANNs' layout
        reference.double().train(), body.double().train()
        torch.testing.assert_close(body(x.transpose(2, 3)), reference.features(x).transpose(2, 3))


@pytest.mark.parametrize("sr, fmax", [(32000, 14000), (16000, 8000), (8000, 4000)])
def test_the_frontend_is_the_references_at_each_sample_rate(sr, fmax):
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    frontend = panns_frontend(sr)
    n_fft, hop = frontend["n_fft"], frontend["hop_length"]
    assert (n_fft, hop) == (1024 * sr // SR, 320 * sr // SR) and frontend["fmax"] == fmax
    stft = Spectrogram(n_fft=n_fft, hop_length=hop, win_length=n_fft, window="hann", center=True, pad_mode="reflect")
    mel = LogmelFilterBank(sr=sr, n_fft=n_fft, n_mels=64, fmin=50, fmax=fmax, ref=1.0, amin=1e-10, top_db=None)
    y = torch.from_numpy(_waveform(sr))[None]
    with torch.no_grad():
        expected = mel(stft(y))[0, 0].T  # PANNs: (time, mel); Tympan: (bins, frames)
        ours = tympan.frontend.build_frontend(frontend)[0](y)[0]
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max() < 1e-3  # dB


def test_gradients_reach_every_parameter_through_the_panns_layers():
    """Training mode (fine-tuning): bn0 on the mel bands, pooling that drops a left-over frame, the mean over
    frequency, frame smoothing, all differentiable."""
    network = {"kind": "panns_cnn6", "frame_smoothing": True}
    model = Classifier(panns_frontend(8000), network, classes=list("abc"), clip_seconds=0.5, seed=0).train()
    logits = model(torch.randn(2, 4000))
    torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.eye(3)[:2]).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def _panns_state(arch: str, seed: int = 0, frontend_from=None) -> dict:
    """A checkpoint's tensors as PANNs' models.py names and shapes them, from the family's published layout;
    ``frontend_from``: PANNs' fixed front-end tensors, from torchlibrosa at that sample rate."""
    channels, kernel, convs, units = LAYOUT[arch]
    g = torch.Generator().manual_seed(seed)
    state = {}

    def batch_norm(name, n):
        state.update({f"{name}.weight": 1 + 0.1 * torch.randn(n, generator=g), f"{name}.bias": 0.1 * torch.randn(n, generator=g),
                      f"{name}.running_mean": torch.randn(n, generator=g), f"{name}.running_var": 1 + torch.rand(n, generator=g),
                      f"{name}.num_batches_tracked": torch.tensor(7)})

    batch_norm("bn0", 64)
    inputs = 1
    for block, c in enumerate(channels, 1):
        for n in range(1, convs + 1):
            fan_in = (inputs if n == 1 else c) * kernel * kernel
            state[f"conv_block{block}.conv{n}.weight"] = torch.randn(c, fan_in // kernel ** 2, kernel, kernel,
                                                                      generator=g) * math.sqrt(2 / fan_in)
            batch_norm(f"conv_block{block}.bn{n}", c)
        inputs = c
    state.update({"fc1.weight": torch.randn(units, inputs, generator=g) / math.sqrt(inputs), "fc1.bias": torch.zeros(units),
                  "fc_audioset.weight": torch.randn(527, units, generator=g) / math.sqrt(units),
                  "fc_audioset.bias": torch.zeros(527)})
    if frontend_from:
        from torchlibrosa.stft import LogmelFilterBank, Spectrogram

        f = panns_frontend(frontend_from)
        stft = Spectrogram(n_fft=f["n_fft"], hop_length=f["hop_length"], win_length=f["n_fft"])
        mel = LogmelFilterBank(sr=frontend_from, n_fft=f["n_fft"], n_mels=64, fmin=50, fmax=f["fmax"], top_db=None)
        state.update({f"spectrogram_extractor.{k}": v for k, v in stft.state_dict().items()})
        state.update({f"logmel_extractor.{k}": v for k, v in mel.state_dict().items()})
    return state


@pytest.mark.parametrize("arch", list(PUBLISHED))
def test_each_family_has_the_published_parameter_count(arch):
    model = Classifier(panns_frontend(), f"panns_{arch}", audioset_classes(), 1.0, True)
    parameters = sum(p.numel() for p in model.parameters())
    assert round(parameters / 1e6, 1) == PUBLISHED[arch]
    if arch in ("cnn10", "cnn6"):  # also from PANNs' published layout, without the reference code
        state = _panns_state(arch)
        assert parameters == sum(t.numel() for name, t in state.items() if "running" not in name
                                 and "num_batches" not in name)


def test_a_16k_cnn6_is_read_at_its_rate_from_a_bare_state_dict(tmp_path):
    checkpoint = tmp_path / "Cnn6_16k.pth"
    torch.save(_panns_state("cnn6", frontend_from=16000), checkpoint)  # a bare state dict, no {'model': ...}
    model = import_panns(checkpoint, tmp_path / "cnn6.tympan", arch="cnn6")
    assert model.sr == 16000 and model.frontend_config["fmax"] == 8000
    loaded = tympan.load_model(tmp_path / "cnn6.tympan")
    assert loaded.network.embedding_size == 512
    assert loaded.provenance["imported"]["architecture"] == "cnn6"
    y = _waveform(16000)
    np.testing.assert_allclose(loaded.predict(y, sr=16000), model.predict(y, sr=16000), atol=1e-6)
    # told the wrong rate, the mel filters say so
    with pytest.raises(ModelFileError, match=r"mel filters \[257, 64\].*32000 Hz.*--sr"):
        import_panns(checkpoint, tmp_path / "wrong.tympan", arch="cnn6", sr=32000)


def test_a_checkpoint_of_another_architecture_is_named_by_its_first_difference(tmp_path):
    checkpoint = tmp_path / "Cnn10.pth"
    torch.save({"model": _panns_state("cnn10")}, checkpoint)
    with pytest.raises(ModelFileError, match=r"Cnn10\.pth: not a PANNs cnn14 checkpoint: it lacks "
                                             r"conv_block5\.conv1\.weight"):
        import_panns(checkpoint, tmp_path / "m.tympan", arch="cnn14")
    with pytest.raises(ModelFileError, match=r"not a PANNs cnn6 checkpoint: it has conv_block1\.conv2\.weight"):
        import_panns(checkpoint, tmp_path / "m.tympan", arch="cnn6")
    state = _panns_state("cnn10")
    state["conv_block2.conv1.weight"] = state["conv_block2.conv1.weight"][:, :32]
    torch.save({"model": state}, checkpoint)
    with pytest.raises(ModelFileError, match=r"conv_block2\.conv1\.weight has shape \[128, 32, 3, 3\], cnn10 has "
                                             r"\[128, 64, 3, 3\]"):
        import_panns(checkpoint, tmp_path / "m.tympan", arch="cnn10")
    assert not (tmp_path / "m.tympan").exists()


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: the file appears if any code in the pickle runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on a plain pickle's protocol
@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(tmp_path, capsys, writer):
    marker, checkpoint = tmp_path / "ran", tmp_path / "evil.pth"
    payload = {"model": {"fc1.weight": torch.zeros(2)}, "extra": _RunsCode(marker)}
    if writer == "torch.save":
        torch.save(payload, checkpoint)
    else:
        checkpoint.write_bytes(pickle.dumps(payload))
    assert not marker.exists()
    with pytest.raises(ModelFileError, match=r"evil\.pth: refused: loading this checkpoint would run code"):
        import_panns(checkpoint, tmp_path / "m.tympan")
    assert main(["import", "panns", str(checkpoint), "--out", str(tmp_path / "m.tympan")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "m.tympan").exists()


def test_damaged_and_foreign_files_are_named(tmp_path):
    checkpoint = tmp_path / "cut.pth"
    torch.save({"model": _panns_state("cnn6")}, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:4000])
    with pytest.raises(ModelFileError, match=r"cut\.pth: damaged or not a torch checkpoint"):
        import_panns(checkpoint, tmp_path / "m.tympan", arch="cnn6")
    torch.save({"model": {"weights": [1, 2, 3]}}, checkpoint)
    with pytest.raises(ModelFileError, match=r"cut\.pth: neither a state dict"):
        import_panns(checkpoint, tmp_path / "m.tympan", arch="cnn6")
    with pytest.raises(ModelFileError, match=r"nothing\.pth: no such checkpoint"):
        import_panns(tmp_path / "nothing.pth", tmp_path / "m.tympan")
    assert os.listdir(tmp_path) == ["cut.pth"]


@pytest.fixture(scope="module")
def cnn6_16k(tmp_path_factory):
    """A random 16 kHz CNN6, imported: the cheapest PANN, for the transfer path (the same for every family)."""
    folder = tmp_path_factory.mktemp("cnn6")
    torch.save({"model": _panns_state("cnn6", seed=3, frontend_from=16000)}, folder / "Cnn6_16k.pth")
    import_panns(folder / "Cnn6_16k.pth", folder / "cnn6.tympan", arch="cnn6")
    return folder / "cnn6.tympan"


def test_a_frozen_panns_backbone_takes_a_logistic_head_on_digits(cnn6_16k, fsdd_dir, tmp_path):
    """FSDD's 8-kHz digits, resampled to the PANN's 16 kHz: the backbone kept (its batch statistics
    re-estimated), a logistic regression on its 512-value embeddings as the output layer, and the model file
    a PANN with the new classes."""
    from tympan.train.run import train

    rows = ["path,label,split,group"]
    for digit in "01":
        for speaker in ("george", "jackson", "lucas"):
            rows += [f"{fsdd_dir / 'recordings' / f'{digit}_{speaker}_{i}.wav'},{digit},"
                     f"{'test' if i == 0 else 'train'},{speaker}" for i in range(3)]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    result = train(tmp_path / "data.csv", tmp_path / "run", progress=False,
                   sets=["data.clip_seconds=1.0", f"transfer.init_from={cnn6_16k}", "transfer.freeze=backbone",
                         "transfer.head=logistic"])
    assert result["head"]["embedding_size"] == 512 and result["config"]["network"]["kind"] == "panns_cnn6"
    model = tympan.load_model(tmp_path / "run" / "model.tympan")
    assert model.classes == ["0", "1"] and model.sr == 16000
    source = tympan.load_model(cnn6_16k)
    kept = [name for name in source.state_dict() if name.startswith("network.layers.conv_block")]
    changed = [n for n in kept if not torch.equal(source.state_dict()[n], model.state_dict()[n])]
    assert changed and all("running" in n or "num_batches" in n for n in changed)  # batch statistics: AdaBN


def test_a_panns_backbone_starts_an_events_model_with_per_frame_layers(cnn6_16k):
    """The clip PANN's layers up to its pooling over time, then fc1 and a new output layer on every frame."""
    from tympan.train.transfer import copy_backbone

    source = tympan.load_model(cnn6_16k)
    events = EventDetector(source.frontend_config, source.network_spec, ["dog", "car"], clip_seconds=4.0)
    copy_backbone(source, events)
    assert events.frame_seconds == pytest.approx(0.16)  # four 2x2 pools of 10-ms frames
    torch.testing.assert_close(events.state_dict()["network.layers.fc1.linear.weight"],
                               source.state_dict()["network.layers.fc1.linear.weight"])
    assert events(torch.zeros(1, 64000)).shape == (1, 25, 2)
