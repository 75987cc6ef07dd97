#!/usr/bin/env bash
# Set-up + the default test suite (slow tests excluded; run them with: python -m pytest -m slow).
# pytest exits 5 when it collected no test: that must fail here, not pass silently.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
python3 -m pytest -q -p no:cacheprovider "$@"
