"""Finds the Python quickstart of cdk-ecr-deployment in the shared seeds.

The seeds are JSON documents (whatever their file extension) kept in the project's shared
folder, which sits beside the repository (`<repo>/../shared/seeds`, as in CI) or at
/work/shared/seeds; CDK_ECR_SEEDS_DIR overrides both. The quickstart is the document's
`quickstart.code`, and it is used exactly as written there.
"""
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = "cdk-ecr-deployment"


def seed_dirs():
    env = os.environ.get("CDK_ECR_SEEDS_DIR")
    if env:
        return [Path(env)]
    return [ROOT.parent / "shared" / "seeds", Path("/work/shared/seeds")]


def find_seed():
    """Returns (path, document) of the seed describing this library; raises if there is none."""
    looked = []
    for d in seed_dirs():
        looked.append(str(d))
        if not d.is_dir():
            continue
        for f in sorted(p for p in d.iterdir() if p.is_file()):
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and doc.get("library") == LIBRARY and (doc.get("quickstart") or {}).get("code"):
                return f, doc
    raise FileNotFoundError(
        f"no seed document for {LIBRARY} with quickstart.code in {', '.join(looked)} "
        "(set CDK_ECR_SEEDS_DIR to the folder holding it)"
    )


def quickstart_code():
    return find_seed()[1]["quickstart"]["code"]
