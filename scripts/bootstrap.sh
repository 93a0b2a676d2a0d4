#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 (or Ubuntu 20.04 + ROS Noetic) machine:
#   1. the ROS 1 Debian packages and Mesa's headless OpenGL (apt, only the missing ones),
#   2. a .venv that sees the system's rospy/cv_bridge (--system-site-packages),
#   3. the pinned Python requirements and this package (editable).
# Re-running it does nothing when everything is in place (a stamp file records the requirements hash).
set -euo pipefail
cd "$(dirname "$0")/.."

ROS_DEBS=(python3-rospy python3-roslaunch python3-rosmaster python3-rostopic python3-rosnode
          python3-rostest python3-rosbag python3-sensor-msgs python3-geometry-msgs python3-nav-msgs
          python3-std-msgs python3-std-srvs python3-cv-bridge python3-opencv catkin rospack-tools rosbash
          python3-venv
          libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri)   # headless OpenGL (Mesa) for real-mesh rendering

missing=()
if [ -f /opt/ros/noetic/setup.bash ]; then
  echo "bootstrap: ROS Noetic found in /opt/ros/noetic; not installing Debian ROS packages"
else
  for p in "${ROS_DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log=$(mktemp /tmp/f1_brains-apt.XXXXXX.log)
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } > "$log" 2>&1; then
    tail -n 30 "$log"; echo "bootstrap: apt-get failed (full log: $log)" >&2; exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv (system site packages visible, for rospy and cv_bridge)"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

stamp=.venv/.f1_brains-requirements
want=$(cat requirements.txt requirements-nodeps.txt setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python requirements into .venv (a few minutes the first time)"
  # torch==2.13.0 (CPU) comes from a local wheel where the machine has one (pip's find-links), else PyPI.
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
