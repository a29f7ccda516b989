# Two commands matter: `make demo` and `make test`. Everything else is what they depend on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
# The public provider's newest release: `~> 0.2` and `>= 0.1.0` pick it. The mirror also answers to the earlier
# 0.2.x releases (the same build) so that configurations pinned to one of them initialise unchanged.
PROVIDER_VERSION := 0.2.11
PROVIDER_ALIASES := 0.2.0 0.2.1 0.2.2 0.2.3 0.2.4 0.2.5 0.2.6 0.2.7 0.2.8 0.2.9 0.2.10
UNAME_M := $(shell uname -m)
TF_ARCH := $(if $(filter aarch64 arm64,$(UNAME_M)),arm64,amd64)
TF_PLATFORM := linux_$(TF_ARCH)
# Where the machine keeps the hashicorp/* providers as a filesystem mirror (override: make provider AWS_PROVIDER_MIRROR=...).
AWS_PROVIDER_MIRROR ?= /opt/tf-plugins
PROVIDER_DIR := $(CURDIR)/.terraform-provider
MIRROR := $(PROVIDER_DIR)/mirror
PLUGIN_DIR := $(MIRROR)/registry.terraform.io/costory-io/costory/$(PROVIDER_VERSION)/$(TF_PLATFORM)
PLUGIN := $(PLUGIN_DIR)/terraform-provider-costory_v$(PROVIDER_VERSION)
TERRAFORMRC := $(PROVIDER_DIR)/terraform.rc

TOOLS := $(CURDIR)/.tools
BQEMULATOR := $(TOOLS)/bqemulator/bin/bqemulator
AZURITE := $(TOOLS)/node_modules/.bin/azurite

.PHONY: help install proto provider postgres chromium vendor-charts emulators test lint demo bench clean

help:
	@echo "make demo   - both guides on loopback (moto, Azurite, bqemulator, API stand-ins): apply, import, per-team tables"
	@echo "make demo SERVE=1 - the same, then keep the control plane and its dashboard running"
	@echo "make test   - ruff, mypy, then every test (unit, gRPC, acceptance with the real terraform CLI)"
	@echo "make lint   - ruff and mypy alone"
	@echo "make proto  - regenerate costory_proto/ from proto/"
	@echo "make provider - build the Terraform filesystem mirror and CLI config in $(PROVIDER_DIR)"
	@echo "make bench  - provider, import, allocation (10M/50M rows), REST reads, Ray and normalisation figures (docs/benchmarks/)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

install: $(VENV)/.installed

proto: install
	$(PY) proto/generate.py

# The provider "binary" is a launcher for the venv's interpreter; Terraform only needs an executable.
provider: install
	@mkdir -p $(PLUGIN_DIR)
	@$(PY) -I -m provider_shim.launcher $(PLUGIN)
	@for v in $(PROVIDER_ALIASES); do \
	  d="$(MIRROR)/registry.terraform.io/costory-io/costory/$$v/$(TF_PLATFORM)"; mkdir -p "$$d"; \
	  cp -p $(PLUGIN) "$$d/terraform-provider-costory_v$$v"; \
	done
	@{ \
	  echo 'provider_installation {'; \
	  echo '  filesystem_mirror {'; \
	  echo '    path    = "$(MIRROR)"'; \
	  echo '    include = ["registry.terraform.io/costory-io/costory"]'; \
	  echo '  }'; \
	  if [ -d "$(AWS_PROVIDER_MIRROR)" ]; then \
	  echo '  filesystem_mirror {'; \
	  echo '    path    = "$(AWS_PROVIDER_MIRROR)"'; \
	  echo '    include = ["registry.terraform.io/hashicorp/*"]'; \
	  echo '  }'; \
	  fi; \
	  echo '  direct {'; \
	  echo '    exclude = ["registry.terraform.io/costory-io/costory", "registry.terraform.io/hashicorp/*"]'; \
	  echo '  }'; \
	  echo '}'; \
	} > $(TERRAFORMRC)
	@echo "Provider mirror: $(MIRROR)"
	@echo "CLI config:      export TF_CLI_CONFIG_FILE=$(TERRAFORMRC)"

