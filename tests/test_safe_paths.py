"""Subject IDs and output paths that would leave the output folder are refused (issue 15, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monai_fodgan.safe_paths import UnsafePathError, check_subject_id, path_under


@pytest.mark.parametrize("subject", ["sub-01", "sub-01_ses-2", "A.b_c-9", "0001"])
def test_safe_ids_pass(subject: str) -> None:
    assert check_subject_id(subject) == subject


@pytest.mark.parametrize("subject", ["../../evil", "/etc/evil", "a/b", "sub..01", ".hidden", "-x", "", "a b", "sub-01\n",
                                     "x" * 201])
def test_unsafe_ids_refused_naming_the_source(subject: str) -> None:
    with pytest.raises(UnsafePathError, match=r"^table\.csv, line 7: subject ID"):
        check_subject_id(subject, "table.csv, line 7")


def test_path_under_refuses_escapes_and_links_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "fod").mkdir(parents=True)
    assert path_under(out, "fod/sub-01.nii.gz") == out / "fod" / "sub-01.nii.gz"
    for escape in ("../evil.nii.gz", "fod/../../evil.nii.gz", str(tmp_path / "evil.nii.gz")):
        with pytest.raises(UnsafePathError, match="outside the output folder"):
            path_under(out, escape)
    (tmp_path / "elsewhere").mkdir()
    (out / "native").symlink_to(tmp_path / "elsewhere")  # a link inside the output folder cannot redirect writes
    with pytest.raises(UnsafePathError):
        path_under(out, "native/sub-01.json")


def test_datalist_image_outside_the_folder_is_refused(tmp_path: Path) -> None:
    from monai_fodgan.prepare import PrepareConfig
    from monai_fodgan.prepare.cohort import _read_datalist

    out = tmp_path / "set"
    out.mkdir()
    (out / "datalist.json").write_text('{"training": [{"subject": "s1", "image": "../../evil.nii.gz"}]}')
    with pytest.raises(ValueError, match=str(out / "datalist.json")):
        _read_datalist(PrepareConfig(out=out), ["s2"])
