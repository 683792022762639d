# SkeletonLLM.  `make run`: the pipeline on the embedded default (synthetic data, CPU).  `make test`: the test suite.
# `make ablations`: the whole ablation grid (every variant, 3 seeds) on the embedded default.
# Both create .venv when missing and install into it (torch first, then the package with its test extra); the
# install is skipped while its stamp is newer than pyproject.toml and the venv.  Both also install the SLURM
# profile as the named Snakemake profile `slurm`, so `snakemake --profile slurm <target>` works from here.
# In a DVC repository, `make run` ends by recording the outputs of the jobs it ran in DVC (the Snakefile's onsuccess),
# so that `dvc status` and `snakemake -n all` are both clean.  `make dvc [CONFIGFILE=config/paper.yaml]`: regenerate
# dvc.yaml from the Snakemake DAG.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TORCH := torch==2.13.0
STAMP := .make/install.stamp
CORES ?= 2
PYTEST_ARGS ?=
CONFIGFILE ?=
# Snakemake looks profiles up by name in $XDG_CONFIG_HOME/snakemake (default ~/.config/snakemake).
PROFILE_LINK := $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/snakemake/slurm
PROFILE_DIR := $(CURDIR)/workflow/profiles/slurm
# Rules call the `skeletonllm` console script, so the venv's bin comes first on PATH (SLURM jobs inherit it).
export PATH := $(BIN):$(PATH)

.PHONY: run ablations test install profile dvc

run: install
	snakemake --cores $(CORES) all

# The whole ablation grid on the embedded default: every entry of `variants` x ablation.grid_seeds (0 1 2).
ablations: install
	snakemake --cores $(CORES) all --config ablation_grid=True

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(STAMP) profile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet '$(TORCH)'
	$(BIN)/python -m pip install --quiet -e '.[test]'
	mkdir -p $(@D) && touch $@

profile:
	@if [ -e '$(PROFILE_LINK)' ] && [ ! -L '$(PROFILE_LINK)' ]; then \
		echo '$(PROFILE_LINK) exists and is not a link; move it away to install the slurm profile' >&2; exit 1; fi
	@if [ "$$(readlink '$(PROFILE_LINK)' || true)" != '$(PROFILE_DIR)' ]; then \
		mkdir -p '$(dir $(PROFILE_LINK))' && ln -sfn '$(PROFILE_DIR)' '$(PROFILE_LINK)' && \
		echo 'installed Snakemake profile slurm: $(PROFILE_LINK) -> $(PROFILE_DIR)'; fi

# Regenerate dvc.yaml from the Snakemake DAG for CONFIGFILE (default config/config.yaml; tests/test_dvc.py fails
# while the committed dvc.yaml and the default DAG disagree).
dvc: install
	$(BIN)/python -m skeletonllm.workflow_dag $(if $(CONFIGFILE),--configfile $(CONFIGFILE))