# The PostgreSQL tests start their own cluster from the server binaries (initdb, pg_ctl).
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing the PostgreSQL server binaries (apt-get install postgresql)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "PostgreSQL server binaries (initdb, pg_ctl) are missing: install your distribution's postgresql package"; exit 1; fi

# Emulators of the clouds' billing stores, started by the tests on loopback: bqemulator (BigQuery) in a venv of
# its own (it pins grpcio-tools and protobuf below ours), Azurite (Azure Blob Storage) from npm. bqemulator loads
# DuckDB's spatial extension at start and cannot download it offline: the PyPI build of the extension exists for
# duckdb 1.5.5 (not the 2.x bqemulator would pull), so both are pinned and the extension is put where DuckDB looks
# (devtools/bqemulator.py runs the emulator with that HOME); it also needs numpy, which it does not declare.
$(BQEMULATOR):
	$(PYTHON) -m venv $(TOOLS)/bqemulator
	$(TOOLS)/bqemulator/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bqemulator/bin/pip install --quiet 'bqemulator==1.4.0' 'duckdb==1.5.5' 'duckdb-extension-spatial==1.5.5' numpy
	@ext=$$($(TOOLS)/bqemulator/bin/python -c "import duckdb_extension_spatial, pathlib; print(next(pathlib.Path(duckdb_extension_spatial.__file__).parent.glob('extensions/*/spatial.duckdb_extension')))"); \
	platform=$$($(TOOLS)/bqemulator/bin/python -c "import duckdb; print(duckdb.sql('PRAGMA platform').fetchone()[0])"); \
	dest=$(TOOLS)/bqemulator/duckdb-home/.duckdb/extensions/v1.5.5/$$platform; mkdir -p $$dest && cp $$ext $$dest/

$(AZURITE):
	@mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --silent --no-audit --no-fund --prefix $(TOOLS) azurite@3 >/dev/null

emulators: $(BQEMULATOR) $(AZURITE)

# The dashboard's browser tests drive Debian's chromium with Playwright (Playwright's own browser download needs
# the internet): installed here when missing, like the PostgreSQL binaries.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing chromium (apt-get install chromium)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing at /usr/bin/chromium: install your distribution's chromium package"; exit 1; fi

# The dashboard's chart code, vendored from npm (no CDN): re-fetch it and check it is the recorded build.
CHARTJS_VERSION := 4.6.1
CHARTJS_SHA256 := 338399fb5bafe598d21cfc471b0590b61ceb321a985fade4f68499b151f67fbf
VENDOR_DIR := control_plane/web/static/vendor
vendor-charts:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null && tar xzf chart.js-$(CHARTJS_VERSION).tgz) && \
	echo "$(CHARTJS_SHA256)  $$tmp/package/dist/chart.umd.js" | sha256sum --check --quiet && \
	cp "$$tmp/package/dist/chart.umd.js" $(VENDOR_DIR)/chart.umd.js && \
	cp "$$tmp/package/LICENSE.md" $(VENDOR_DIR)/chart.js.LICENSE.md && \
	echo "chart.js $(CHARTJS_VERSION) in $(VENDOR_DIR) (sha256 checked)"

# Lint first (seconds), then the suite on two workers: it is I/O- and subprocess-bound (terraform, moto,
# PostgreSQL), so two workers halve the wall time on a 2-core machine.
test: lint provider postgres emulators chromium
	$(PY) -m pytest -n 2 --dist loadgroup

# ruff (import sorting, bugbear) and mypy, configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# `make demo SERVE=1` keeps the control plane running after the guides, with the dashboard's address printed.
demo: provider emulators
	$(PY) -m devtools.demo $(if $(SERVE),--serve)

bench: provider
	$(PY) bench/provider_bench.py
	$(PY) bench/import_bench.py
	$(PY) bench/allocation_bench.py --repeat 3
	$(PY) bench/rest_bench.py --rows 50000000 --rest-processes 2 --out docs/benchmarks/rest.md
	$(PY) bench/distributed_bench.py
	$(PY) bench/azure_normalize_bench.py
	$(PY) bench/gcp_normalize_bench.py

clean:
	rm -rf $(PROVIDER_DIR) $(TOOLS) .pytest_cache
