# imgloss developer commands. `make demo` and `make test` are the README's contract:
# both create .venv when missing and reinstall only when pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: demo test test-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch and torchvision are pinned together (other pairs can fail to import together).
# compileall: an editable install writes no bytecode, and where PYTHONDONTWRITEBYTECODE is
# set (CI images often do) every run would compile the CLI's modules again: 45 ms of --help.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	$(BIN)/python -m compileall -q imgloss
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,ray]'
	touch $@

# sample_images/distorted holds one deliberately unmatched file, so compare exits 3
# ("some inputs unpaired") after printing the table; the demo accepts that code.
demo: $(VENV)/.installed
	$(BIN)/imgloss compare sample_images/reference sample_images/distorted; \
	  code=$$?; test $$code -eq 0 -o $$code -eq 3

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# The CLI test subset against the lowest and the newest typer, click, rich, pillow, pywavelets
# and numpy that pyproject.toml allows, and typer 0.27.2 + click 8.5.0; torch as pinned.
# Each set is installed once into .deps/<set> (again only when its pins change): tools/test_deps.py.
test-deps: $(VENV)/.installed-test
	$(BIN)/python tools/test_deps.py

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run_all.py
	$(BIN)/python benchmarks/bench_metrics.py

clean:
	rm -rf $(VENV) .deps build *.egg-info
