#!/usr/bin/env bash
# MSP-IMPROV data dir (4 classes) from the release: `ser prepare msp_improv` once the CLI lists the corpus,
# until then the same function through its module entry point (python -m ser.corpora.msp_improv).
#   local/prepare_data.sh MSP_IMPROV_DIR DATA
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 MSP_IMPROV_DIR DATA" >&2; exit 1; }
verbs=$(ser prepare --help 2>/dev/null || true)
if [[ "$verbs" == *msp_improv* ]]; then
  ser prepare msp_improv "$1" "$2"
else
  python="$(dirname "$(command -v ser)")/python"
  [ -x "$python" ] || python=python3
  "$python" -m ser.corpora.msp_improv "$1" "$2"
fi
