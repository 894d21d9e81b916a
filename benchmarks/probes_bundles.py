"""Probes: tampered, truncated and hostile model bundles (issue 14 item 7 and the 'every tampered or
pickle-carrying bundle refused' class). Each is refused at load by `ser info` and `ser score` alike, naming the
file and the reason, with exit status 2 and nothing run."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from benchmarks.probekit import Result, clean, cli, default_model, family, verdict
from tests.hostile import reseal_bundle, tone_wavs


def _raw_edit(change):
    def make(dst: Path) -> None:
        dst.write_bytes(change(default_model().read_bytes()))
    return make


def _members(edit):
    """Rewrite the zip's members with `edit(dict name -> bytes)`, then seal it again as any tool could."""
    def make(dst: Path) -> None:
        from ser.bundle import _seal

        src = zipfile.ZipFile(io.BytesIO(default_model().read_bytes()))
        members = {n: src.read(n) for n in src.namelist()}
        edit(members)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        dst.write_bytes(_seal(out.getvalue()))
    return make


def _meta_byte_flipped(raw: bytes) -> bytes:
    at = raw.index(b'"classes"') + 3
    return raw[:at] + bytes([raw[at] ^ 0x20]) + raw[at + 1 :]


def _first_weight(members: dict) -> str:
    return next(n for n in members if n.startswith("model/"))


def _pickled_object_array(members: dict) -> None:
    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    members[_first_weight(members)] = out.getvalue()


def _reseal(edit):
    return lambda dst: reseal_bundle(default_model(), dst, edit)


def _weights(fn):
    def edit(meta, arrays):
        name = next(k for k in arrays if k.startswith("model/") and arrays[k].dtype.kind == "f")
        arrays[name] = fn(arrays[name])
    return edit


def _legacy_pickle(dst: Path) -> None:
    from tests.hostile import hostile_torch_file

    hostile_torch_file(dst, dst.parent / "pwned")


#: name -> (maker of the bad bundle, fragment of the refusal)
BUNDLE_CASES = {
    "meta_byte_flipped": (_raw_edit(_meta_byte_flipped), "checksum mismatch"),
    "central_directory_byte_flipped": (_raw_edit(lambda r: r[:-400] + bytes([r[-400] ^ 1]) + r[-399:]), "not a readable ser model bundle"),
    "seal_removed": (_raw_edit(lambda r: r[: r.rindex(b"ser-sha256:")]), "no checksum found"),
    "truncated_zip": (_raw_edit(lambda r: r[: len(r) // 2]), "File is not a zip file"),
    "empty_file": (_raw_edit(lambda r: b""), "not a zip archive"),
    "text_file": (_raw_edit(lambda r: b"this is not a model\n"), "not a zip archive"),
    "member_added": (_members(lambda m: m.update({"model/extra.npy": m[_first_weight(m)]})), "arrays it does not use (extra)"),
    "member_removed": (_members(lambda m: m.pop(_first_weight(m))), "model file lacks"),
    "foreign_member": (_members(lambda m: m.update({"../../evil.sh": b"rm -rf /"})), "unexpected member"),
    "pickled_object_array": (_members(_pickled_object_array), "allow_pickle=False"),
    "pickle_in_legacy_model_pt": (_legacy_pickle, "weights_only=True"),
    "nan_weights": (_reseal(_weights(lambda a: a * np.nan)), "NaN or Inf"),
    "inf_weights": (_reseal(_weights(lambda a: a + np.inf)), "NaN or Inf"),
    "weights_wrong_shape": (_reseal(_weights(lambda a: a.reshape(-1)[:-1])), "arrays do not fit"),
    "classes_edited_to_fewer": (_reseal(lambda meta, arrays: meta.update(classes=meta["classes"][:2])), "names 2 classes"),
    "future_format_version": (_reseal(lambda meta, arrays: meta.update(format_version=99)), "bundle format version 99"),
    "not_a_ser_bundle": (_reseal(lambda meta, arrays: meta.update(format="other")), "not a ser model bundle"),
}


def run_case(tmp: Path, name: str, case) -> Result:
    make, fragment = case
    model = tmp / "m.ser"
    make(model)
    clip = tone_wavs(tmp, ["a"])["a"]
    rc_i, _, err_i = cli("info", str(model))
    rc_s, out_s, err_s = cli("score", "--model", str(model), "--quiet", str(clip))
    ok = (rc_i == rc_s == 2 and fragment in err_i and fragment in err_s and str(model) in err_i and not out_s.strip()
          and clean(err_i + err_s) and not (tmp / "pwned").exists())
    return verdict(ok, f"refused: {err_i.strip().splitlines()[-1][-120:] if err_i.strip() else ''}",
                   f"info {rc_i}: {err_i.strip()[-200:]!r} | score {rc_s}: {err_s.strip()[-150:]!r} {out_s[-100:]!r}")


family("bundle", BUNDLE_CASES, run_case)

__all__ = ["BUNDLE_CASES"]
