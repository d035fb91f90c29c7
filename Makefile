# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv if it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tympan-installed

.PHONY: demo test bench clean browser fuzz

FUZZ_SECONDS ?= 600

# torch first and pinned: on these machines 2.13.0 is a CPU wheel on disk, while an unpinned torch
# would pull a multi-GB CUDA build. The project itself only asks for torch>=2.2. Then PANNs' original
# models.py, the reference of tests/test_panns.py, from frechet-audio-distance without that package's
# dependencies (CLAP, EnCodec, transformers, torchaudio), which the tests never import and which would
# replace torch and NumPy.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps frechet-audio-distance==0.3.4
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tympan demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The page tests drive a real headless Chromium; browser builds cannot be downloaded here, so Debian's are
# installed when missing (as root, or through sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing Debian's chromium and chromium-driver for the page tests"; \
	  $(SUDO) apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium chromium-driver >/dev/null; }; }

bench: $(STAMP)
	$(BIN)/python benchmarks/frontend.py
	$(BIN)/python benchmarks/dataset.py
	$(BIN)/python benchmarks/models.py
	$(BIN)/python benchmarks/generalise.py
	$(BIN)/python benchmarks/instruments.py
	$(BIN)/python benchmarks/tutorial_vs_tympan.py
	$(BIN)/python benchmarks/predict_long.py
	$(BIN)/python benchmarks/predict_many.py
	$(BIN)/python benchmarks/augment.py
	$(BIN)/python benchmarks/little_data.py
	$(BIN)/python benchmarks/events.py
	$(BIN)/python benchmarks/serve.py

# Each fuzz target for FUZZ_SECONDS (make fuzz FUZZ_SECONDS=3600 for a night); crashes land in fuzz/crashes/;
# a crash stops its target, not the others, and the run fails at the end
fuzz: $(STAMP)
	status=0; for target in audio layouts config model_file upload; do \
	  $(BIN)/python fuzz/run.py $$target --seconds $(FUZZ_SECONDS) || status=1; done; exit $$status

clean:
	rm -rf $(VENV) tympan-demo .pytest_cache
