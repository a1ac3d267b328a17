# idpose-bench: `make run` runs the embedded benchmark end to end, `make test` the test suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SNAKEMAKE := $(BIN)/snakemake

.PHONY: install run smoke test test-slurm report figures lint clean-results help

help:
	@echo "make install  create .venv with the pinned dependencies"
	@echo "make run      the embedded default, end to end (SynthFaces, tiny models, CPU)"
	@echo "make smoke    the tiny smoke profile (about two and a half minutes)"
	@echo "make test     the test suite (what CI runs)"
	@echo "make test-slurm  the smoke DAG on a local one-node SLURM cluster (root; CI runs it)"
	@echo "make report   results/report.html from the finished run"
	@echo "make lint     ruff check and ruff format --check"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(SNAKEMAKE) --cores all
	$(SNAKEMAKE) --report results/report.html
	@echo "Report: $(CURDIR)/results/report.html"

smoke: $(STAMP)
	$(SNAKEMAKE) --workflow-profile profiles/smoke --directory results/smoke --snakefile workflow/Snakefile

# A one-node SLURM cluster on this machine (tools/slurm-local, root, Debian packages), the
# smoke DAG through profiles/slurm checked against a local smoke run, the cluster stopped.
test-slurm: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[slurm]"
	tools/slurm-local/start.sh
	work=$$(mktemp -d /tmp/idpose-slurm-check.XXXXXX); \
	$(BIN)/python tools/slurm-local/check_smoke.py --work $$work; status=$$?; \
	tools/slurm-local/stop.sh; exit $$status

report: $(STAMP)
	$(SNAKEMAKE) --report results/report.html

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check bench methods tests benchmarks tools
	$(BIN)/ruff format --check bench methods tests benchmarks tools

clean-results:
	rm -rf results/data results/runs results/evaluators results/tables results/logs results/benchmarks results/smoke
