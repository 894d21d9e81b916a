# Corpus location for the IEMOCAP recipe. Override with --iemocap-dir DIR or IEMOCAP=DIR in the environment.
# IEMOCAP is licence-gated (request it at https://sail.usc.edu/iemocap/); point IEMOCAP at the unpacked
# IEMOCAP_full_release folder (the one holding Session1 .. Session5). Default: a copy beside the repository.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IEMOCAP="${IEMOCAP:-$(cd "$here/../../.." && pwd)/shared/data/IEMOCAP_full_release}"
IEMOCAP_SOURCE="licence-gated: request it at https://sail.usc.edu/iemocap/"
