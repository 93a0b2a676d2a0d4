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
CIRCUIT ?= simple_circuit
MODE ?= lockstep
REPLAY_BRAIN ?= pilotnet_onnx
FRAMES ?= 400

.PHONY: bootstrap zoo optimize run replay test test-fast bench info report-example
bootstrap:
	@bash scripts/bootstrap.sh

# The shipped PilotNet (models/pilotnet/) is made by `make zoo`: dataset (the expert's laps with its commands landing
# 20, 70 and 120 ms after their frame, in turn: the states a slow command path leads to) -> training -> every format
# and optimized variant (`f1-brains optimize`). It is committed, so `make run` and `make test` need none of this.
ZOO := models/pilotnet
data/train/manifest.json: | bootstrap
	f1-brains dataset --out data/train --circuits simple_circuit many_curves nurburgring --laps 6 --seed 0 \
	    --latency-ms 20 70 120

zoo: bootstrap data/train/manifest.json
	f1-brains train --data data/train --out $(ZOO) --epochs 8 --seed 0
	$(MAKE) optimize

# Every optimized variant from the trained weights (about 20 minutes on 2 cores; no retraining).
optimize: bootstrap data/train/manifest.json
	f1-brains optimize --weights $(ZOO)/pilotnet_state.pt --data data/train --out $(ZOO) --steps 500

# Main job: one headless lap of the embedded simulator with a shipped brain; prints the lap's numbers
# and the brain's timings, and leaves the run files in out/run/.
# roslaunch's own chatter (and its red "REQUIRED process has died" when the simulator ends the run as designed)
# goes to out/run/launch.log; what is printed is the lap table and timings, or the log's end when the run failed.
run: bootstrap
	@rm -rf out/run && mkdir -p out/run
	@echo "f1_brains: $(BRAIN) drives $(CIRCUIT) ($(MODE)); launch log: out/run/launch.log"
	@roslaunch f1_brains drive.launch circuit:=$(CIRCUIT) brain:=$(BRAIN) mode:=$(MODE) laps:=1 \
	    out:=$(CURDIR)/out/run > out/run/launch.log 2>&1; \
	  if [ ! -f out/run/run.json ]; then tail -n 40 out/run/launch.log; exit 1; fi
	@grep -a -A3 "^$(notdir $(basename $(CIRCUIT))).* mode: " out/run/launch.log || true
	@f1-brains report out/run/run.json --out out/run/report

# A network brain on a replayed 20 Hz camera stream (synthetic frames): inference timings in the node.
replay: bootstrap
	roslaunch f1_brains camera_replay.launch brain:=$(REPLAY_BRAIN) frames:=$(FRAMES) \
	    summary_file:=$(CURDIR)/out/replay_summary.json

test: bootstrap
	python -m pytest test/

# The fast set: everything but the slow end-to-end tests.
test-fast: bootstrap
	python -m pytest -m "not slow" test/

# Offline: latency of every shipped format (each in its own process, 1 and 2 threads, 3 rotating passes) and its
# accuracy on held-out circuits (montreal, montmelo).
data/test/manifest.json: | bootstrap
	f1-brains dataset --out data/test --circuits montreal montmelo --laps 1 --seed 100

bench: bootstrap data/test/manifest.json
	f1-brains bench $(ZOO) --data data/test --threads 1 2 --passes 3 --markdown docs/results/offline.md \
	    --json docs/results/offline.json \
	    --csv docs/results/offline.csv

info: bootstrap
	f1-brains info

# docs/results/report_example/: the explicit brain's lap of simple_circuit in both modes, reported and compared.
report-example: bootstrap
	rm -rf out/report_example
	for mode in realtime lockstep; do \
	    roslaunch f1_brains simple_circuit.launch mode:=$$mode out:=$(CURDIR)/out/report_example/$$mode || exit 1; done
	f1-brains report out/report_example/realtime/run.json out/report_example/lockstep/run.json \
	    --out docs/results/report_example --markdown docs/results/report_example/table.md
