"""apps/full_feature_app.py: every ECRDeployment feature used from Python, and its template."""
import json

import pytest

from assembly import asset_dir_of_function, elf_machine, load_assembly, resources_of_type

STACK = "FullFeatureStack"


@pytest.fixture(scope="module")
def synth(venv_python, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("full-feature") / "cdk.out"
    venv_python.run(
        ["test/python/apps/full_feature_app.py"],
        env={"CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:enable-path-metadata": True})},
    )
    templates, _ = load_assembly(outdir)
    assert list(templates) == [STACK]
    return outdir, templates[STACK]


def by_path(template, path):
    """The (logical id, resource) whose construct path is STACK/path."""
    found = [(k, r) for k, r in template["Resources"].items()
             if r.get("Metadata", {}).get("aws:cdk:path") == f"{STACK}/{path}"]
    assert len(found) == 1, f"{path}: {found}"
    return found[0]


def deployment(template, name):
    return by_path(template, f"{name}/CustomResource/Default")


def handler_of(template, cr):
    """The Lambda function (logical id, resource) behind a custom resource's ServiceToken."""
    fn_id, attr = cr["Properties"]["ServiceToken"]["Fn::GetAtt"]
    assert attr == "Arn"
    fn = template["Resources"][fn_id]
    assert fn["Type"] == "AWS::Lambda::Function"
    return fn_id, fn


def statements_of(template, fn):
    """The statements of every IAM policy attached to a function's role."""
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    out = []
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def actions(statement):
    a = statement["Action"]
    return [a] if isinstance(a, str) else a


def grants(statements, action):
    return [s["Resource"] for s in statements if action in actions(s) and s["Effect"] == "Allow"]


def test_three_deployments_three_handlers(synth):
    _, template = synth
    assert len(resources_of_type(template, "Custom::CDKECRDeployment")) == 3
    fns = resources_of_type(template, "AWS::Lambda::Function")
    # Each handler shape (memory+VPC, arm64+environment, default) gets its own singleton function.
    assert len(fns) == 3
    for fn in fns.values():
        p = fn["Properties"]
        assert (p["Runtime"], p["Handler"], p["Timeout"]) == ("provided.al2023", "bootstrap", 900)


def test_s3_archive_with_arch_retries_memory_vpc_and_extra_policy(synth):
    _, template = synth
    _, cr = deployment(template, "FromArchive")
    props = cr["Properties"]
    assert props["SrcImage"] == "s3://my-image-bucket/images/app.tar:app:latest"
    assert props["ImageArch"] == "arm64"
    assert json.loads(props["RetryConfigs"]) == {"numAttempts": 5, "baseDelay": 2, "maxDelay": 30}
    assert "CopyImageIndex" not in props and "RemovalPolicy" not in props
    assert props["DestImage"]["Fn::Join"][1][-1] == ":archive"

    _, fn = handler_of(template, cr)
    p = fn["Properties"]
    assert p["MemorySize"] == 1024
    sg_id, _ = by_path(template, "HandlerSg/Resource")
    subnet_id, _ = by_path(template, "Vpc/PrivateSubnet1/Subnet")
    assert p["VpcConfig"] == {"SecurityGroupIds": [{"Fn::GetAtt": [sg_id, "GroupId"]}], "SubnetIds": [{"Ref": subnet_id}]}

    statements = statements_of(template, fn)
    assert grants(statements, "kms:Decrypt") == ["arn:aws:kms:us-east-1:123456789012:key/archive-key"]
    [objects] = grants(statements, "s3:GetObject")
    assert json.dumps(objects).count("my-image-bucket/images/app.tar") == 2


def test_private_registry_index_arm64_handler_env_tags_and_destroy(synth):
    outdir, template = synth
    _, cr = deployment(template, "MultiArchIndex")
    props = cr["Properties"]
    assert props["SrcImage"] == "docker://registry.example.com/team/app:1.2.3"
    assert props["SrcCreds"] == "registry-creds"
    assert props["CopyImageIndex"] is True
    assert json.loads(props["ArchImageTags"]) == {"amd64": "1.2.3-amd64", "arm64": "1.2.3-arm64"}
    assert json.loads(props["DestTags"]) == ["stable", "1.2"]
    assert props["RemovalPolicy"] == "destroy"
    assert "ImageArch" not in props

    _, fn = handler_of(template, cr)
    p = fn["Properties"]
    assert p["Architectures"] == ["arm64"]
    assert p["Environment"] == {"Variables": {"LOG_LEVEL": "debug", "NO_PROXY": ".amazonaws.com"}}
    assert p["MemorySize"] == 512
    # The arm64 handler's asset is the aarch64 build of the copier.
    asset = asset_dir_of_function(outdir, fn)
    assert elf_machine(asset / "bootstrap") == ("ELF64", "aarch64")

    statements = statements_of(template, fn)
    # creds given as a secret name: read access to that secret, by name with Secrets Manager's suffix.
    [secret] = grants(statements, "secretsmanager:GetSecretValue")
    assert secret["Fn::Join"][1][-1] == ":secret:registry-creds-??????"
    # removal_policy=DESTROY is what grants deleting the destination tag.
    [repo_arn] = grants(statements, "ecr:BatchDeleteImage")
    assert {"Ref": by_path(template, "Repo/Resource")[0]} in repo_arn["Fn::Join"][1]


def test_from_secret_grants_exactly_that_secret(synth):
    outdir, template = synth
    _, cr = deployment(template, "FromSecret")
    secret_id, _ = by_path(template, "GhcrCreds/Resource")
    assert cr["Properties"]["SrcImage"] == "docker://ghcr.io/org/app:2.0"
    assert cr["Properties"]["SrcCreds"] == {"Ref": secret_id}
    _, fn = handler_of(template, cr)
    assert grants(statements_of(template, fn), "secretsmanager:GetSecretValue") == [{"Ref": secret_id}]
    assert fn["Properties"].get("Architectures", ["x86_64"]) == ["x86_64"]
    assert elf_machine(asset_dir_of_function(outdir, fn) / "bootstrap") == ("ELF64", "x86-64")


def test_digest_attributes_are_getatts_of_the_custom_resource(synth):
    _, template = synth
    cr_id, _ = deployment(template, "MultiArchIndex")
    assert template["Outputs"]["ImageDigest"]["Value"] == {"Fn::GetAtt": [cr_id, "ImageDigest"]}
    assert template["Outputs"]["ImageUri"]["Value"] == {"Fn::GetAtt": [cr_id, "ImageUri"]}
