# hpcai.cluster -- developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        := .venv
BIN         := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= $(if $(CI),0,1)

LAB_DISTRO      ?= debian12
LAB_COMPUTES    ?= 2
MOLECULE_DISTRO ?= $(LAB_DISTRO)
# Scenarios run by `make molecule` (default: every folder under molecule/ with a molecule.yml)
SCENARIOS       ?= $(sort $(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))
SANITY_BUILD    := build/sanity/ansible_collections/hpcai/cluster
# pip version ansible-test 2.19 bootstraps its venvs with (python_requirements.py)
ANSIBLE_TEST_PIP := 24_2

.PHONY: help venv collections lab lab-image lab-up lab-converge lab-idempotence lab-status lab-down \
        test lint sanity unit molecule bench reliability docs clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.stamp: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

venv: $(VENV)/.stamp ## create .venv with the pinned toolchain (requirements.txt)

.collections/ansible_collections/hpcai/cluster:
	@mkdir -p $(@D) && ln -sfn ../../.. $@

collections: .collections/ansible_collections/hpcai/cluster

# ---------------------------------------------------------------- lab
lab: venv collections ## build images, start head + computes, converge site.yml, show what works
	@$(MAKE) --no-print-directory lab-up
	@$(MAKE) --no-print-directory lab-converge
	@$(MAKE) --no-print-directory lab-status

lab-image: ## build (or reuse) the lab image for LAB_DISTRO
	@lab/image.sh $(LAB_DISTRO) > .lab-image

lab-up: lab-image
	@$(BIN)/python lab/lab.py up --image "$$(tail -1 .lab-image)" --computes $(LAB_COMPUTES)

lab-converge: venv collections ## run playbooks/site.yml against the lab (after lab/synthetic.yml)
	ansible-playbook -i inventories/lab lab/synthetic.yml
	ansible-playbook -i inventories/lab playbooks/site.yml $(ARGS)

lab-idempotence: venv collections ## rerun site.yml (must be changed=0), then --check (must report no changes)
	ansible-playbook -i inventories/lab playbooks/site.yml | $(BIN)/python lab/recap.py --label rerun --expect-changed 0
	ansible-playbook -i inventories/lab playbooks/site.yml --check | $(BIN)/python lab/recap.py --label check --expect-changed 0

lab-status: ## show lab nodes and what works on them
	@$(BIN)/python lab/lab.py status

lab-down: ## remove every container, network and file `make lab` created
	@$(BIN)/python lab/lab.py down 2>/dev/null || $(PYTHON) lab/lab.py down
	@rm -f .lab-image

# ---------------------------------------------------------------- bench
bench: venv collections ## benchmarks: one table, bench/results/latest.json + latest.png, ~80 min (BENCH_ARGS="--strict", "--sections modules", "--runs 3")
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# ---------------------------------------------------------------- reliability
reliability: venv collections ## faults, 500-job load, secrets and permissions on a lab of its own (hpcrel-*, ~11 min on 2 vCPUs)
	$(BIN)/python tests/reliability/run.py $(RELIABILITY_ARGS)

# ---------------------------------------------------------------- docs
docs: venv collections ## regenerate docs/plugins/*.md from the plugins' own documentation
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.collections $(BIN)/python docs/generate_plugin_docs.py

# ---------------------------------------------------------------- tests
test: lint sanity unit molecule ## everything CI runs: lint, sanity, unit, Molecule

lint: venv collections ## ansible-lint (production profile, strict), changelog fragments, shell scripts
	ansible-lint
	antsibull-changelog lint
	@if command -v shellcheck >/dev/null; then shellcheck lab/image.sh .ci/run; \
	 else echo "shellcheck not installed: only bash -n"; bash -n lab/image.sh .ci/run; fi

unit: venv collections ## pytest unit tests (module_utils, modules, render, specs)
	pytest -q tests/unit

sanity: venv ## ansible-test sanity from a real ansible_collections/hpcai/cluster copy
	@rm -rf build/sanity && mkdir -p $(SANITY_BUILD)
	@git ls-files -z --cached --others --exclude-standard | \
	    tar --null -T - -c | tar -x -C $(SANITY_BUILD)
	@mkdir -p $(HOME)/.ansible/test/cache
	@cp tests/sanity/get_pip_offline.py $(HOME)/.ansible/test/cache/get_pip_$(ANSIBLE_TEST_PIP).py
	@# its own git repo: ansible-test lists files with git, and build/ is ignored by ours
	@cd $(SANITY_BUILD) && git init -q && git add -A
	cd $(SANITY_BUILD) && ansible-test sanity \
	    --python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') $(SANITY_ARGS)

molecule: venv collections ## Molecule scenarios (MOLECULE_DISTRO picks the image; SCENARIOS picks which)
	@lab/image.sh $(MOLECULE_DISTRO) > .molecule-image
	@set -e; for s in $(SCENARIOS); do \
	    echo "== molecule $$s ($$(tail -1 .molecule-image))"; \
	    MOLECULE_IMAGE="$$(tail -1 .molecule-image)" molecule test -s $$s; \
	done

clean: ## remove build outputs (not the venv)
	rm -rf build .cache .pytest_cache .lab-image .molecule-image
