"""The demo dataset's sounds: one synthesiser per class (``SYNTHESIZERS``) and the pieces they share:
harmonic tones read from a wavetable, envelopes, coloured noise, filters and a random EQ.

``tympan.data.synthetic`` sets an event over background noise in a clip and writes the dataset; a change to
any synthesiser here changes the dataset's bytes, so it bumps ``synthetic.VERSION``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.signal

_TABLE = 4096  # wavetable length: interpolation error stays 70 dB below even the 30th partial


def _harmonics(f0, amps, sr):
    """Partials ``k * f0`` (``f0`` in Hz, one value per sample) weighted by ``amps[k - 1]``."""
    k = np.arange(1, len(amps) + 1)
    # Partials above Nyquist would alias back as inharmonic noise, so leave them out.
    amps = np.where(k * np.max(f0) < 0.45 * sr, amps, 0.0)
    # One period in a table (the inverse FFT of the partials) read at the running phase: 100 partials
    # cost what one does.
    table = np.fft.irfft(np.concatenate([[0], -0.5j * _TABLE * amps]), _TABLE)
    table = np.append(table, table[0])
    return np.interp(np.cumsum(f0) * (_TABLE / sr) % _TABLE, np.arange(_TABLE + 1), table)


def linear_envelope(n, sr, attack, release):
    """Linear attack and release (in seconds) around a flat sustain."""
    t = np.arange(n) / sr
    return np.clip(np.minimum(t / attack, (n / sr - t) / release), 0.0, 1.0)


def coloured_noise(rng, n, slope):
    """Unit-variance noise with power falling as ``f ** -slope``: 0 white, 1 pink, 2 brown."""
    size = scipy.fft.next_fast_len(n, real=True)  # a prime length would make the FFT 10 times slower
    spectrum = np.fft.rfft(rng.standard_normal(size))
    spectrum *= np.maximum(np.arange(len(spectrum)), 1.0) ** (-slope / 2)
    y = np.fft.irfft(spectrum, size)[:n]
    return y / (y.std() + 1e-12)


def _filter(y, sr, kind, hz):
    """Second-order Butterworth filter: ``kind`` is ``"lowpass"``, ``"highpass"`` or ``"bandpass"``."""
    hz = np.minimum(hz, 0.45 * sr)  # bands chosen for 16 kHz, squeezed under Nyquist at lower rates
    if kind == "bandpass":
        hz[0] = min(hz[0], hz[1] / 1.5)
    return scipy.signal.sosfilt(scipy.signal.butter(2, hz, kind, fs=sr, output="sos"), y)


def random_eq(rng, y, sr):
    """A random spectral tilt and one broad boost or cut, as different microphones and rooms give."""
    size = scipy.fft.next_fast_len(len(y), real=True)
    f = np.maximum(np.fft.rfftfreq(size, 1 / sr), 20.0)
    octaves = np.log2(f / rng.uniform(300, 4000))
    gain_db = rng.uniform(-3, 3) * np.log2(f / 1000) + rng.uniform(-6, 6) * np.exp(
        -0.5 * (octaves / rng.uniform(0.5, 2)) ** 2)
    return np.fft.irfft(np.fft.rfft(y, size) * 10 ** (gain_db / 20), size)[: len(y)]


# One synthesiser per class: (rng, n samples, sr) -> the event, at any level.

def _tone_soft(rng, n, sr):
    # Flute-like: a few fast-falling partials, a slow attack, vibrato and a breath of noise.
    t = np.arange(n) / sr
    vibrato = rng.uniform(0.003, 0.02) * np.sin(2 * np.pi * rng.uniform(4, 7) * t + rng.uniform(0, 6.3))
    f0 = rng.uniform(250, 1000) * (1 + vibrato)
    amps = rng.uniform(0.1, 0.6) ** np.arange(rng.integers(2, 5))
    breath = rng.uniform(0.01, 0.08) * _filter(rng.standard_normal(n), sr, "bandpass", [1000, 6000])
    envelope = linear_envelope(n, sr, rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.3))
    return (_harmonics(f0, amps, sr) + breath) * envelope


def _tone_bright(rng, n, sr):
    # Brass or bowed string: many partials falling about as 1/k (a sawtooth), a quicker attack.
    t = np.arange(n) / sr
    f0 = rng.uniform(100, 700) * (1 + rng.uniform(0, 0.008) * np.sin(2 * np.pi * rng.uniform(4, 7) * t))
    k = np.arange(1, rng.integers(10, 31))
    amps = k ** -rng.uniform(0.7, 1.3) * rng.uniform(0.6, 1.0, len(k))
    return _harmonics(f0, amps, sr) * linear_envelope(n, sr, rng.uniform(0.01, 0.08), rng.uniform(0.03, 0.2))


def _chord(rng, n, sr, third):
    # Both chord classes share this code, so only the third (3 or 4 semitones) tells them apart.
    root = 110 * 2 ** rng.uniform(0, 2.5)
    semitones = np.array([0, third, 7])
    semitones[: rng.integers(0, 3)] += 12  # inversion: the lowest notes go up an octave
    amps = np.arange(1, rng.integers(3, 10)) ** -rng.uniform(0.8, 2.0)
    tone = sum(_harmonics(np.full(n, root * 2 ** (s / 12) * rng.uniform(0.998, 1.002)), amps, sr)
               for s in semitones)
    if rng.random() < 0.5:  # plucked or struck: an exponential decay; otherwise held like an organ
        return tone * np.exp(-np.arange(n) / (sr * rng.uniform(0.3, 1.5))) * linear_envelope(n, sr, 0.003, 0.05)
    return tone * linear_envelope(n, sr, rng.uniform(0.01, 0.1), rng.uniform(0.05, 0.3))


def _drums(rng, n, sr, bpm):
    # One kit per clip; a rock pattern on eighth notes, shifted and varied so no two bars are alike.
    t = np.arange(int(0.4 * sr)) / sr
    sweep = rng.uniform(40, 60) + rng.uniform(60, 120) * np.exp(-t / 0.03)  # a kick drops in pitch
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / sr) * np.exp(-t / rng.uniform(0.08, 0.25))
    rattle = _filter(rng.standard_normal(len(t)), sr, "bandpass", [1000, 7000])
    body = 0.5 * np.sin(2 * np.pi * rng.uniform(150, 250) * t)
    snare = (body + rattle) * np.exp(-t / rng.uniform(0.06, 0.15))
    hiss = _filter(rng.standard_normal(len(t)), sr, "highpass", rng.uniform(5000, 7000))
    hat = 0.4 * hiss * np.exp(-t / rng.uniform(0.015, 0.05))
    y = np.zeros(n + len(t))
    step, shift = 30 / bpm * sr, rng.integers(0, 8)
    for i in range(int(n / step) + 1):
        beat, at = (i + shift) % 8, int(i * step)
        hits = [hat] if rng.random() < 0.9 else []
        hits += [kick] if beat in (0, 4) or rng.random() < 0.12 else []
        hits += [snare] if beat in (2, 6) else []
        for sound in hits:
            y[at: at + len(t)] += rng.uniform(0.6, 1.0) * sound
    return y[:n]


def _birdsong(rng, n, sr):
    # A repeated motif of short chirps, each a frequency sweep with a trill on top, in 2-8 kHz.
    y = np.zeros(n)
    length = int(rng.uniform(0.03, 0.15) * sr)
    lo, hi = np.sort(rng.uniform(2000, 8000, 2))
    trill = rng.uniform(0, 0.1) * np.sin(2 * np.pi * rng.uniform(20, 80) * np.arange(length) / sr)
    for _ in range(rng.integers(2, 9)):
        sweep = np.linspace(*rng.permutation([lo, hi]), length) * (1 + trill) * rng.uniform(0.95, 1.05)
        at = rng.integers(0, max(1, n - length))
        chirp = _harmonics(np.minimum(sweep, 0.44 * sr), [1.0, rng.uniform(0, 0.3)], sr) * np.hanning(length)
        y[at: at + length] += rng.uniform(0.5, 1.0) * chirp[: n - at]
    return y


def _siren(rng, n, sr):
    # Emergency sirens: either a slow sinusoidal sweep (wail) or two alternating tones (hi-lo).
    t = np.arange(n) / sr
    lo = rng.uniform(500, 900)
    hi = rng.uniform(max(lo * 1.2, 1000), 1800)  # far enough apart to hear two tones
    cycle = np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t + rng.uniform(0, 6.3))
    shape = np.tanh(8 * cycle) if rng.random() < 0.5 else cycle
    f0 = lo + (hi - lo) * (shape + 1) / 2
    amps = np.arange(1, rng.integers(3, 7)) ** -rng.uniform(0.8, 1.5)
    return _harmonics(f0, amps, sr) * linear_envelope(n, sr, 0.05, 0.1)


def _engine(rng, n, sr):
    # A combustion engine: a low firing frequency rich in partials, throbbing, with mechanical noise.
    t = np.arange(n) / sr
    f0 = rng.uniform(30, 120) * (1 + rng.uniform(-0.2, 0.2) * t / t[-1])
    k = np.arange(1, int(3000 / f0.max()) + 1)
    amps = k ** -rng.uniform(0.5, 1.5) * np.where(k % 2, 1.0, rng.uniform(0.2, 1.0))
    throb = 1 + rng.uniform(0.2, 0.7) * np.sin(2 * np.pi * rng.uniform(2, 15) * t)
    rumble = rng.uniform(0.1, 0.5) * _filter(coloured_noise(rng, n, 1.0), sr, "lowpass", rng.uniform(300, 1500))
    return (_harmonics(f0, amps, sr) * throb / np.sqrt(len(k)) + rumble) * linear_envelope(n, sr, 0.1, 0.1)


def _rain(rng, n, sr):
    # Band-limited hiss of many far drops, plus loud near drops: clicks ringing at one resonance.
    band = [rng.uniform(200, 1000), rng.uniform(2000, 7000)]
    hiss = _filter(coloured_noise(rng, n, rng.uniform(0, 1)), sr, "bandpass", band)
    drops = np.zeros(n)
    count = rng.poisson(rng.uniform(10, 150) * n / sr)
    drops[rng.integers(0, n, count)] = rng.exponential(1.0, count) * rng.choice([-1, 1], count)
    centre = rng.uniform(1000, 6000)
    clicks = _filter(drops, sr, "bandpass", [centre / 1.3, centre * 1.3])
    return (hiss + rng.uniform(1, 5) * clicks) * linear_envelope(n, sr, 0.1, 0.1)


SYNTHESIZERS = {
    "tone_soft": _tone_soft, "tone_bright": _tone_bright,
    "chord_major": lambda rng, n, sr: _chord(rng, n, sr, third=4),
    "chord_minor": lambda rng, n, sr: _chord(rng, n, sr, third=3),
    "drums_slow": lambda rng, n, sr: _drums(rng, n, sr, bpm=rng.uniform(60, 95)),
    "drums_fast": lambda rng, n, sr: _drums(rng, n, sr, bpm=rng.uniform(130, 180)),
    "birdsong": _birdsong, "siren": _siren, "engine": _engine, "rain": _rain,
}
