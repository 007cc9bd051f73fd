"""Turns README.md's TypeScript snippets into Python programs that really synthesize.

jsii-rosetta (`jsii-rosetta extract --strict`, in the build) compiles every ```ts block of
README.md inside rosetta/<fixture>.ts-fixture and writes each block's translations into the
tablet `.jsii.tabl.json`. This module pairs each README block with its tablet entry and builds
the matching Python job for readme_runner.py:

- The Python "fixture" is derived from the same .ts-fixture file: its imports, translated the
  way rosetta translates imports, and `self`, a Stack, for the snippet's `this`. A fixture must
  therefore be only imports plus `class X extends Stack { constructor(scope: Construct, id: string)
  { super(scope, id); /// here } }`; anything else fails loudly here.
- ```ts nofixture blocks are complete programs and run as they are.
- `declare const name: Type;` becomes a mere comment in Python, so the runner provides a value
  for each declared name from DECLARED, keyed by the TypeScript type's name. A type missing
  there fails with a message saying to add it.
- Rosetta leaves hidden code (/// !hide) out of translations: in Python, use `declare const`.

Pure Python, no aws-cdk imports: used from the pytest process.
"""
import json
import keyword
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLET = ROOT / ".jsii.tabl.json"
README = ROOT / "README.md"
FIXTURES = ROOT / "rosetta"
REBUILD = "run `npx projen build` (post-compile runs `jsii-rosetta extract --strict`, which writes .jsii.tabl.json)"

# Python expressions for the values of `declare const NAME: TYPE;`, keyed by TYPE's name without
# its module alias (`ecr.IRepository` -> IRepository). `{id}` is a construct id unique to NAME,
# `self` the stack; modules are named in full (aws_cdk.aws_ec2...): the runner imports them.
_VPC = "aws_cdk.aws_ec2.Vpc(self, '{id}', max_azs=1)"
_IN_VPC = "vpc=aws_cdk.aws_ec2.Vpc(self, '{id}Vpc', max_azs=1)"
DECLARED = {
    "IVpc": _VPC,
    "Vpc": _VPC,
    "ISecurityGroup": "aws_cdk.aws_ec2.SecurityGroup(self, '{id}', " + _IN_VPC + ")",
    "SecurityGroup": "aws_cdk.aws_ec2.SecurityGroup(self, '{id}', " + _IN_VPC + ")",
    "IRepository": "aws_cdk.aws_ecr.Repository(self, '{id}')",
    "Repository": "aws_cdk.aws_ecr.Repository(self, '{id}')",
    "DockerImageAsset": "aws_cdk.aws_ecr_assets.DockerImageAsset(self, '{id}', directory=__docker_context__)",
    "ICluster": "aws_cdk.aws_ecs.Cluster(self, '{id}', " + _IN_VPC + ")",
    "Cluster": "aws_cdk.aws_ecs.Cluster(self, '{id}', " + _IN_VPC + ")",
    "FargateTaskDefinition": "aws_cdk.aws_ecs.FargateTaskDefinition(self, '{id}')",
    "Ec2TaskDefinition": "aws_cdk.aws_ecs.Ec2TaskDefinition(self, '{id}')",
    "IRole": "aws_cdk.aws_iam.Role(self, '{id}', assumed_by=aws_cdk.aws_iam.ServicePrincipal('lambda.amazonaws.com'))",
    "Role": "aws_cdk.aws_iam.Role(self, '{id}', assumed_by=aws_cdk.aws_iam.ServicePrincipal('lambda.amazonaws.com'))",
    "IKey": "aws_cdk.aws_kms.Key(self, '{id}')",
    "Key": "aws_cdk.aws_kms.Key(self, '{id}')",
    "ILogGroup": "aws_cdk.aws_logs.LogGroup(self, '{id}')",
    "LogGroup": "aws_cdk.aws_logs.LogGroup(self, '{id}')",
    "IBucket": "aws_cdk.aws_s3.Bucket(self, '{id}')",
    "Bucket": "aws_cdk.aws_s3.Bucket(self, '{id}')",
    "ISecret": "aws_cdk.aws_secretsmanager.Secret(self, '{id}')",
    "Secret": "aws_cdk.aws_secretsmanager.Secret(self, '{id}')",
    "Stack": "self",
    "Construct": "self",
    "string": "'example'",
    "number": "1",
    "boolean": "True",
}


class SnippetError(Exception):
    """A README block that cannot be turned into a Python job; the message says what to do."""


