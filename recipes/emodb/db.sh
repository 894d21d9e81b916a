# Corpus location for the EmoDB recipe. Override with --emodb-dir DIR or EMODB=DIR in the environment.
# Default: the shared copy beside the repository when it exists; otherwise run.sh downloads the official zip.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EMODB="${EMODB:-$(cd "$here/../../.." && pwd)/shared/data/emodb}"
EMODB_URL="${EMODB_URL:-http://emodb.bilderbar.info/download/download.zip}"
# SHA-256 of the downloaded zip, checked before it is unpacked (it comes over plain HTTP). EmoDB publishes no
# checksum, so none is pinned here: run.sh prints the hash it got; pin it (EMODB_SHA256=...) once you trust that copy.
EMODB_SHA256="${EMODB_SHA256:-}"
