# verify_sha256 FILE EXPECTED: a file fetched over plain HTTP is checked against a pinned SHA-256 before use.
# EXPECTED empty: no pin is known (EmoDB publishes none); say so, print the hash to pin, and go on.
# A mismatch is exit status 1 with the file, both hashes and what to do; the file is left for inspection.
verify_sha256() {
  local file="$1" expected="${2:-}" actual
  actual="$(python3 -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$file")" || { echo "verify_sha256: cannot read $file" >&2; return 1; }
  if [ -z "$expected" ]; then
    echo "WARNING: $file was downloaded over plain HTTP and is not verified (no pinned SHA-256); its SHA-256 is" \
         "$actual: check it against a copy you trust and pin it with EMODB_SHA256=$actual" >&2
    return 0
  fi
  if [ "${actual,,}" != "${expected,,}" ]; then
    echo "SHA-256 mismatch for $file: expected $expected (the pin), got $actual. The download is damaged or not" \
         "the corpus you pinned (it came over plain HTTP): delete it and retry, or fetch the corpus yourself and" \
         "pass --emodb-dir DIR; if the publisher changed the file on purpose, update the pin EMODB_SHA256." >&2
    return 1
  fi
}
