#!/usr/bin/env bash
# Set up .venv (see setup_env.sh) and run the default test suite (slow tests: -m slow).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
