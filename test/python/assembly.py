"""Reading a synthesized cloud assembly (cdk.out) and the binaries staged in it."""
import json
from pathlib import Path


def load_assembly(outdir):
    """Returns {stack name: template} and the manifest of a synthesized cloud assembly."""
    outdir = Path(outdir)
    manifest = json.loads((outdir / "manifest.json").read_text())
    templates = {}
    for name, artifact in manifest["artifacts"].items():
        if artifact["type"] == "aws:cloudformation:stack":
            tfile = artifact["properties"]["templateFile"]
            templates[name] = json.loads((outdir / tfile).read_text())
    return templates, manifest


def resources_of_type(template, rtype):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == rtype}


def elf_machine(path):
    """The ELF class and machine of a binary file: ('ELF64', 'x86-64'|'aarch64'|hex), or None."""
    with open(path, "rb") as f:
        return elf_header_machine(f.read(20))


def elf_header_machine(head):
    """The ELF class and machine from a file's first 20 bytes, or None if it is not ELF."""
    if head[:4] != b"\x7fELF":
        return None
    cls = {1: "ELF32", 2: "ELF64"}.get(head[4], "?")
    little = head[5] == 1
    machine = int.from_bytes(head[18:20], "little" if little else "big")
    return cls, {0x3E: "x86-64", 0xB7: "aarch64"}.get(machine, hex(machine))


def asset_dir_of_function(outdir, fn):
    """The staged asset folder in cdk.out that holds a Lambda function's code."""
    key = fn["Properties"]["Code"]["S3Key"]
    assert key.endswith(".zip"), key
    d = Path(outdir) / f"asset.{key[:-len('.zip')]}"
    assert d.is_dir(), f"no staged asset {d.name} in {outdir}: {sorted(p.name for p in Path(outdir).iterdir())}"
    return d
