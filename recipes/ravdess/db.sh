# Corpus location for the RAVDESS recipe. Override with --ravdess-dir DIR or RAVDESS=DIR in the environment.
# RAVDESS speech audio: Audio_Speech_Actors_01-24.zip from https://zenodo.org/record/1188976 (CC BY-NC-SA 4.0),
# unpacked into a folder holding Actor_01 .. Actor_24. Default: a copy beside the repository.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RAVDESS="${RAVDESS:-$(cd "$here/../../.." && pwd)/shared/data/ravdess}"
RAVDESS_SOURCE="download Audio_Speech_Actors_01-24.zip from https://zenodo.org/record/1188976 (CC BY-NC-SA 4.0) and unpack it"
