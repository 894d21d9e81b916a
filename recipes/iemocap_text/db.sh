# Corpus locations for the IEMOCAP text recipe. Override with --iemocap-dir DIR (release, with --source iemocap-text)
# or IEMOCAP=DIR / IEMOCAP_JSON=DIR in the environment.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IEMOCAP_JSON="${IEMOCAP_JSON:-$(cd "$here/../../.." && pwd)/shared/data/iemocap-text}"
IEMOCAP="${IEMOCAP:-/corpora/IEMOCAP_full_release}"
