"""The wheel itself: metadata, the handler binaries it carries, and docs readable from Python."""
import email.parser
import io
import json
import re
import tarfile
import zipfile

from assembly import elf_header_machine


def _metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(z.read(name).decode("utf-8"))


def _floor(requires_python):
    """The lowest Python a Requires-Python specifier admits, as (major, minor)."""
    floors = []
    for spec in requires_python.split(","):
        m = re.fullmatch(r"\s*(>=|~=|==)\s*(\d+)\.(\d+)(?:\.\d+)?\s*", spec)
        if m:
            floors.append((int(m.group(2)), int(m.group(3))))
    assert floors, f"Requires-Python {requires_python!r} has no lower bound"
    return max(floors)


def test_metadata_requires_python_3_9_or_later(wheel):
    meta = _metadata(wheel)
    assert meta["Name"] == "cdk-ecr-deployment"
    requires = meta["Requires-Python"]
    assert requires, "the wheel's METADATA has no Requires-Python"
    floor = _floor(requires)
    # At least 3.9 (what the published package has promised), and this interpreter (3.11) is admitted.
    assert floor >= (3, 9), requires
    assert floor <= (3, 11), f"Requires-Python {requires} excludes Python 3.11"
    deps = meta.get_all("Requires-Dist")
    assert any(d.startswith("aws-cdk-lib") for d in deps), deps
    assert any(d.startswith("constructs") for d in deps), deps


def test_wheel_carries_both_handler_binaries(wheel):
    with zipfile.ZipFile(wheel) as z:
        tgz = [n for n in z.namelist() if n.startswith("cdk_ecr_deployment/_jsii/") and n.endswith(".tgz")]
        assert len(tgz) == 1, z.namelist()
        data = z.read(tgz[0])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        found = {}
        for arch in ("amd64", "arm64"):
            member = t.getmember(f"package/lambda-bin/{arch}/bootstrap")
            assert member.mode & 0o111, f"{arch}/bootstrap is not executable in the package"
            head = t.extractfile(member).read(20)
            found[arch] = head
    machines = {arch: elf_header_machine(head) for arch, head in found.items()}
    assert machines == {"amd64": ("ELF64", "x86-64"), "arm64": ("ELF64", "aarch64")}


DOCS_SCRIPT = r"""
import contextlib, io, json
import cdk_ecr_deployment as m

def helped(obj):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        help(obj)
    return buf.getvalue()

print(json.dumps({
    "help_ECRDeployment": helped(m.ECRDeployment),
    "help_ECRDeploymentProps": helped(m.ECRDeploymentProps),
    "help_DockerImageName": helped(m.DockerImageName),
    "init_doc": m.ECRDeployment.__init__.__doc__,
    "props_doc": m.ECRDeploymentProps.__init__.__doc__,
    "memory_limit_doc": m.ECRDeploymentProps.memory_limit.__doc__,
    "image_digest_doc": m.ECRDeployment.image_digest.__doc__,
}))
"""


def test_docstrings_readable_from_python(venv_python):
    out = venv_python.run(["-c", DOCS_SCRIPT]).stdout
    docs = json.loads(out.strip().splitlines()[-1])
    help_cls = docs["help_ECRDeployment"]
    assert "class ECRDeployment" in help_cls
    assert "Copies a container image from a registry or S3 archive into a registry" in help_cls
    assert "add_to_principal_policy" in help_cls
    # The constructor's and the props' docs name memory_limit and its default.
    for key in ("init_doc", "props_doc", "help_ECRDeploymentProps"):
        doc = docs[key]
        m = re.search(r":param memory_limit: (.*)", doc)
        assert m, f"{key} does not document memory_limit:\n{doc}"
        assert "memory (in MiB)" in m.group(1) and "Default: 512" in m.group(1), m.group(1)
    assert ":default: 512" in docs["memory_limit_doc"], docs["memory_limit_doc"]
    assert "digest" in docs["image_digest_doc"].lower()
    assert "from_secret" in docs["help_DockerImageName"]
