"""Probes: YAML files, list files and text input a user hands to ser (issue 14 items 5 and 9): an alias bomb,
deep or huge YAML, huge or looping list files, malformed turns for `ser converse`. Each is refused in one line
naming the file (and line) and the limit or reason."""

from __future__ import annotations

from pathlib import Path

from benchmarks.probekit import Result, clean, cli, family, verdict
from tests.hostile import billion_laughs, sparse_file, tiny_text_model, tone_wavs


def _yaml_verb(kind: str, bad: Path, tmp: Path) -> list[str]:
    clips = tmp / "clips" / "spk1"
    tone_wavs(clips, ["a"])
    (tmp / "l.csv").write_text("file,label\nspk1/a,angry\n")
    return {
        "config": ["train", "--config", str(bad), "--print-config", str(tmp), str(tmp), str(tmp)],
        "features": ["extract", "--features", str(bad), "--no-progress", str(tmp / "clips"), str(tmp / "f")],
        "label_map": ["prepare", "wavdir", str(tmp / "clips"), str(tmp / "d"), "--labels", str(tmp / "l.csv"), "--label-map", str(bad)],
    }[kind]


def _deep(path: Path) -> Path:
    path.write_text("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)) + "  " * 80 + "1\n")
    return path


def _many_nodes(path: Path) -> Path:
    path.write_text("a: [" + ",".join(["1"] * 30_000) + "]\n")
    return path


YAML_CASES = {
    "alias_bomb_config": ("config", billion_laughs, "aliases"),
    "alias_bomb_feature_set": ("features", billion_laughs, "aliases"),
    "alias_bomb_label_map": ("label_map", billion_laughs, "aliases"),
    "deep_yaml_feature_set": ("features", _deep, "more than 64 levels"),
    "many_nodes_label_map": ("label_map", _many_nodes, "more than 20000 YAML nodes"),
    "huge_yaml_config": ("config", lambda p: sparse_file(p, 5 * 1024**2), "more than a config file may hold (1048576)"),
    "yaml_not_utf8_feature_set": ("features", lambda p: p.write_bytes(b"name: \xff\n") and p, "not UTF-8"),
}


def run_yaml(tmp: Path, name: str, case) -> Result:
    kind, make, fragment = case
    bad = make(tmp / "bad.yaml")
    rc, _, err = cli(*_yaml_verb(kind, bad, tmp))
    ok = rc == 2 and str(bad) in err and fragment in err and clean(err) and len(err.strip().splitlines()) == 1
    return verdict(ok, err.strip()[-120:], f"rc {rc}: {err.strip()[-250:]!r}")


family("yaml", YAML_CASES, run_yaml)


def run_list(tmp: Path, name: str, case) -> Result:
    """A list file given to `ser score`: the good clip it names is scored, the fault is an error row."""
    good = tone_wavs(tmp, ["a"])["a"]
    listing = tmp / "clips.txt"
    fragment = case(listing, good)
    rc, out, err = cli("score", "--json", "--quiet", str(listing))
    ok = rc == 1 and fragment in out and clean(err) and (name == "too_large" or out.count('"error": null') == 1)
    return verdict(ok, "error row, the rest scored", f"rc {rc}: {out[-250:]!r} {err[-150:]!r}")


def _put(listing: Path, text: str, fragment: str) -> str:
    listing.write_text(text)
    return fragment


def _too_large(listing: Path, good: Path) -> str:
    sparse_file(listing, 65 * 1024**2)
    with open(listing, "r+b") as handle:  # a text head, so it is taken as a list, not as audio
        handle.write(f"{good}\n".encode() + b"# padding\n" * 1000)
    return "more than a list file may hold"


def _two_list_cycle(listing: Path, good: Path) -> str:
    other = listing.with_name("other.txt")
    other.write_text(f"{listing}\n")
    listing.write_text(f"{good}\n{other}\n")
    return "lists itself"


LIST_CASES = {
    "too_large": _too_large,
    "line_longer_than_a_path": lambda lst, good: _put(lst, f"{'z' * 5000}\n{good}\n", "longer than 4096"),
    "cycle_through_another_list": _two_list_cycle,
    "names_missing_clip": lambda lst, good: _put(lst, f"{good}\n{lst.parent / 'gone.wav'}\n", "file does not exist"),
}
family("list_file", LIST_CASES, run_list)


def run_converse(tmp: Path, name: str, case) -> Result:
    stdin, fragment = case
    import io
    import sys

    model = tiny_text_model(tmp / "m.pt")
    real = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="strict")
    try:
        rc, out, err = cli("converse", str(model))
    finally:
        sys.stdin = real
    answered = len(out.splitlines()) - 1  # after the header
    if fragment is None:  # read like any other turn: speaker '-' for a line without a tab, U+FFFD for a bad byte
        ok = rc == 0 and answered == 2 and clean(err)
    else:
        ok = rc == 2 and fragment in err and answered == 1 and clean(err)
    return verdict(ok, f"{answered} turns answered{', the bad one named' if fragment else ''}", f"rc {rc}: {err[-250:]!r} {out[-100:]!r}")


CONVERSE_CASES = {
    "turn_without_tab": (b"no tab here\nB\tw2\n", None),
    "turn_not_utf8": (b"A\tw\xff1\nB\tw2\n", None),
    "turn_too_long": (b"A\t" + b"w1 " * 40_000 + b"\nB\tw2\n", "<stdin>:1"),
}
family("converse", CONVERSE_CASES, run_converse)


def run_conv_json(tmp: Path, name: str, case) -> Result:
    text, fragment = case
    (tmp / "c.json").write_text(text)
    rc, _, err = cli("converse", str(tiny_text_model(tmp / "m.pt")), str(tmp / "c.json"))
    ok = rc == 2 and "c.json" in err and fragment in err and clean(err)
    return verdict(ok, err.strip()[-120:], f"rc {rc}: {err[-250:]!r}")


CONV_JSON_CASES = {
    "object_not_list": ('{"speaker": "A"}', "expected a JSON list of dialogues"),
    "turn_lacks_utterance": ('[[{"speaker": "A"}]]', "dialogue 0 turn 0: expected an object with speaker and utterance"),
    "not_json": ("[[{", "not valid JSON"),
}
family("conversation_json", CONV_JSON_CASES, run_conv_json)

__all__ = ["CONVERSE_CASES", "CONV_JSON_CASES", "LIST_CASES", "YAML_CASES"]
