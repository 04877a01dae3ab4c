# Two commands do all set-up on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := ip-registry commercialization incubation revenue-share
# The domain kernel, the service platform, and the developer tools (never in a service image).
LIBS := ipshare-kernel ipshare ipshare-devtools
INSTALLED := $(VENV)/.installed
# The console's browser tests drive Debian's Chromium through chromedriver; a CJK font lets
# the browser and the printable statements show Chinese names.
BROWSER_PACKAGES := chromium chromium-driver fonts-droid-fallback
BROWSER_FILES := /usr/bin/chromium /usr/bin/chromedriver /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
# buf (lint and breaking-change check of proto/), pinned in tools/buf/package-lock.json.
BUF_DIR := tools/buf
BUF := $(BUF_DIR)/node_modules/.bin/buf
# The contracts as last released: `make proto-check` refuses changes that break them.
PROTO_RELEASE := releases/v1.binpb

.PHONY: install browser demo up down test lint typecheck unit integration e2e simulate chaos proto proto-check \
	proto-release token clean

$(INSTALLED): constraints.txt $(foreach l,$(LIBS),libs/$(l)/pyproject.toml) \
		$(foreach s,$(SERVICES),services/$(s)/pyproject.toml) services/console/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e libs/ipshare-kernel -e libs/ipshare -e "libs/ipshare-devtools[dev]" \
		$(foreach s,$(SERVICES),-e services/$(s)) -e "services/console[dev]"
	touch $@

install: $(INSTALLED) browser $(BUF)

$(BUF): $(BUF_DIR)/package.json $(BUF_DIR)/package-lock.json  ## npm from Debian when missing (needs root and apt)
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm)
	npm ci --prefix $(BUF_DIR) --no-audit --no-fund --silent
	touch $@

browser:  ## Chromium, chromedriver and a CJK font from Debian, when missing (needs root and apt)
	@for f in $(BROWSER_FILES); do [ -e $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); fi

demo: install  ## start everything embedded, drive one revenue flow, print payouts, stop
	$(BIN)/ipshare demo

up: install  ## keep the stack running (ports in README); stop with `make down`
	$(BIN)/ipshare up

down: install
	$(BIN)/ipshare down

test: install lint typecheck  ## the whole suite: unit, integration (real PostgreSQL + broker), end to end
	$(BIN)/pytest

unit: install
	$(BIN)/pytest -m "not integration and not e2e"

integration: install
	$(BIN)/pytest -m integration

e2e: install
	$(BIN)/pytest -m e2e

chaos: install  ## fault drills (two replicas per service): kill each leader under load, wipe the broker, races
	$(BIN)/pytest -m chaos -s -q tests/chaos

lint: install proto-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy $(foreach l,$(LIBS),libs/$(l)/src) $(foreach s,$(SERVICES),services/$(s)/src) services/console/src benchmarks

SEED ?= 1
STEPS ?= 200
simulate: install  ## the long simulation on the real services, e.g. make simulate SEED=7 STEPS=300
	$(BIN)/python simulation/simulate.py --seed $(SEED) --steps $(STEPS)

proto: install  ## regenerate the committed protobuf/gRPC code after editing proto/
	$(BIN)/python proto/generate.py

proto-check: $(BUF)  ## buf lint, and no breaking change against the last released contracts
	cd proto && ../$(BUF) lint && ../$(BUF) breaking --against $(PROTO_RELEASE)

proto-release: $(BUF)  ## when a version goes out: record its contracts, which later changes are checked against
	cd proto && ../$(BUF) build --exclude-source-info -o $(PROTO_RELEASE)

token: install  ## a token from the local development issuer, e.g. make token ROLE=member MEMBER=<id> NAME="Li Wei"
	@$(BIN)/ipshare token --role $(ROLE) $(if $(MEMBER),--member $(MEMBER)) $(if $(NAME),--name "$(NAME)")

clean:
	rm -rf $(VENV) .ipshare test-artifacts
