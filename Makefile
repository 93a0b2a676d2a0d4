# The README's two commands: `make run` (main job) and `make test` (whole suite). Both bootstrap a
# fresh Debian 12 machine first (apt ROS packages, .venv, pinned requirements): scripts/bootstrap.sh.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ROS_PACKAGE_PATH := $(CURDIR)$(if $(ROS_PACKAGE_PATH),:$(ROS_PACKAGE_PATH))
export ROS_HOME ?= $(CURDIR)/out/ros
export PYTHONUNBUFFERED := 1
export TF_CPP_MIN_LOG_LEVEL := 2

BRAIN ?= pilotnet_onnx
FRAMES ?= 400
MODELS := models/untrained

.PHONY: bootstrap models run test test-fast bench info
bootstrap:
	@bash scripts/bootstrap.sh

# Untrained (seeded) PilotNet in every format runnable here, until the model zoo ships trained ones.
models: $(MODELS)/.exported
$(MODELS)/.exported: src/f1_brains/zoo/pilotnet.py src/f1_brains/zoo/export.py src/f1_brains/model_card.py | bootstrap
	f1-brains export --out $(MODELS)
	@touch $@

# Main job: the brain node drives on a replayed camera stream (20 Hz) and prints its timing summary.
run: bootstrap models
	roslaunch f1_brains camera_replay.launch brain:=$(BRAIN) frames:=$(FRAMES) \
	    summary_file:=$(CURDIR)/out/run_summary.json

test: bootstrap models
	python -m pytest test/

# The fast set: everything but the slow end-to-end tests.
test-fast: bootstrap models
	python -m pytest -m "not slow" test/

bench: bootstrap models
	f1-brains bench $(MODELS) --markdown docs/results/brain_latency.md --json docs/results/brain_latency.json

info: bootstrap
	f1-brains info
