"""Every command line answers --help and argument errors at once, describes every option with its default, and
imports no heavy library before parsing; package re-exports stay complete although they are lazy."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

#: python -m <module> of every command line, with an argument error each
CLIS = {
    "monai_fodgan.prepare": ["--out", "x"],  # no input given
    "monai_fodgan.evaluate": ["--synthetic", "s"],  # --reference and --out missing
    "monai_fodgan.demo": ["--subjects", "two"],
    "monai_fodgan.data.training_arrays": ["--dtype", "int8"],
    "monai_fodgan.data.phantom": ["--n", "3"],  # --out missing
    "monai_fodgan.bundle_copy": ["--bundle", "nope"],  # DEST missing, unknown bundle
}
#: generous: --help takes about 0.1 s on an idle machine; importing torch alone 1.4 s, MONAI 5.6 s
LIMIT_S = 5.0
HEAVY = ("torch", "monai", "dipy", "nilearn", "matplotlib")  # numpy and nibabel (with parts of scipy) are cheap


def _run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return proc, time.perf_counter() - start


@pytest.mark.parametrize("module", sorted(CLIS))
def test_help_is_fast_and_shows_defaults(module: str, tmp_path: Path) -> None:
    proc, seconds = _run(["-m", module, "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert seconds < LIMIT_S, f"python -m {module} --help took {seconds:.1f} s"
    assert proc.stdout.startswith(f"usage: python -m {module}")
    assert "(default: " in proc.stdout


PARSERS = {"monai_fodgan.prepare": "monai_fodgan.prepare.__main__:build_parser", "monai_fodgan.evaluate": "monai_fodgan.evaluate:_parser",
           "monai_fodgan.demo": "monai_fodgan.demo:build_parser", "monai_fodgan.data.phantom": "monai_fodgan.data.phantom.__main__:build_parser",
           "monai_fodgan.data.training_arrays": "monai_fodgan.data.training_arrays:build_parser",
           "monai_fodgan.bundle_copy": "monai_fodgan.bundle_copy:build_parser"}


@pytest.mark.parametrize("module", sorted(CLIS))
def test_every_option_is_described_with_its_default(module: str) -> None:
    where, name = PARSERS[module].split(":")
    parser = getattr(importlib.import_module(where), name)()
    text = parser.format_help()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{module} {action.option_strings[0]} has no description"
        shown = parser.formatter_class(prog="x")._get_help_string(action)
        if action.default not in (None, False):
            assert "(default: " in shown, f"{module} {action.option_strings[0]} does not show its default"
    assert set(CLIS) and text


@pytest.mark.parametrize("module", sorted(CLIS))
def test_argument_errors_are_fast(module: str, tmp_path: Path) -> None:
    proc, seconds = _run(["-m", module, *CLIS[module]], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert seconds < LIMIT_S, f"python -m {module} {' '.join(CLIS[module])} took {seconds:.1f} s"
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_input_is_named_at_once(tmp_path: Path) -> None:
    proc, seconds = _run(["-m", "monai_fodgan.prepare", "--dwi", "missing.nii.gz", "--out", "out"], tmp_path)
    assert proc.returncode == 2 and "--dwi missing.nii.gz: no such file" in proc.stderr
    assert seconds < LIMIT_S and not (tmp_path / "out").exists()


def test_evaluate_example_renders_as_written(tmp_path: Path) -> None:
    proc, _ = _run(["-m", "monai_fodgan.evaluate", "--help"], tmp_path)
    lines = proc.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "--synthetic fodgan_output/synthetic" in line)
    assert lines[first].endswith("\\") and lines[first + 1].strip().startswith("--training")


def test_parsing_imports_no_heavy_library(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from monai_fodgan.prepare.__main__ import build_parser\n"
        "from monai_fodgan.evaluate import _parser\n"
        "import monai_fodgan.demo, monai_fodgan.data.phantom.__main__ as phantom\n"
        "build_parser().parse_args(['--fod', 'x', '--out', 'y']); _parser().parse_args(['--synthetic', 'a', '--reference', 'b', '--out', 'c'])\n"
        "for main in (monai_fodgan.demo.main, phantom.main):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc, _ = _run(["-c", code], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("package", ["monai_fodgan.transforms", "monai_fodgan.networks", "monai_fodgan.engines",
                                     "monai_fodgan.inference", "monai_fodgan.data", "monai_fodgan.data.phantom",
                                     "monai_fodgan.prepare", "monai_fodgan.evaluation",
                                     "monai_fodgan.evaluation.tractography"])
def test_lazy_packages_export_every_public_name(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
        assert name in dir(module)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_shell_line_is_what_one_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monai_fodgan.cli import shell_line

    monkeypatch.chdir(tmp_path)
    line = shell_line(["python", "-m", "monai.bundle", "run", "--config_file", f"['{tmp_path}/a.json','/b c/d.json']",
                       "--output_dir", str(tmp_path / "out dir"), "--x", "it's $HOME"])
    assert line == ("python -m monai.bundle run --config_file \"['a.json','/b c/d.json']\" --output_dir 'out dir' "
                    "--x 'it'\"'\"'s $HOME'")
