"""Conventional against deep: the MFCC + SVM pipeline and a CNN on the demo data as the training set grows,
through ``tympan compare``'s learning-curve mode, to show where deep learning overtakes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..errors import TympanError
from ..train.compare import FRACTIONS
from .common import rounded, save, single_threaded
from .convolution import CLIP_SECONDS, FRONTEND, SR

SVM, CNN_LABEL = "MFCC + SVM", "CNN"  # the approaches' labels in the table and the plot


def _cnn_config(seed: int) -> str:
    """The small CNN's configuration file (JSON, which YAML reads): the demo data at the other audio
    lessons' 8 kHz, so four trainings and four baselines fit in two minutes. Batch norm's statistics come
    from the training batches (precise_bn off): recomputing them after each epoch was a fifth of the time."""
    return json.dumps({"data": {"clip_seconds": CLIP_SECONDS}, "frontend": FRONTEND,
                       "network": {"kind": "cnn", "channels": [16, 32, 64], "dropout": 0.1},
                       "train": {"optimizer": "adam", "learning_rate": 0.003, "batch_size": 32, "epochs": 15,
                                 "schedule": "cosine", "warmup_epochs": 1, "early_stopping": 0,
                                 "precise_bn": False, "seed": seed}})


def _every_run(result: dict, runs=None) -> dict:
    """``compare``'s rows by ``(approach, fraction)``; a ``TympanError`` naming each run that failed, since
    the lesson compares every size of both approaches (``runs``: the folder of the runs, when kept).

    Examples
    --------
    >>> _every_run({"rows": [{"approach": "CNN", "fraction": 0.1, "accuracy": 0.5}], "failed": []})
    {('CNN', 0.1): {'approach': 'CNN', 'fraction': 0.1, 'accuracy': 0.5}}
    """
    failed = result["failed"]
    if failed:
        listing = "\n".join(f"  {f['approach']} on {f['fraction']:.0%} of the training split: {f['error']}"
                            for f in failed)
        where = f"; the runs are in {runs}" if runs is not None else ""
        raise TympanError(f"conventional-vs-deep: {len(failed)} of {len(result['rows'])} training runs failed, "
                          f"so the approaches cannot be compared at every size{where}:\n{listing}")
    return {(r["approach"], r["fraction"]): r for r in result["rows"]}


@single_threaded
def conventional_vs_deep(out=None, seed: int = 0, n_per_class: int = 60) -> dict:
    """MFCC statistics into an RBF SVM (``tympan baseline``) against a small CNN (``tympan train``), each
    trained on 10%, 25%, 50% and all of the demo data's training split (``n_per_class`` clips of each of
    its 10 classes, 8 kHz), scored on the same test split: ``tympan compare --learning-curve``.

    The lecture's claim: conventional features and a shallow classifier do well with little data, and deep
    learning overtakes them as the data grows (the notes put the crossing around a thousand examples).

    Returns
    -------
    dict
        ``{"sizes": [n_train per fraction], "baseline": [accuracy...], "cnn": [accuracy...], "crossover":
        the smallest size from which the CNN stays ahead (None if it never is), "verdict", "holds", "plot"}``;
        ``holds``: the CNN is ahead at the largest size, and its lead grows from the smallest size to it.
    """
    from ..train.compare import compare, plot_learning_curve
    from ..data.synthetic import make_demo

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_demo(tmp / "data", n_per_class=n_per_class, sr=SR, seed=seed)
        (tmp / "cnn.yaml").write_text(_cnn_config(seed))
        runs = Path(out) / "runs" if out is not None else tmp / "runs"
        result = compare(data, runs, [f"{SVM}=baseline", f"{CNN_LABEL}={tmp / 'cnn.yaml'}"], layout="folder",
                         sets=[f"train.seed={seed}"], fractions=FRACTIONS, progress=False)
    rows = _every_run(result, runs if out is not None else None)
    sizes = [rows[CNN_LABEL, f]["n_train"] for f in FRACTIONS]
    baseline = [rows[SVM, f]["accuracy"] for f in FRACTIONS]
    cnn = [rows[CNN_LABEL, f]["accuracy"] for f in FRACTIONS]
    lead = np.subtract(cnn, baseline)
    ahead = [i for i in range(len(FRACTIONS)) if (lead[i:] > 0).all()]
    crossover = sizes[ahead[0]] if ahead else None
    holds = bool(lead[-1] > 0 and lead[-1] > lead[0])
    verdict = (f"with {sizes[0]} training clips MFCC + SVM scores {baseline[0]:.1%} and the CNN {cnn[0]:.1%}; "
               f"with {sizes[-1]}, {baseline[-1]:.1%} and {cnn[-1]:.1%}: "
               + (f"the CNN is ahead from {crossover} clips on" if crossover else "the CNN never stays ahead"))
    plot = save(plot_learning_curve(result["rows"]), out, "conventional-vs-deep")
    return rounded({"sizes": sizes, "baseline": baseline, "cnn": cnn, "crossover": crossover,
                    "verdict": verdict, "holds": holds, "plot": plot})
