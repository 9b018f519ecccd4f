# The two commands: `make demo` and `make test`. Each does all the set-up it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SYS_PKGS := xvfb xauth libmtdev1 fonts-wqy-microhei socat libgl1 libegl1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-fast test-soak bench bench-long screenshots sounds sysdeps venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23"
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

sysdeps:
	@dpkg -s $(SYS_PKGS) >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(SYS_PKGS); }

# The terminal on simulated devices and the built-in reference billing server, no configuration.
demo: venv
	$(VENV)/bin/kiosk demo $(DEMO_ARGS)

# Everything: unit, property, pty device, crash and UI tests (UI under Xvfb).
test: sysdeps venv
	KIVY_WINDOW=sdl2 KIVY_NO_ARGS=1 xvfb-run -a -s "-screen 0 1280x800x24" $(PY) -m pytest $(PYTEST_ARGS)

test-fast: venv
	$(PY) -m pytest -m "not slow and not ui" $(PYTEST_ARGS)

# The long crash run: 200 kill -9s of a running terminal on ID-003 (make test does 60).
test-soak: sysdeps venv
	KIOSK_KILL9_COUNT=200 $(PY) -m pytest tests/cli/test_kill9.py $(PYTEST_ARGS)

bench: venv
	$(PY) -m benchmarks

# The long runs the README's Benchmarks section reports (about 35 minutes).
bench-long: venv
	mkdir -p artifacts/bench-long
	$(PY) -m benchmarks.bench_scale --full --commits 2000 > artifacts/bench-long/scale.json
	$(PY) -m benchmarks.bench_drain --pending 100000 --measure 20000 > artifacts/bench-long/drain.json
	$(PY) -m benchmarks.bench_server --clients 1,10,50 > artifacts/bench-long/server.json
	$(PY) -m benchmarks.bench_soak --sessions 10000 --chunk 500 --warmup 2000 > artifacts/bench-long/soak.json

# Every resident screen x zh/en x standard/large text x 1280x800, 1920x1080, 1080x1920, and a
# contact sheet per size, in artifacts/screenshots/ (its own Xvfb; a few minutes).
screenshots: sysdeps venv
	$(PY) -m tests.ui.screenshots --out artifacts/screenshots $(SHOTS_ARGS)

# The voice clips in assets/sounds/ (committed): espeak-ng says each prompt, oggenc encodes it.
sounds: venv
	@dpkg -s espeak-ng vorbis-tools >/dev/null 2>&1 || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends espeak-ng vorbis-tools; }
	$(PY) -m kiosk.voice.build

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis artifacts
