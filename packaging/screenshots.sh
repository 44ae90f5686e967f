#!/usr/bin/env bash
# Screenshots of the real app in an X window (Xvfb) on the sample collection -> docs/screenshots/.
# Usage: packaging/screenshots.sh [--out DIR] [--epochs N]   (options go to packaging/screenshots.py)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

if ! command -v xvfb-run >/dev/null; then
    echo "installing Xvfb and the X libraries Qt needs" >&2
    apt-get update
    apt-get install -y xvfb imagemagick libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
        libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 \
        libxcb-cursor0 libegl1 libgl1 libfontconfig1 libdbus-1-3
fi

QT_QPA_PLATFORM=xcb xvfb-run --auto-servernum --server-args="-screen 0 1600x1000x24 -nolisten tcp" \
    "$PY" packaging/screenshots.py "$@"
