"""Every network kind with its default spec: parameters, MACs, and time for a batch of 1-second clips.

Each model is the whole thing a model file holds: front-end (log-mel at 16 kHz, 64 bands, 10 ms hops; the
raw waveform for ``cnn1d``), normalisation and network, 10 classes. Times are the best of ``--repeat``
runs of one batch of ``--batch`` clips of 1 s: inference (eval mode, no gradients) and a training step
(forward, cross-entropy, backward). The reference row is the front-end alone, the floor every model pays.

    python benchmarks/models.py [--batch 32] [--repeat 5] [--threads 2]
"""

import argparse
import timeit

import torch

from tympan.nn import MODELS
from tympan.nn.classifier import Classifier
from tympan.nn.summary import summary


def best_of(repeat, fn):
    """Seconds per call: timeit's autorange picks calls per run (at least 0.2 s), best of ``repeat`` runs."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()  # also the warm-up: first calls allocate memory and start threads
    return min(timer.repeat(repeat, number)) / number


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32, help="clips per batch")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per model (best is kept)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    y = torch.randn(args.batch, 16000)
    targets = torch.randint(0, 10, (args.batch,))
    classes = [f"class_{i}" for i in range(10)]

    print(f"batch of {args.batch} clips of 1 s at 16 kHz, {args.threads} CPU threads, torch {torch.__version__}")
    print(f"{'model':<12}{'parameters':>12}{'MACs/clip':>12}{'inference':>12}{'train step':>12}{'vs front-end':>14}")
    frontend = Classifier(None, "perceptron", classes).eval()
    with torch.no_grad():
        floor = best_of(args.repeat, lambda: frontend.features(y))
    print(f"{'(front-end)':<12}{'':>12}{'':>12}{floor * 1000:>10.1f}ms{'':>12}{'1.0x':>14}")
    for kind in [k for k in MODELS if k != "layers"]:
        model = Classifier({"kind": "waveform", "sr": 16000} if kind == "cnn1d" else None, kind, classes, seed=0)
        s = summary(model)
        model.eval()
        with torch.no_grad():
            inference = best_of(args.repeat, lambda: model(y))
        model.train()

        def step():
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(y), targets).backward()

        train = best_of(args.repeat, step)
        print(f"{kind:<12}{s['total_parameters']:>12,}{s['total_macs'] / 1e6:>11.1f}M{inference * 1000:>10.1f}ms"
              f"{train * 1000:>10.1f}ms{inference / floor:>13.1f}x")


if __name__ == "__main__":
    main()
