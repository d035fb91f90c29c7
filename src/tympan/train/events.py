"""Training on events in time: recordings with their strong labels, cut into clip-long crops whose frame
targets are cut to match, and the DCASE scores of an ``EventDetector`` on whole recordings.

Targets are the events rasterised to the model's frames: a frame is active for a class when an event of it
overlaps the frame (as the DCASE baseline's encoder does). A recording with weak labels only (the classes
heard, not when) has ``WEAK`` + its clip labels in every frame: the loss (``losses.binary_cross_entropy``)
then scores the clip's score pooled from its frames. Weak recordings are not scored as events (they have no
times to score against). Every random choice of an epoch comes from a generator seeded with
``(seed, epoch)``, as for clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.manifest import Manifest
from .data import ClipSet
from .losses import WEAK


def rasterise(events, classes, n_frames: int, frame_seconds: float, start: float = 0.0) -> np.ndarray:
    """0/1 targets ``(n_frames, classes)`` of ``events`` for frames of ``frame_seconds`` from ``start`` s:
    frames from the one holding the onset to the one holding the offset are active.

    Examples
    --------
    >>> from tympan.data.events import Event
    >>> rasterise([Event(0.25, 0.5, "dog")], ["dog"], 6, 0.1)[:, 0]
    array([0., 0., 1., 1., 1., 0.], dtype=float32)
    """
    index = {label: i for i, label in enumerate(classes)}
    targets = np.zeros((n_frames, len(classes)), dtype=np.float32)
    for onset, offset, label in events:
        first = max(0, math.floor(round((onset - start) / frame_seconds, 6)))
        end = min(n_frames, math.ceil(round((offset - start) / frame_seconds, 6)))
        if end > first and label in index:
            targets[first:end, index[label]] = 1.0
    return targets


@dataclass
class EventSet(ClipSet):
    """A ``ClipSet`` of recordings with their events; ``targets`` are the weak labels (0/1 rows), and its
    batches (``ClipSet.batches``) give frame targets ``(batch, frames, classes)`` cut to each crop."""

    events: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    frame_samples: int = 1
    sr: int = 16000
    n_frames: int = 1

    def __add__(self, other: "EventSet") -> "EventSet":
        joined = ClipSet.__add__(self, other)
        return EventSet(joined.audio, joined.targets, joined.paths, joined.groups, self.events + other.events,
                        self.classes, self.frame_samples, self.sr, self.n_frames)

    def crop_start(self, n_samples: int, clip_samples: int, offset: float) -> int:
        """Crops start on the frame grid, so targets and frames line up exactly."""
        starts = max(0, n_samples - clip_samples) // self.frame_samples
        return int(offset * (starts + 1)) * self.frame_samples

    def batch_targets(self, rows, starts) -> torch.Tensor:
        """Each crop's events rasterised to the model's frames ``(batch, frames, classes)``; a weakly
        labelled recording's rows are ``WEAK`` + its clip labels."""
        frame_seconds = self.frame_samples / self.sr
        return torch.from_numpy(np.stack([
            np.broadcast_to(WEAK + self.targets[i], (self.n_frames, len(self.classes))).astype(np.float32)
            if self.events[i] is None else
            rasterise(self.events[i], self.classes, self.n_frames, frame_seconds, start / self.sr)
            for i, start in zip(rows, starts)]))

    def strong(self) -> "EventSet":
        """The recordings with events in time (the ones that can be scored as events)."""
        keep = [i for i, events in enumerate(self.events) if events is not None]
        return EventSet([self.audio[i] for i in keep], self.targets[keep], [self.paths[i] for i in keep],
                        [self.groups[i] for i in keep], [self.events[i] for i in keep], self.classes,
                        self.frame_samples, self.sr, self.n_frames)


def event_sets(clips: dict[str, ClipSet], manifest: Manifest, model) -> dict[str, EventSet]:
    """The ``ClipSet``s of a split made ``EventSet``s, each recording with its events from ``manifest``."""
    events = {item.path: item.events for item in manifest.items}
    return {name: EventSet(c.audio, c.targets, c.paths, c.groups, [events[p] for p in c.paths], list(model.classes),
                           model.frame_samples, model.sr, model.network.out_shape[0]) for name, c in clips.items()}


