# Set-up and checks on a fresh machine. `make demo` and `make test` do everything, install included.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch is installed first on its own, so the package's `torch` requirement is
# already met and no GPU wheels are pulled in.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: install demo test test-all clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test,ray,tensorboard]"
	touch $@

XB := $(VENV)/bin/xtra-bench
SAMPLES := xtra/MinAtar-Asterix/random-sample-v1 xtra/MinAtar-Breakout/random-sample-v1 xtra/Breakout/random-sample-v1
# A small benchmark with a real result on two cores: CURL and the random agent on MinAtar-Breakout,
# 5 seeds, 12k steps, two jobs at once (one torch thread each); the bundled samples are downloaded and
# verified first. Rerunning skips finished jobs and resumes a killed one.
DEMO_RUN := --agent curl,random --split minatar --targets MinAtar-Breakout --seeds 0-4 \
	--preset smoke --env-steps 12000 --eval-episodes 16 --workers 2 --out runs/demo --resume

demo: install
	$(XB) splits
	$(XB) agents
	$(XB) datasets list
	$(XB) datasets download $(SAMPLES)
	for id in $(SAMPLES); do $(XB) datasets verify $$id || exit 1; done
	$(XB) datasets show xtra/MinAtar-Breakout/random-sample-v1 --png runs/demo-sample.png --force
	$(XB) run $(DEMO_RUN)
	$(XB) report runs/demo --out runs/demo/report --baseline random --reps 5000 --force

# One math thread per process: the tests' networks are tiny, and OpenMP threads spin-waiting on
# shared cores made them ten times slower (subprocesses the tests start inherit this too).
test: install
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not slow and not gpu" $(PYTEST_ARGS)

test-all: install
	OMP_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info xtra_bench/search/_ctree*.so ext/ctree.cpp
