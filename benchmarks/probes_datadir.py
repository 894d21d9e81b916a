"""Probes: malformed Kaldi-style data dirs through `ser validate-data-dir` and `ser extract` (issue 14 items 9 and
10, and validate_data_dir.sh's checks). Each case edits one map of a good four-utterance dir; validate must
report it by file (and line where there is one), and extract must either do the usable utterances and exit 1
naming the rest, or refuse the whole dir in one line, as the README says for that kind of fault."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.probekit import Result, clean, cli, extract, family, lines, read, verdict
from tests.hostile import tone_datadir

IDS = ["s1-a", "s1-b", "s2-a", "s2-b"]


def _edit(name: str, change):
    def apply(data: Path) -> None:
        path = data / name
        path.write_bytes(change(path.read_bytes()))
    return apply


def _swap_first_two(raw: bytes) -> bytes:
    rows = raw.splitlines(keepends=True)
    return b"".join([rows[1], rows[0], *rows[2:]])


#: name -> (edit of the data dir, fragment validate must print, extract: number extracted or "refused")
DATADIR_CASES = {
    "duplicate_id_in_wav_scp": (_edit("wav.scp", lambda r: r + r.splitlines(keepends=True)[-1]), "wav.scp:5: duplicate id 's2-b'", 4),
    "unsorted_wav_scp": (_edit("wav.scp", _swap_first_two), 'wav.scp: not sorted', 4),
    "unsorted_utt2spk": (_edit("utt2spk", _swap_first_two), 'utt2spk: not sorted', 4),
    "utt2spk_lacks_an_entry": (_edit("utt2spk", lambda r: b"".join(r.splitlines(keepends=True)[:-1])), 'utt2spk: 1 utterances missing, e.g. s2-b', 3),
    "utt2spk_extra_entry": (_edit("utt2spk", lambda r: r + b"s3-z s3\n"), '1 ids not in wav.scp, e.g. s3-z', 4),
    "crlf_line_ends": (_edit("wav.scp", lambda r: r.replace(b"\n", b"\r\n")), None, 4),
    "utf8_bom": (_edit("utt2spk", lambda r: b"\xef\xbb\xbf" + r), None, 4),
    "empty_lines": (_edit("utt2spk", lambda r: r.replace(b"\n", b"\n\n", 1)), None, 4),
    "tab_separators": (_edit("utt2spk", lambda r: r.replace(b" ", b"\t")), None, 4),
    "line_without_value": (_edit("utt2spk", lambda r: r.replace(b"s1-b s1", b"s1-b")), "utt2spk:2: 's1-b' has no value", 3),
    "nul_byte_in_a_map": (_edit("wav.scp", lambda r: r.replace(b".wav", b".w\0av", 1)), 'wav.scp:1: NUL byte', 3),
    "spk2utt_disagrees": (_edit("spk2utt", lambda r: r.replace(b"s1-b", b"")), "spk2utt: does not match utt2spk (e.g. speaker 's1')", 4),
    "speaker_not_a_prefix": (_edit("utt2spk", lambda r: r.replace(b"s2-b s2", b"s2-b zz")), "'s2-b' does not start with its speaker id 'zz'", 4),
    "wav_scp_names_missing_file": (_edit("wav.scp", lambda r: r.replace(b"s2-a.wav", b"gone.wav")), "'s2-a' points to a missing file", 3),
    "wav_scp_pipe_entry": (_edit("wav.scp", lambda r: re.sub(rb"(?m)^s2-a .*$", b"s2-a sox x.wav -t wav - |", r)), "'s2-a' is a piped command; ser reads plain file paths only", 3),
    "no_wav_scp": (lambda d: (d / "wav.scp").unlink(), "missing required file 'wav.scp'", 'refused'),
    "empty_wav_scp": (_edit("wav.scp", lambda r: b""), '4 ids not in wav.scp', 'refused'),
    "segments_non_numeric": (lambda d: (d / "segments").write_text("s1-a s1-a 0 x\n"), "needs 'reco start end'", "refused"),
    "segments_negative_span": (lambda d: (d / "segments").write_text(
        "s1-a s1-a 0.3 0.1\ns1-b s1-b 0 0.2\ns2-a s2-a 0 0.2\ns2-b s2-b 0 0.2\n"), "empty or negative span", 3),
    "utt2emo_duplicate_id": (lambda d: (d / "utt2emo").write_text("s1-a ang\ns1-a hap\ns1-b sad\n"), "utt2emo:2: duplicate id 's1-a'", 4),
}


def run_case(tmp: Path, name: str, case) -> Result:
    change, fragment, expected = case
    data = tone_datadir(tmp, IDS)
    change(data)
    rc_v, out_v, err_v = cli("validate-data-dir", str(data))
    rc_e, _, err_e = extract(data, tmp / "f")
    n = lines(tmp / "f" / "feats.scp")
    said = out_v + err_v
    if fragment is None:  # tolerated: read as if the file were plain
        ok = rc_v == 0 and rc_e == 0 and n == 4 and "\r" not in read(tmp / "f" / "feats.scp") and clean(err_e)
    elif expected == "refused":
        ok = rc_v != 0 and fragment in said and rc_e == 2 and n == 0 and len(err_e.strip().splitlines()) == 1 and clean(err_e)
    else:
        ok = (rc_v != 0 and fragment in said and n == expected and clean(err_e)
              and (rc_e == 1 if expected < 4 else rc_e in (0, 1)))
    report = f"validate {rc_v}: {said.strip()[-160:]!r} | extract {rc_e}, {n} done: {err_e.strip()[-160:]!r}"
    return verdict(ok, f"validate names it; extract {n} done, exit {rc_e}" if ok else "", report)


family("datadir", DATADIR_CASES, run_case)

__all__ = ["DATADIR_CASES"]
