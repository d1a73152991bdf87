# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# torch is pinned to the CPU wheel that lies on local disk; a bare `torch` would pull a CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: demo test test-fast lint install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[dev,detect]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/clusterface demo $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools
	$(PY) tools/import_graph.py
	$(PY) tools/long_functions.py
	$(VENV)/bin/mypy

# Every benchmark script with quick settings (a few minutes on 2 CPUs): checks that they run and
# prints their ratios. The numbers in benchmarks/README.md come from the larger settings listed there.
BENCH_OUT ?= runs/bench
bench: $(STAMP)
	mkdir -p $(BENCH_OUT)
	$(PY) benchmarks/data_read.py --images 400 --identities 20 --repeats 1 --dir $(BENCH_OUT)/data_read --json $(BENCH_OUT)/data_read.json
	$(PY) benchmarks/method_step.py --backbones cfnet_s:16 --classes 200 --reps 2 --steps-per-rep 1 --head-classes 1000 --head-reps 2
	$(PY) benchmarks/train_speed.py --skip-demo --backbones cfnet_s --flops-batch 8 --flops-steps 1 --json $(BENCH_OUT)/train_flops.json
	$(PY) benchmarks/eval_speed.py --sizes 2000 --json $(BENCH_OUT)/eval.json
	$(PY) benchmarks/synth_speed.py --identities 12 --images-median 4

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
