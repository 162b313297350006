#!/bin/sh
# The one dependency step behind every README command.
# Idempotent: checks which Debian packages are missing; as root it runs
# apt-get update + install for exactly those, otherwise it prints the
# apt-get line to run and fails.  Nothing is downloaded from anywhere else.
set -eu

PKGS="gcc clang make flex bison m4 pkg-config libcmocka-dev libopenblas-dev
      libcjson-dev zlib1g-dev python3 python3-torch python3-torchvision
      python3-numpy dataset-fashion-mnist graphviz libclang-rt-14-dev libomp-dev valgrind man-db
      protobuf-c-compiler libprotobuf-c-dev libonnx-dev darknet
      gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-aarch64-linux-gnu
      qemu-user qemu-system-arm"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
    exit 0
fi

echo "deps: missing Debian packages:$missing" >&2
echo "deps: run as root:  apt-get update && apt-get install -y$missing" >&2
exit 1
