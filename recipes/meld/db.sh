# Corpus location for the MELD text recipe. Override with --meld-dir DIR or MELD=DIR in the environment.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MELD="${MELD:-$(cd "$here/../../.." && pwd)/shared/data/meld}"
