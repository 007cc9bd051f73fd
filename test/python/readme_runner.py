"""Runs README snippets' Python translations and synthesizes what they build (in the wheel's venv).

    VENV/bin/python test/python/readme_runner.py JOBS.json RESULTS.json

JOBS.json is a list made by readme_fixture.make_job. Every job runs in one process (loading
aws-cdk-lib through jsii takes seconds), each in its own namespace and its own App:
- with a fixture: the fixture's imports, `self` = a Stack in a fresh App, the declared values,
  then the snippet at module level (as the body of the TypeScript fixture's constructor);
- `nofixture`: the declared values (made in a scratch stack), then the snippet alone, as a program.
Then every App the snippet's constructs belong to is synthesized (apps the snippet already
synthesized return their assembly). RESULTS.json gets, per job: ok or the traceback, and what
the templates hold.
"""
import importlib
import json
import os
import re
import sys
import tempfile
import traceback


def run_job(job, Construct, App, Stack, Stage):
    roots = []
    ns = {"__name__": "__readme_snippet__"}
    if job["in_fixture"]:
        exec(compile("\n".join(job["imports"]), "<fixture imports>", "exec"), ns)
        app = App()
        ns["self"] = Stack(app, "Fixture")
        roots.append(app)
    if job["declared"]:
        # A complete program has no `this`: its declared values live in a scratch stack.
        scope = {
            "aws_cdk": importlib.import_module("aws_cdk"),
            "self": ns.get("self") or Stack(App(), "Declared"),
            "__docker_context__": docker_context(),
        }
        for name, expr in job["declared"]:
            for module in set(re.findall(r"aws_cdk\.aws_\w+", expr)):
                importlib.import_module(module)
            ns[name] = eval(expr, scope)
    exec(compile(job["python"], f"README.md:{job['line']} (Python translation)", "exec"), ns)

    for value in list(ns.values()):
        if isinstance(value, Construct):
            root = value.node.root
            if isinstance(root, Stage) and not any(root is r for r in roots):
                roots.append(root)
    templates, seen = [], set()
    for root in roots:
        assembly = root.synth()
        if assembly.directory in seen:
            continue
        seen.add(assembly.directory)
        templates.extend(stack.template for stack in assembly.stacks_recursively)
    types = [r.get("Type") for t in templates for r in (t.get("Resources") or {}).values()]
    return {
        "ok": True,
        "stacks": len(templates),
        "resources": len(types),
        "deployments": types.count("Custom::CDKECRDeployment"),
    }


def docker_context():
    d = tempfile.mkdtemp(prefix="readme-docker-")
    with open(os.path.join(d, "Dockerfile"), "w") as f:
        f.write("FROM scratch\n")
    return d


def main(jobs_file, results_file):
    with open(jobs_file) as f:
        jobs = json.load(f)
    from aws_cdk import App, Stack, Stage
    from constructs import Construct

    results = []
    for job in jobs:
        try:
            result = run_job(job, Construct, App, Stack, Stage)
        except Exception:  # report every snippet's failure, and go on with the next
            result = {"ok": False, "error": traceback.format_exc()}
        result["line"] = job["line"]
        results.append(result)
    with open(results_file, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
