"""Small copies of real dataset layouts: the metadata formats exactly as shipped, the audio generated.

Each ``make_*`` writes one tree under ``root`` and returns the folder (or CSV file) to build from.
Audio is 0.2 s of sine or noise at 8 kHz, so a whole fixture takes milliseconds to write.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 8000
SECONDS = 0.2


def write_audio(path, freq=440.0, noise=False, fmt=None):
    """A short sine (or white noise) via soundfile; the format follows the extension unless ``fmt``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SECONDS * SR)) / SR
    y = (np.random.default_rng(int(freq)).uniform(-0.3, 0.3, t.size) if noise
         else 0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(str(path), y, SR, format=fmt, subtype="PCM_16")
    return path


def make_folder(root: Path) -> Path:
    """``root/<class>/**`` with a nested file, sidecars, a hidden file, a fake .wav and a stray root file."""
    for cls, n in (("dog", 2), ("bird", 3), ("cat", 1)):
        for i in range(n):
            write_audio(root / cls / f"{cls}_{i}.wav", freq=200 + 100 * i)
    write_audio(root / "cat" / "indoor" / "cat_deep.flac")
    (root / "bird" / "notes.txt").write_text("recorded in the garden\n")
    (root / "bird" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / ".cache").mkdir()
    write_audio(root / ".cache" / "hidden.wav")
    (root / "dog" / "broken.wav").write_text("not audio at all\n")  # decoding reports it later
    (root / "dog" / "blob.bin").write_bytes(b"\x00" * 64)
    (root / "empty_folder").mkdir()
    write_audio(root / "stray.wav")
    (root / "README.md").write_text("# my dataset\n")
    return root


def make_csv(root: Path) -> Path:
    """``root/labels.csv`` with relative/absolute paths, multi-labels, split aliases, segments, bad rows."""
    for name in ("a.wav", "b.wav", "c.wav", "d.wav", "e.wav", "f.wav", "g.wav", "h.wav"):
        write_audio(root / "clips" / name)
    absolute = write_audio(root / "elsewhere" / "abs.wav")
    rows = [
        "path,label,split,fold,group,start,end",
        "clips/a.wav,dog,train,1,s1,,",
        "clips/b.wav, dog ; bark ;,Validation,2,s1,0.5,1.5",
        '"clips/c.wav","rain;wind",TESTING,3,s2,,',
        f"{absolute},bird,training,1,,0,",
        "clips/d.wav,,train,1,s3,,",  # empty label
        "clips/e.wav,dog,holdout,1,s3,,",  # unknown split
        "clips/f.wav,dog,train,x,s3,,",  # fold not a number
        "clips/g.wav,dog,train,1,s3,2.0,1.0",  # end before start
        "clips/missing.wav,dog,train,1,s3,,",  # listed file absent
        "clips/h.wav,cat,valid,,,,",
    ]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


def make_fsdd(root: Path, in_recordings=True) -> Path:
    """FSDD names ``{digit}_{speaker}_{index}.wav``: 3 digits x 2 speakers x takes 0, 4, 5, 7; a bad name."""
    folder = root / "recordings" if in_recordings else root
    for digit in (0, 1, 9):
        for speaker in ("george", "lucas"):
            for index in (0, 4, 5, 7):
                write_audio(folder / f"{digit}_{speaker}_{index}.wav", freq=300 + 50 * digit)
    (root / "README.md").write_text("# Free Spoken Digit Dataset\n")
    return root


def add_fsdd_bad_name(root: Path) -> Path:
    return write_audio(root / "recordings" / "ten_george_0.wav")


# ESC-50: rows exactly as meta/esc50.csv has them (filename, fold, target, category, esc10, src_file, take).
ESC50_ROWS = [
    ("1-100032-A-0.wav", 1, 0, "dog", "True", "100032", "A"),
    ("1-110389-A-0.wav", 1, 0, "dog", "True", "110389", "A"),
    ("1-100038-A-14.wav", 1, 14, "chirping_birds", "False", "100038", "A"),
    ("2-109505-A-21.wav", 2, 21, "sneezing", "True", "109505", "A"),
    ("2-109505-B-21.wav", 2, 21, "sneezing", "True", "109505", "B"),
    ("3-141240-A-44.wav", 3, 44, "engine", "False", "141240", "A"),
    ("4-181286-A-10.wav", 4, 10, "rain", "True", "181286", "A"),
    ("5-200334-A-1.wav", 5, 1, "rooster", "True", "200334", "A"),
    ("5-9032-A-0.wav", 5, 0, "dog", "True", "9032", "A"),
]


def make_esc50(root: Path, missing=()) -> Path:
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for row in ESC50_ROWS:
        lines.append(",".join(map(str, row)))
        if row[0] not in missing:
            write_audio(root / "audio" / row[0], freq=100 + 10 * row[2])
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    (root / "README.md").write_text("# ESC-50\n")
    return root


# UrbanSound8K: slice_file_name,fsID,start,end,salience,fold,classID,class (start/end: in the source).
US8K_ROWS = [
    ("100032-3-0-0.wav", 100032, 0.0, 0.317551, 1, 5, 3, "dog_bark"),
    ("100263-2-0-117.wav", 100263, 58.5, 62.5, 1, 5, 2, "children_playing"),
    ("100263-2-0-121.wav", 100263, 60.5, 64.5, 1, 5, 2, "children_playing"),
    ("100648-1-0-0.wav", 100648, 4.823402, 5.471927, 2, 10, 1, "car_horn"),
    ("101415-3-0-2.wav", 101415, 1.0, 5.0, 1, 1, 3, "dog_bark"),
    ("102305-6-0-0.wav", 102305, 0.0, 2.61161, 1, 2, 6, "gun_shot"),
]


def make_us8k(root: Path) -> Path:
    lines = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    for row in US8K_ROWS:
        lines.append(",".join(map(str, row)))
        write_audio(root / "audio" / f"fold{row[5]}" / row[0], noise=True, freq=row[6] + 1)
    (root / "metadata").mkdir(parents=True, exist_ok=True)
    (root / "metadata" / "UrbanSound8K.csv").write_text("\n".join(lines) + "\n")
    return root


GTZAN_SAMPLE = ("blues", "jazz", "rock")


def make_gtzan(root: Path, variant="original") -> Path:
    """``original``: genres/<g>/<g>.0000N.au; ``kaggle``: genres_original/<g>/*.wav; ``bare``: <g>/ in root."""
    folder = {"original": root / "genres", "kaggle": root / "genres_original", "bare": root}[variant]
    ext, fmt = (".au", "AU") if variant == "original" else (".wav", None)
    for g, genre in enumerate(GTZAN_SAMPLE):
        for i in range(2):
            write_audio(folder / genre / f"{genre}.{i:05d}{ext}", freq=200 + 100 * g, fmt=fmt)
    if variant == "kaggle":
        (root / "features_30_sec.csv").write_text("filename,length,label\nblues.00000.wav,661794,blues\n")
        (root / "images_original" / "blues").mkdir(parents=True)
        (root / "images_original" / "blues" / "blues00000.png").write_bytes(b"\x89PNG")
    return root


SC_FILES = {  # word -> files, as in the release: <speaker hash>_nohash_<n>.wav
    "right": ["0a7c2a8d_nohash_0.wav", "0a7c2a8d_nohash_1.wav", "bb05582b_nohash_0.wav", "c1d39ce8_nohash_2.wav"],
    "yes": ["0a7c2a8d_nohash_0.wav", "bb05582b_nohash_0.wav", "ffd2ba2f_nohash_4.wav"],
    "bed": ["c1d39ce8_nohash_0.wav", "ffd2ba2f_nohash_0.wav"],
}
SC_VALIDATION = ["right/bb05582b_nohash_0.wav", "yes/bb05582b_nohash_0.wav"]
SC_TESTING = ["right/c1d39ce8_nohash_2.wav", "bed/c1d39ce8_nohash_0.wav"]


def make_speech_commands(root: Path, extra_listed=()) -> Path:
    for w, (word, files) in enumerate(SC_FILES.items()):
        for name in files:
            write_audio(root / word / name, freq=300 + 100 * w)
    for name in ("white_noise.wav", "running_tap.wav"):
        write_audio(root / "_background_noise_" / name, noise=True)
    (root / "_background_noise_" / "README.md").write_text("noise files for augmentation\n")
    (root / "validation_list.txt").write_text("\n".join(SC_VALIDATION) + "\n")
    (root / "testing_list.txt").write_text("\n".join([*SC_TESTING, *extra_listed]) + "\n")
    (root / "LICENSE").write_text("CC-BY-4.0\n")
    (root / "README.md").write_text("# Speech Commands\n")
    return root
