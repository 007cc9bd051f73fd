"""README.md's TypeScript examples work from Python.

The build's `jsii-rosetta extract --strict` compiles each ```ts block in rosetta/default.ts-fixture
and writes its translations to .jsii.tabl.json. Here each block's Python translation runs in
the wheel's venv, inside the Python mirror of that fixture (see readme_fixture.py), and what it
builds is synthesized. One test per README block, named by its line.
"""
import json
import zipfile

import pytest

import readme_fixture as rf

README_TEXT = rf.README.read_text(encoding="utf-8") if rf.README.exists() else ""
BLOCKS = rf.readme_blocks(README_TEXT)
# Hand-written Python examples, if the README has any, must work too.
PY_BLOCKS = rf.readme_blocks(README_TEXT, languages=("python", "py"))


@pytest.fixture(scope="session")
def tablet():
    try:
        return rf.load_tablet()
    except rf.SnippetError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def readme_results(tablet, venv_python, tmp_path_factory):
    """Runs every block that could be prepared in one venv process; {line: result or prep error}."""
    tmp = tmp_path_factory.mktemp("readme")
    results, jobs = {}, []
    for block in BLOCKS:
        try:
            jobs.append(rf.make_job(block, tablet))
        except rf.SnippetError as e:
            results[block["line"]] = {"ok": False, "error": str(e)}
    jobs.extend(rf.make_python_job(block) for block in PY_BLOCKS)
    (tmp / "jobs.json").write_text(json.dumps(jobs, indent=1))
    if jobs:
        # TMPDIR: where each App without an outdir writes its cloud assembly.
        (tmp / "apps").mkdir()
        venv_python.run(
            ["test/python/readme_runner.py", str(tmp / "jobs.json"), str(tmp / "results.json")],
            env={"TMPDIR": str(tmp / "apps")},
        )
        for r in json.loads((tmp / "results.json").read_text()):
            results[r["line"]] = r
    return {"jobs": {j["line"]: j for j in jobs}, "results": results}


def _id(block):
    return f"README.md:{block['line']}" if block else "no-ts-blocks"


@pytest.mark.parametrize("block", BLOCKS or [None], ids=_id)
def test_readme_snippet_synthesizes_in_python(block, readme_results):
    assert block is not None, "README.md has no ```ts examples; a construct library's README must show its use"
    result = readme_results["results"][block["line"]]
    job = readme_results["jobs"].get(block["line"])
    python = job["python"] if job else ""
    assert result["ok"], (
        f"README.md:{block['line']}: the Python translation failed:\n{result['error']}\n--- Python\n{python}"
        + ("\n(hidden code, /// !hide, is left out of translations: use `declare const` instead)"
           if "/// !hide" in block["source"] else "")
    )
    assert result["stacks"] >= 1 and result["resources"] >= 1, (
        f"README.md:{block['line']}: nothing was synthesized from:\n{python}"
    )
    if "ECRDeployment(" in python:
        assert result["deployments"] >= 1, (
            f"README.md:{block['line']}: builds an ECRDeployment, but no Custom::CDKECRDeployment was synthesized "
            f"(keep the app or stack in a variable so the test can synthesize it):\n{python}"
        )


if PY_BLOCKS:  # (an empty parametrization would be reported as skipped)
    @pytest.mark.parametrize("block", PY_BLOCKS, ids=_id)
    def test_readme_python_block_synthesizes(block, readme_results):
        result = readme_results["results"][block["line"]]
        assert result["ok"], f"README.md:{block['line']} (```python) failed:\n{result['error']}"
        assert result["stacks"] >= 1 and result["resources"] >= 1, f"README.md:{block['line']}: nothing synthesized"
        if "ECRDeployment(" in block["source"]:
            assert result["deployments"] >= 1, f"README.md:{block['line']}: no Custom::CDKECRDeployment synthesized"


def test_readme_shows_a_deployment(readme_results):
    assert BLOCKS, "README.md has no ```ts examples"
    assert any(r.get("deployments") for r in readme_results["results"].values()), readme_results["results"]


def test_fixture_translates_to_python():
    imports = rf.python_imports((rf.FIXTURES / "default.ts-fixture").read_text())
    _, module = rf.python_module_name()
    assert "from aws_cdk import Stack" in imports and "import aws_cdk.aws_ecr as ecr" in imports, imports
    # rosetta's spelling of a TypeScript alias in Python
    assert rf.snake("lambda") == "lambda_" and rf.snake("ecrAssets") == "ecr_assets"
    assert rf.py_module("aws-cdk-lib/aws-ecr-assets") == "aws_cdk.aws_ecr_assets"
    assert rf.py_module("cdk-ecr-deployment") == module
    compile("\n".join(imports), "<fixture imports>", "exec")


def _flat(text):
    """Lines without their indentation: a README block inside a list is indented in the wheel."""
    return "\n".join(line.strip() for line in text.strip().splitlines())


def test_wheel_readme_shows_python(wheel, tablet):
    """jsii-pacmak puts the tablet's Python translations in the wheel's long description (PyPI page)."""
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode("utf-8")
    assert BLOCKS, "README.md has no ```ts examples"
    missing = []
    for block in BLOCKS:
        try:
            python = rf.tablet_entry(tablet, block)["translations"]["python"]["source"]
        except rf.SnippetError as e:
            pytest.fail(str(e), pytrace=False)
        if _flat(python) not in _flat(meta):
            missing.append(block["line"])
    assert not missing, (
        f"the wheel's README lacks the Python translation of README.md lines {missing}: the wheel was "
        "built before the README changed, or without the tablet; run `npx projen build`"
    )