def evaluate_events(model, recordings: EventSet, post=None, with_psds: bool = True) -> dict | None:
    """DCASE scores of an ``EventDetector`` on whole recordings: event-based (200 ms onset collar, offset
    collar the larger of 200 ms and 20% of the event) and segment-based (1-s segments) F-score, precision,
    recall and error rate, micro and per class, with the model's post-processing; PSDS in DCASE's
    scenarios 1 and 2 from the frame scores (every threshold); the frame loss; ``None`` for no recordings."""
    from ..nn.detector import decode
    from .event_metrics import event_based, segment_based

    recordings = recordings.strong()
    if len(recordings) == 0:
        return None
    from .psds import SCENARIO_1, SCENARIO_2, psds

    reference, estimated, durations, losses, frames = [], [], {}, [], {}
    for y, path, events in zip(recordings.audio, recordings.paths, recordings.events):
        scores = model.frame_scores(y)
        frames[path] = (scores, model.frame_seconds)
        truth = rasterise(events, model.classes, len(scores), model.frame_seconds)
        p = np.clip(scores.astype(np.float64), 1e-7, 1 - 1e-7)
        losses.append(float(-(truth * np.log(p) + (1 - truth) * np.log(1 - p)).sum(axis=1).mean()))
        reference += [(path, *e) for e in events]
        estimated += [(path, *e) for e in decode(scores, model.frame_seconds, model.classes, post or model.postprocess)]
        durations[path] = len(y) / model.sr
    files = list(durations)
    by_event = event_based(reference, estimated, model.classes, files=files)
    by_segment = segment_based(reference, estimated, model.classes, files=files)
    result = {"event_f1": by_event["f_measure"], "event_error_rate": by_event["error_rate"],
              "event_precision": by_event["precision"], "event_recall": by_event["recall"],
              "event_macro_f1": by_event["macro_f_measure"],
              "segment_f1": by_segment["f_measure"], "segment_error_rate": by_segment["error_rate"],
              "segment_macro_f1": by_segment["macro_f_measure"],
              **({"psds1": psds(frames, reference, durations, model.classes, **SCENARIO_1),
                  "psds2": psds(frames, reference, durations, model.classes, **SCENARIO_2)} if with_psds else {}),
              "loss": float(np.mean(losses)), "n": len(recordings),
              "per_class": {label: {"event_f1": by_event["class_wise"][label]["f_measure"],
                                    "segment_f1": by_segment["class_wise"][label]["f_measure"],
                                    "n_events": by_event["class_wise"][label]["n_ref"]} for label in model.classes},
              "events": {"reference": len(reference), "detected": len(estimated)}}
    return _no_nan(result)


def _no_nan(value):
    """sed_eval's NaN (an F-score with no detections, or no events) as 0: JSON has no NaN, and a class never
    detected scores nothing."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    return 0.0 if isinstance(value, float) and math.isnan(value) else value


def plot_timelines(model, recordings: EventSet, out_dir, n: int = 3) -> dict:
    """Timelines of the first ``n`` recordings, annotated events above detected ones over the log-mel, as
    PNG files in ``out_dir``: ``{caption: path}``."""
    from pathlib import Path

    from ..display import plot_timeline, save_figure
    from ..nn.detector import decode

    rows = lambda events: [{"start": e.onset, "end": e.offset, "label": e.label} for e in events]  # noqa: E731
    recordings, written = recordings.strong(), {}
    for number, (y, path, events) in enumerate(zip(recordings.audio[:n], recordings.paths, recordings.events)):
        detected = decode(model.frame_scores(y), model.frame_seconds, model.classes, model.postprocess)
        figure = plot_timeline(path, rows(detected), sr=model.sr, reference=rows(events),
                               title=f"{Path(path).name}: annotated and detected events")
        written[f"timeline of {Path(path).name}"] = save_figure(figure, Path(out_dir) / f"timeline_{number}.png")
    return written


THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
LOW_THRESHOLDS = (0.1, 0.2, 0.3)  # those below a threshold, for hysteresis; one threshold alone is tried too
MEDIAN_SECONDS = (0.0, 0.1, 0.25, 0.5)


def tune_postprocess(model, recordings: EventSet, thresholds=THRESHOLDS, medians=MEDIAN_SECONDS, lows=LOW_THRESHOLDS):
    """The threshold, low threshold (hysteresis) and median filter of each class that give its best
    event-based F-score on ``recordings`` (a class's F-score depends on its own events only, so each is tuned
    alone; a class whose settings nothing beats keeps them), the other settings kept:
    ``(PostProcess, {class: {"threshold", "low_threshold", "median_seconds", "event_f1"}})``; a class
    without hysteresis has its low threshold equal to its threshold."""
    from dataclasses import replace

    from ..nn.detector import decode
    from .event_metrics import event_based

    recordings = recordings.strong()
    scores = [model.frame_scores(y) for y in recordings.audio]
    files = list(recordings.paths)
    n = len(model.classes)
    post = model.postprocess
    current = (post.per_class("threshold", n), post.low_thresholds(n), post.per_class("median_seconds", n))
    chosen = {}
    for c, label in enumerate(model.classes):
        reference = [(p, *e) for p, events in zip(files, recordings.events) for e in events if e.label == label]

        def f_score(threshold, low, median):
            one = replace(post, threshold=threshold, low_threshold=low, median_seconds=median)
            estimated = [(p, *e) for p, s in zip(files, scores)
                         for e in decode(s[:, [c]], model.frame_seconds, [label], _one(one, c))]
            f = event_based(reference, estimated, [label], files=files)["f_measure"]
            return -1.0 if math.isnan(f) else f

        # the settings the model has stay unless another does strictly better
        kept = tuple(float(v[c]) for v in current)
        best = (f_score(*kept), *kept)
        for threshold in thresholds:
            for low in [threshold, *(low for low in lows if low < threshold)]:
                for median in medians:
                    f = f_score(threshold, low, median)
                    if f > best[0]:
                        best = (f, threshold, low, median)
        chosen[label] = {"threshold": best[1], "low_threshold": best[2], "median_seconds": best[3],
                         "event_f1": max(0.0, best[0])}
    post = replace(post, **{name: [chosen[c][name] for c in model.classes]
                            for name in ("threshold", "low_threshold", "median_seconds")})
    return post, chosen


def _one(post, c: int):
    """``post`` for class ``c`` alone (per-class lists cut to its value)."""
    from dataclasses import fields, replace

    return replace(post, **{f.name: [getattr(post, f.name)[c]] for f in fields(post)
                            if isinstance(getattr(post, f.name), (list, tuple))})
