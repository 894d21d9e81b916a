"""Input bounds of issue 14 item 5 for the small files users hand to ser: YAML files (configs, feature sets, label
maps, search spaces, model cards) and `ser score` list files. Each limit is refused with one line naming the file
and the number; the README's limits table lists the same numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser.cli import main
from ser.errors import InputFileError
from ser.limits import load_yaml_file
from ser.listfile import MAX_LIST_BYTES, MAX_LIST_ENTRIES, MAX_LIST_LINE_CHARS, list_entries
from ser.yaml_bounds import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from tests.hostile import billion_laughs, sparse_file, tone_wavs

REPO = Path(__file__).resolve().parents[1]


def refusal(path: Path) -> str:
    with pytest.raises(InputFileError) as info:
        load_yaml_file(path, "config file")
    assert info.value.path == str(path)
    return info.value.reason


def test_yaml_alias_bomb_is_refused_before_expansion(tmp_path):
    bomb = billion_laughs(tmp_path / "lol.yaml")
    reason = refusal(bomb)
    assert "aliases" in reason and "line 2" in reason


def test_yaml_too_many_nodes(tmp_path):
    many = tmp_path / "many.yaml"
    many.write_text("[" + ",".join(["1"] * (MAX_YAML_NODES + 1)) + "]\n")
    assert f"more than {MAX_YAML_NODES} YAML nodes" in refusal(many)


def test_yaml_too_deep(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("a:\n" + "".join("  " * i + "b:\n" for i in range(1, MAX_YAML_DEPTH + 2)) + "  " * (MAX_YAML_DEPTH + 2) + "1\n")
    assert f"more than {MAX_YAML_DEPTH} levels" in refusal(deep)
    ok = tmp_path / "ok.yaml"
    ok.write_text("a:\n  b:\n    c: 1\n")
    assert load_yaml_file(ok) == {"a": {"b": {"c": 1}}}


def test_yaml_too_large_by_size_alone(tmp_path):
    big = sparse_file(tmp_path / "big.yaml", MAX_YAML_BYTES + 1)
    assert f"more than a config file may hold ({MAX_YAML_BYTES})" in refusal(big)


def test_shipped_yaml_files_are_within_the_bounds():
    files = [*REPO.glob("features/*.yaml"), *REPO.glob("ser/labelmaps/*.yaml"), *REPO.glob("recipes/*/conf/*.yaml")]
    assert len(files) > 20
    for path in files:
        load_yaml_file(path)


@pytest.mark.parametrize("verb", ["label-map", "features", "config"])
def test_each_user_yaml_entry_point_refuses_aliases(tmp_path, capsys, verb):
    bomb = billion_laughs(tmp_path / "lol.yaml")
    tone_wavs(tmp_path / "clips" / "spk1", ["a"])
    (tmp_path / "l.csv").write_text("file,label\nspk1/a,angry\n")
    argv = {
        "label-map": ["prepare", "wavdir", str(tmp_path / "clips"), str(tmp_path / "d"), "--labels", str(tmp_path / "l.csv"),
                      "--label-map", str(bomb)],
        "features": ["extract", "--features", str(bomb), "--no-progress", str(tmp_path / "clips"), str(tmp_path / "f")],
        "config": ["train", "--config", str(bomb), "--print-config", str(tmp_path), str(tmp_path), str(tmp_path)],
    }[verb]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(bomb) in err and "aliases" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_list_file_bounds(tmp_path):
    wav = tone_wavs(tmp_path, ["a"])["a"]
    listing = tmp_path / "clips.txt"
    listing.write_text(f"{wav}\n{'x' * (MAX_LIST_LINE_CHARS + 1)}\n\n# comment\n{wav}\n")
    rows = list(list_entries(listing))
    assert rows[0] == (str(wav), None) and rows[2] == (str(wav), None)
    assert rows[1][0] is None and f"{listing}:2" in rows[1][1] and str(MAX_LIST_LINE_CHARS) in rows[1][1]
    big = sparse_file(tmp_path / "big.txt", MAX_LIST_BYTES + 1)
    [(entry, reason)] = list(list_entries(big))
    assert entry is None and str(MAX_LIST_BYTES) in reason and str(big) in reason


def test_list_file_entry_count_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr("ser.listfile.MAX_LIST_ENTRIES", 3)
    listing = tmp_path / "clips.txt"
    listing.write_text("".join(f"/x/{i}.wav\n" for i in range(5)))
    rows = list(list_entries(listing))
    assert [e for e, _ in rows[:3]] == ["/x/0.wav", "/x/1.wav", "/x/2.wav"] and len(rows) == 4
    assert rows[3][0] is None and "more than 3 entries" in rows[3][1] and f"{listing}:4" in rows[3][1]
    assert MAX_LIST_ENTRIES == 1_000_000  # the documented number (patched above only to keep the test small)


def test_score_reports_a_too_long_list_line_and_scores_the_rest(tmp_path, capsys):
    wav = tone_wavs(tmp_path, ["a"])["a"]
    listing = tmp_path / "clips.txt"
    listing.write_text(f"{'y' * (MAX_LIST_LINE_CHARS + 5)}\n{wav}\n")
    assert main(["score", "--json", "--quiet", str(listing)]) == 1
    out = capsys.readouterr().out
    assert out.count('"error": null') == 1 and f"{listing}:1" in out and "left out" in out
