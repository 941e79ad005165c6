# Two entry points: `make demo` opens the app on the demo project, `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOARD := tests/fixtures/micropython
EAR_WHEELS := openwakeword==0.5.1 musicnn==0.1.0
DEBIAN_PACKAGES := libportaudio2 libsndfile1 pulseaudio pulseaudio-utils libasound2-plugins \
	mosquitto mosquitto-clients socat espeak-ng sox ffmpeg tmux openssl openssh-server openssh-client systemd

.PHONY: demo test lint install system-deps node-deps bench clean

demo: install
	@-$(MAKE) --no-print-directory system-deps || echo "(recording needs libportaudio2; the app runs without it)"
	$(BIN)/earshot demo --dir demo-project
	$(BIN)/earshot tui demo-project

test: system-deps install node-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check core tui earshot tests bench sample_data
	$(BIN)/mypy

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# Pretrained ears' weights: the wheels only, without their pinned dependencies (earshot runs the
	@# files with ai-edge-litert); musicnn's TF1 checkpoint is converted once to a float TFLite file.
	$(BIN)/python -m pip install -q --no-deps $(EAR_WHEELS)
	$(BIN)/python -m core.ears.build_music
	touch $(STAMP)

# Debian packages for audio, the broker, the board bridge and demo data; installed only when missing.
system-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
		command -v npm >/dev/null 2>&1 || echo nodejs npm); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run: sudo make system-deps)"; exit 1; fi; \
		echo "installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

node-deps: $(BOARD)/node_modules/.installed

$(BOARD)/node_modules/.installed: $(BOARD)/package.json $(BOARD)/package-lock.json
	cd $(BOARD) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bench: install
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) $(BOARD)/node_modules demo-project
