# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   virtualenv, install, obtain open data, build the sample, start the app
#   make test   the same set-up, lint (ruff, mypy), then the whole test suite (what CI runs)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
SEED   ?= 42

LEAFLET := 1.9.4
VENDOR  := data/vendor

.PHONY: demo test setup data sample vendor browser lint clean

demo: data sample vendor
	@test -f data/accounts.toml || $(BIN)/geointel users demo
	$(BIN)/streamlit run app.py

test: lint data sample vendor browser
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

# Leaflet, inlined into HTML maps so they open with no network (from the npm registry).
vendor: $(VENDOR)/leaflet/leaflet.js

$(VENDOR)/leaflet/leaflet.js:
	@command -v npm >/dev/null || { echo "needs npm (Node.js) to obtain Leaflet $(LEAFLET)"; exit 2; }
	rm -rf $(VENDOR)/leaflet $(VENDOR)/tmp && mkdir -p $(VENDOR)/tmp
	cd $(VENDOR)/tmp && npm pack --silent leaflet@$(LEAFLET) >/dev/null
	tar -xzf $(VENDOR)/tmp/leaflet-$(LEAFLET).tgz -C $(VENDOR)/tmp
	mv $(VENDOR)/tmp/package/dist $(VENDOR)/leaflet && rm -rf $(VENDOR)/tmp

# Debian's chromium for the browser tests (playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] || { \
	    echo "browser tests need Debian's chromium: apt-get install chromium"; exit 2; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: setup
	$(BIN)/ruff check geointel tests app.py app_pages benchmarks
	$(BIN)/mypy geointel app_pages app.py

clean:
	# keeps data/pseudonym.key: a new key would orphan every pseudonymised output
	rm -rf $(VENV) out data/vendor
	find data -type f ! -name README.md ! -name pseudonym.key -delete