def snake(name):
    """A TypeScript identifier as rosetta writes it in Python (camelCase to snake_case, keywords + '_')."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s).lower()
    return s + "_" if keyword.iskeyword(s) else s


def python_module_name():
    pkg = json.loads((ROOT / "package.json").read_text())
    return pkg["name"], pkg["jsii"]["targets"]["python"]["module"]


def py_module(ts_module):
    own_name, own_module = python_module_name()
    if ts_module == own_name:
        return own_module
    if ts_module == "aws-cdk-lib":
        return "aws_cdk"
    if ts_module.startswith("aws-cdk-lib/"):
        return "aws_cdk." + ts_module[len("aws-cdk-lib/"):].replace("-", "_")
    if ts_module == "constructs":
        return "constructs"
    raise SnippetError(f"no Python module known for the TypeScript import '{ts_module}' (see readme_fixture.py)")


IMPORT_RE = re.compile(r"^import\s+(.*?)\s+from\s+'([^']+)';?[ \t]*$", re.M | re.S)


def python_imports(fixture_text):
    """The fixture's imports in Python, after checking the fixture has the one supported shape."""
    lines = []
    for clause, module in IMPORT_RE.findall(fixture_text):
        mod = py_module(module)
        ns = re.fullmatch(r"\*\s+as\s+(\w+)", clause)
        named = re.fullmatch(r"\{(.*)\}", clause, re.S)
        if ns:
            lines.append(f"import {mod} as {snake(ns.group(1))}")
        elif named:
            names = []
            for part in named.group(1).split(","):
                part = part.strip()
                if not part:
                    continue
                m = re.fullmatch(r"(\w+)(?:\s+as\s+(\w+))?", part)
                if not m:
                    raise SnippetError(f"cannot translate import clause '{part}'")
                names.append(m.group(1) + (f" as {m.group(2)}" if m.group(2) else ""))
            lines.append(f"from {mod} import {', '.join(names)}")
        else:
            raise SnippetError(f"cannot translate fixture import '{clause}' from '{module}'")
    rest = IMPORT_RE.sub("", fixture_text)
    rest = "\n".join(l for l in rest.splitlines() if not re.match(r"\s*//(?!/)", l))
    rest = " ".join(rest.split())
    shape = r"class \w+ extends (cdk\.)?Stack \{ constructor\(scope: Construct, id: string\) \{ super\(scope, id\); /// here \} \}"
    if not re.fullmatch(shape, rest):
        raise SnippetError(
            "the fixture must be imports plus `class Fixture extends Stack { constructor(scope: Construct, "
            "id: string) { super(scope, id); /// here } }` (readme_fixture.py mirrors only that shape "
            f"in Python); found: {rest!r}"
        )
    return lines


FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<info>[^`\n]*)$")


def readme_blocks(text, languages=("ts", "typescript")):
    """The code blocks of a markdown text in the given languages: [{line, params, source}], line 1-based."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        start = i
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        words = info.split()
        if words and words[0] in languages:
            params = {}
            for w in words[1:]:
                k, _, v = w.partition("=")
                params[k] = v
            indent = len(m.group("indent"))
            blocks.append({
                "line": start + 1,
                "params": params,
                "source": "\n".join(l[indent:] if l[:indent].strip() == "" else l for l in body),
            })
    return blocks


def normalize(source):
    """Source compared between README and tablet: no rosetta markers, no trailing blanks."""
    kept = [l.rstrip() for l in source.splitlines() if not l.strip().startswith("///")]
    return textwrap.dedent("\n".join(kept)).strip()


def load_tablet():
    if not TABLET.exists():
        raise SnippetError(f"no {TABLET.name}: {REBUILD}")
    return json.loads(TABLET.read_text())


def tablet_entry(tablet, block):
    """The tablet's translations of a README block; fails if the tablet is stale or the block did not compile."""
    own_name, _ = python_module_name()
    for snippet in tablet["snippets"].values():
        loc = snippet.get("location", {})
        if (loc.get("api", {}).get("api") == "moduleReadme"
                and loc.get("api", {}).get("moduleFqn") == own_name
                # Matched on the source, not the line: rosetta reuses a cached tablet entry
                # (with its old line) when an unchanged block moves.
                and normalize(snippet["translations"]["$"]["source"]) == normalize(block["source"])):
            if not snippet.get("didCompile"):
                raise SnippetError(f"README.md:{block['line']}: jsii-rosetta could not compile this snippet "
                                   "(run `npx jsii-rosetta extract --strict` to see why)")
            if "python" not in snippet["translations"]:
                raise SnippetError(f"README.md:{block['line']}: the tablet has no Python translation")
            return snippet
    raise SnippetError(f"README.md:{block['line']}: not in {TABLET.name} (or changed since): {REBUILD}")


def declares(ts_source):
    return re.findall(r"^\s*declare\s+const\s+(\w+)\s*:\s*([^;=]+?)\s*;", ts_source, re.M)


def make_job(block, tablet):
    """The runner's job for one README block: its Python source, fixture imports and declared values."""
    entry = tablet_entry(tablet, block)
    params = block["params"]
    imports = None
    if "nofixture" not in params:
        name = params.get("fixture") or "default"
        path = FIXTURES / f"{name}.ts-fixture"
        if not path.exists():
            raise SnippetError(f"README.md:{block['line']}: no fixture {path.relative_to(ROOT)}")
        imports = python_imports(path.read_text())
    declared = []
    for ts_name, ts_type in declares(block["source"]):
        key = "".join(ts_type.split()).rpartition(".")[2]
        if key not in DECLARED:
            raise SnippetError(
                f"README.md:{block['line']}: `declare const {ts_name}: {ts_type}` has no Python value; "
                f"add '{key}' to DECLARED in test/python/readme_fixture.py"
            )
        declared.append([snake(ts_name), DECLARED[key].format(id=f"Declared{ts_name[:1].upper()}{ts_name[1:]}")])
    return {
        "line": block["line"],
        "python": entry["translations"]["python"]["source"],
        "imports": imports,
        "in_fixture": imports is not None,
        "declared": declared,
    }


def make_python_job(block):
    """A hand-written ```python README block: runs as written, in the default fixture unless `nofixture`."""
    in_fixture = "nofixture" not in block["params"]
    return {
        "line": block["line"],
        "python": textwrap.dedent(block["source"]),
        "imports": python_imports((FIXTURES / "default.ts-fixture").read_text()) if in_fixture else None,
        "in_fixture": in_fixture,
        "declared": [],
    }
