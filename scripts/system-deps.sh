#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when they are missing:
# GoogleTest (C++ kernel tests), the real Fashion-MNIST data set and Graphviz (plot_model).
set -euo pipefail

need=()
[ -f /usr/lib/x86_64-linux-gnu/cmake/GTest/GTestConfig.cmake ] || [ -n "$(find /usr/lib /usr/share -path '*cmake/GTest/GTestConfig.cmake' -print -quit 2>/dev/null)" ] \
  || need+=(libgtest-dev)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v dot >/dev/null 2>&1 || need+=(graphviz)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "Missing Debian packages: ${need[*]}. Install them with: apt-get install ${need[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
