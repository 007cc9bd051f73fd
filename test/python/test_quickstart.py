"""The seed's Python quickstart, exactly as written, synthesized with the built wheel.

It runs through synth_app.py, the same entry point the e2e harness uses, with the environment
`cdk synth` gives an app: CDK_OUTDIR, CDK_CONTEXT_JSON and CDK_DEFAULT_ACCOUNT/REGION.
"""
import json

import pytest

from assembly import asset_dir_of_function, elf_machine, load_assembly, resources_of_type
from seed import find_seed

STACK = "CdkEcrDeploymentExampleStack"
HANDLER_PREFIX = "CustomCDKECRDeploymentbd07c930edb94112a20f03f096f53666512MiB"


@pytest.fixture(scope="module")
def quickstart(venv_python, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("quickstart") / "cdk.out"
    venv_python.run(
        ["test/python/synth_app.py"],
        env={
            "CDK_OUTDIR": str(outdir),
            # What the CDK CLI passes: path metadata on, so the context visibly reaches the App.
            "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:enable-path-metadata": True}),
            "CDK_DEFAULT_ACCOUNT": "123456789012",
            "CDK_DEFAULT_REGION": "us-east-1",
        },
    )
    templates, manifest = load_assembly(outdir)
    return outdir, templates, manifest


def test_seed_is_the_documented_quickstart():
    # Guards against picking up some other document: the code is used as written, so check what it says.
    path, doc = find_seed()
    code = doc["quickstart"]["code"]
    assert doc["library"] == "cdk-ecr-deployment", path
    assert "from cdk_ecr_deployment import ECRDeployment, DockerImageName" in code
    assert 'DockerImageName("nginx:latest")' in code
    assert "app.synth()" in code


def test_one_stack_with_env_and_context(quickstart):
    _, templates, manifest = quickstart
    assert list(templates) == [STACK]
    assert manifest["artifacts"][STACK]["environment"] == "aws://123456789012/us-east-1"
    resources = templates[STACK]["Resources"]
    assert all("aws:cdk:path" in r.get("Metadata", {}) for r in resources.values()), "context was not read"


def test_custom_resource_copies_nginx_into_the_repository(quickstart):
    _, templates, _ = quickstart
    template = templates[STACK]
    [(repo_id, repo)] = resources_of_type(template, "AWS::ECR::Repository").items()
    assert repo["Properties"]["RepositoryName"] == "my-app-image-destination"
    assert repo["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repo["Properties"]["ImageTagMutability"] == "MUTABLE"

    [cr] = resources_of_type(template, "Custom::CDKECRDeployment").values()
    props = cr["Properties"]
    assert props["SrcImage"] == "docker://nginx:latest"
    assert props["DestImage"] == {
        "Fn::Join": ["", [
            "docker://", {"Ref": "AWS::AccountId"}, ".dkr.ecr.", {"Ref": "AWS::Region"},
            ".amazonaws.com/", {"Ref": repo_id}, ":latest",
        ]],
    }
    assert "SrcCreds" not in props and "DestCreds" not in props
    [fn_id] = [k for k in resources_of_type(template, "AWS::Lambda::Function")]
    assert props["ServiceToken"] == {"Fn::GetAtt": [fn_id, "Arn"]}


def test_singleton_handler(quickstart):
    _, templates, _ = quickstart
    [(fn_id, fn)] = resources_of_type(templates[STACK], "AWS::Lambda::Function").items()
    # Upstream's singleton identity for the default configuration (uuid + 512MiB).
    assert fn_id.startswith(HANDLER_PREFIX), fn_id
    p = fn["Properties"]
    assert p["Runtime"] == "provided.al2023"
    assert p["Handler"] == "bootstrap"
    assert p["Timeout"] == 900
    assert p["MemorySize"] == 512
    assert p.get("Architectures", ["x86_64"]) == ["x86_64"]


def test_handler_asset_holds_the_amd64_bootstrap(quickstart):
    outdir, templates, _ = quickstart
    [fn] = resources_of_type(templates[STACK], "AWS::Lambda::Function").values()
    asset = asset_dir_of_function(outdir, fn)
    assert sorted(p.name for p in asset.iterdir()) == ["bootstrap"]
    assert elf_machine(asset / "bootstrap") == ("ELF64", "x86-64")
    assert (asset / "bootstrap").stat().st_mode & 0o111, "bootstrap is not executable"
    # The asset manifest stages that folder as a zip for the function's code.
    assets = json.loads((outdir / f"{STACK}.assets.json").read_text())
    key = fn["Properties"]["Code"]["S3Key"][: -len(".zip")]
    assert assets["files"][key]["source"] == {"path": asset.name, "packaging": "zip"}
