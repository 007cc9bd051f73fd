"""Shared fixtures for the Python-package tests.

These tests check the built wheel (dist/python/*.whl) as a Python user gets it: installed
into a fresh venv with aws-cdk-lib and constructs from PyPI (made once per session by
make_venv.sh, and reused across runs while the wheel's sha256 is unchanged).

Run from the repository root:  .venv/bin/python -m pytest -q test/python
The wheel comes from `npx projen build` (which runs package:python); these tests never build it.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))


def _wheel_or_fail():
    wheels = sorted((ROOT / "dist" / "python").glob("*.whl"))
    if not wheels:
        pytest.fail(
            "no wheel in dist/python/: run `npx projen build` first (it runs package:python)",
            pytrace=False,
        )
    if len(wheels) > 1:
        pytest.fail(f"more than one wheel in dist/python/: {[w.name for w in wheels]}", pytrace=False)
    return wheels[0]


@pytest.fixture(scope="session")
def wheel():
    return _wheel_or_fail()


@pytest.fixture(scope="session")
def venv(wheel):
    """A venv with the wheel, aws-cdk-lib and constructs, shared with the e2e harness."""
    proc = subprocess.run(
        ["bash", str(HERE / "make_venv.sh")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"make_venv.sh failed ({proc.returncode}):\n{proc.stderr}", pytrace=False)
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert (path / "bin" / "python").exists(), path
    return path


class VenvPython:
    """Runs scripts with the venv's interpreter, in an environment like `cdk synth` gives."""

    def __init__(self, venv):
        self.python = str(venv / "bin" / "python")

    def run(self, args, env=None, timeout=600):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "JSII_"))}
        full_env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
        full_env.update(env or {})
        proc = subprocess.run(
            [self.python, *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"{' '.join(map(str, args))} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-8000:]}",
                pytrace=False,
            )
        return proc


@pytest.fixture(scope="session")
def venv_python(venv):
    return VenvPython(venv)
