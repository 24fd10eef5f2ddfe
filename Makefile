# Linebox: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lab lint bench deps clean unit labtest image boot-test dahdi-lab packages-run packages-test stress-test \
	i18n-extract i18n-update i18n-compile

## Debian packages (the one list: debian-packages.txt): installed when missing, quick when all is there.
packages-run:
	@tools/ensure-debian-packages run

packages-test:
	@tools/ensure-debian-packages run test

# constraints.txt pins every package of the venv (the ones a box gets too: ansible/roles/linebox)
$(STAMP): pyproject.toml constraints.txt | packages-run
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test,systemd,robot]'
	touch $(STAMP)

deps: $(STAMP)

## Build (once, cached under /var/cache/linebox/lab) the forky root file system with Debian's Asterisk.
lab: deps
	$(PY) -m lab build

## Start the appliance here: the lab's Asterisk on Linebox's config, and the web console.
run: packages-run lab
	$(PY) -m lab.devrun

## Every test: lint, unit tests, the lab tests against real Asterisk, then the image and DAHDI lab under qemu.
test: packages-test lint lab
	$(PY) -m pytest -q -p no:cacheprovider -m "not image" --durations=30
	$(PY) -m pytest -q -p no:cacheprovider -m image tests/image

## The lab tests with a bounded load beside them (stress-ng: 2 CPU workers, 1 disk, 1 memory; stopped when the
## tests end, or after 3 h at the latest): a suite that waits for real conditions passes on a busy machine too.
## REPEAT=N runs the selection N times, each a pytest session of its own (a lab site a module's tests share is
## made anew, as in one `make test`); TESTS narrows the selection (e.g. TESTS=tests/lab/test_tones.py).
## The figure at the end: how many of the N runs failed (each failure is listed with -rf in its run).
REPEAT ?= 1
TESTS ?= tests/lab
stress-test: packages-test lab
	@stress-ng --cpu 2 --io 1 --vm 1 --vm-bytes 256M --timeout 3h --quiet & load=$$!; \
	trap 'kill $$load 2>/dev/null; wait $$load 2>/dev/null' EXIT; \
	failed=0; for run in $$(seq $(REPEAT)); do echo "== run $$run of $(REPEAT) under stress-ng"; \
		$(PY) -m pytest -q -p no:cacheprovider -m "not image" -rf $(TESTS) || failed=$$((failed + 1)); done; \
	echo "== $$failed of $(REPEAT) run(s) failed"; test $$failed -eq 0

unit: deps
	$(PY) -m pytest -q -m "not lab"

## Style (ruff), types (mypy on the shipped packages) and the import contracts (pyproject.toml).
lint: deps
	$(VENV)/bin/ruff check appliance hardware lab image tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

## The bootable disk image (BIOS and UEFI), cached in /var/cache/linebox/image; copied to build/linebox.img.
image: packages-test deps
	$(PY) -m image.build --copy

## Boot the image under qemu and check the appliance it starts (also part of make test).
boot-test: packages-test deps
	$(PY) -m pytest -q -p no:cacheprovider tests/image/test_boot.py

## The virtual DAHDI lab: a PRI call across two loc spans in a qemu guest on Linebox's generated files.
dahdi-lab: packages-test deps
	$(PY) -m pytest -q -p no:cacheprovider tests/image/test_dahdi_lab.py

## Benchmarks: figures printed and written to benchmarks/results/.
bench: packages-test lab
	$(PY) -m benchmarks.run

## The console's catalogs (appliance/web/translations; see README "Adding a string"): extract every marked
## string into messages.pot, merge it into each language's messages.po, or compile them (the console also
## compiles them itself when it starts, into its cache: compiled .mo files are never committed).
I18N := appliance/web/translations
i18n-extract: deps
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k _l -k N_ --no-location --sort-output \
		--project=Linebox --copyright-holder="Linebox" -o $(I18N)/messages.pot appliance hardware

i18n-update: i18n-extract
	$(VENV)/bin/pybabel -q update -i $(I18N)/messages.pot -d $(I18N) --no-fuzzy-matching --ignore-obsolete

i18n-compile: deps
	rm -rf build/i18n && mkdir -p build && cp -r $(I18N) build/i18n && $(VENV)/bin/pybabel compile --statistics -d build/i18n

clean:
	rm -rf $(VENV) .run test-artifacts build
