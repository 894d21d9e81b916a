#!/usr/bin/env bash
# Parse --name value / --name=value options into the shell variables the recipe declared
# (a dash in the option becomes an underscore: --stop-stage 3 sets stop_stage=3).
# Usage inside run.sh, after declaring defaults:  . "$(dirname "$0")/../tools/parse_options.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "usage: $0 [--option value ...]; options and defaults:" >&2
      grep -E '^[a-z_]+=' "$0" | sed 's/^/  /' >&2
      exit 0 ;;
    --*=*) name="${1%%=*}"; value="${1#*=}"; shift ;;
    --*)
      name="$1"
      if [ $# -lt 2 ]; then echo "$0: option $name needs a value" >&2; exit 1; fi
      value="$2"; shift 2 ;;
    *) break ;;
  esac
  var="${name#--}"; var="${var//-/_}"
  if ! declare -p "$var" >/dev/null 2>&1; then
    echo "$0: unknown option $name" >&2; exit 1
  fi
  printf -v "$var" '%s' "$value"
done
