#!/usr/bin/env bash
# Install the Debian 12 packages ttpredict builds against, when missing.
# Idempotent: does nothing (and needs no network) when all are present.
# Slurm and munge are there for tests/cli_slurm.sh, which runs the sbatch
# script on a real single-node Slurm started inside the test.
# The CUDA toolkit is optional and not installed here: when /usr/local/cuda
# (or nvcc on PATH) exists the gpu/ backend is built, otherwise it is not.
set -euo pipefail
pkgs=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libscalapack-openmpi-dev
      libopenblas-dev liblapacke-dev libnetcdf-dev netcdf-bin
      libonnx-dev protobuf-c-compiler libprotobuf-c-dev
      slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
