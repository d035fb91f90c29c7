"""Run one fuzz target under atheris (coverage-guided, libFuzzer's engine) for a set time.

    python fuzz/run.py TARGET [--seconds 60 | --runs N] [--seed S] [--corpus DIR]

The corpus starts from the target's seeds (real files of ../shared/data) and grows in
``build/fuzz/TARGET`` (not committed). An input that makes anything but Tympan's own error escape is a
crash: libFuzzer writes it to ``fuzz/crashes/TARGET/`` and stops with a non-zero status; commit it, fix the
bug, and ``tests/test_fuzz.py`` replays it from then on. Prints the executions run at the end.
"""

import argparse
import sys
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Tympan's modules are instrumented for coverage: imported here, inside the context, before any target runs
with atheris.instrument_imports(include=["tympan"]):
    import tympan.audio  # noqa: F401
    import tympan.data.layouts  # noqa: F401
    import tympan.model_file  # noqa: F401
    import tympan.train.config  # noqa: F401
    try:
        import tympan.serve.api  # noqa: F401
    except ImportError:  # without the serve extra the upload target cannot run; the others still do
        pass

sys.path.insert(0, str(HERE))
from targets import TARGETS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=None,
                        help="stop after this many inputs instead (with --seed, a repeatable run; default: none)")
    parser.add_argument("--seed", type=int, default=0, help="the fuzzer's seed; 0 picks one (default: %(default)s)")
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder (default: build/fuzz/TARGET)")
    args = parser.parse_args()
    function, seeds = TARGETS[args.target]
    corpus = args.corpus or ROOT / "build" / "fuzz" / args.target
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    crashes = HERE / "crashes" / args.target
    crashes.mkdir(parents=True, exist_ok=True)
    limit = f"-runs={args.runs}" if args.runs is not None else f"-max_total_time={args.seconds}"
    atheris.Setup([sys.argv[0], limit, f"-seed={args.seed}", f"-artifact_prefix={crashes}/",
                   "-print_final_stats=1", "-rss_limit_mb=4096", "-max_len=300000", "-timeout=60", str(corpus)],
                  function)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
