"""Synthesizes the seed's Python quickstart, exactly as written, into a chosen folder.

    CDK_OUTDIR=/tmp/out CDK_CONTEXT_JSON='{"k":"v"}' VENV/bin/python test/python/synth_app.py

The quickstart's `App()` reads CDK_OUTDIR (where the cloud assembly goes) and CDK_CONTEXT_JSON
(context) from the environment, as under `cdk synth`; nothing else about it is changed. It
synthesizes the stack `CdkEcrDeploymentExampleStack`. CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION,
if set, become the stack's environment (the quickstart reads them); unset, the stack is
environment-agnostic and the destination holds `AWS::AccountId`/`AWS::Region` references.

VENV is made by `bash test/python/make_venv.sh` (the built wheel, aws-cdk-lib, constructs).
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import find_seed  # noqa: E402


def main():
    if not os.environ.get("CDK_OUTDIR"):
        sys.exit("synth_app.py: set CDK_OUTDIR to the folder to synthesize into")
    path, doc = find_seed()
    code = compile(doc["quickstart"]["code"], f"{path}:quickstart.code", "exec")
    exec(code, {"__name__": "__main__", "__file__": str(path)})


if __name__ == "__main__":
    main()
