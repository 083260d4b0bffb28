# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   virtualenv, install, obtain open data, build the sample, start the app
#   make test   the same set-up, then the whole test suite (what CI runs)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
SEED   ?= 42

.PHONY: demo test setup data sample lint clean

demo: data sample
	$(BIN)/streamlit run app.py

test: data sample
	$(BIN)/python -m pytest -q

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[app,dev]"
	touch $@

data: setup
	$(BIN)/geointel data sync

sample: setup
	@test -f data/pseudonym.key || $(BIN)/geointel key new
	$(BIN)/geointel sample build --seed $(SEED)

lint: setup
	$(BIN)/ruff check geointel tests app.py app_pages benchmarks
	$(BIN)/mypy geointel

clean:
	rm -rf $(VENV) data/open data/manifest.json data/samples/*/ out
