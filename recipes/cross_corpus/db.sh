# Corpus locations for the cross-corpus recipe. Override with --emodb-dir/--ravdess-dir or EMODB=/RAVDESS= in the
# environment. Default: the shared copies beside the repository.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EMODB="${EMODB:-$(cd "$here/../../.." && pwd)/shared/data/emodb}"
RAVDESS="${RAVDESS:-$(cd "$here/../../.." && pwd)/shared/data/ravdess}"
