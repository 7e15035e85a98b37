#!/usr/bin/env python3
"""Validates deploy/kubernetes/ offline (no cluster): each overlay built with `kubectl kustomize`, every
built-in kind checked against the Kubernetes OpenAPI schemas (PyPI kubernetes-validate, --strict), and
what no schema says: each Deployment's probes and its Service, PodDisruptionBudget and NetworkPolicy;
each KEDA ScaledObject's target and triggers; the local overlay's database and the aws overlay's lack
of identity. The files themselves are rendered by `bus kubernetes --write` (a Swift test compares).
Installs kubectl (Debian's kubernetes-client) and kubernetes-validate when missing."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure_tools():
    if not shutil.which("kubectl"):
        subprocess.check_call(["apt-get", "update", "-qq"])
        subprocess.check_call(["apt-get", "install", "-y", "-qq", "kubernetes-client"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if not shutil.which("kubernetes-validate"):
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "kubernetes-validate"])
    try:
        import yaml  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pyyaml"])


def main():
    ensure_tools()
    import yaml
    failures = []
    for overlay in ["local", "aws"]:
        built = subprocess.run(["kubectl", "kustomize", os.path.join(HERE, "overlays", overlay)], capture_output=True, text=True)
        if built.returncode != 0:
            failures.append("%s: kubectl kustomize failed: %s" % (overlay, built.stderr.strip()))
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as out:
            out.write(built.stdout)
        validated = subprocess.run(["kubernetes-validate", "--strict", "--quiet", out.name], capture_output=True, text=True)
        errors = [line for line in (validated.stdout + validated.stderr).splitlines() if line.startswith("ERROR")]
        unknown = {line.split("kind ")[1].split(" with")[0] for line in (validated.stdout + validated.stderr).splitlines()
                   if "Couldn't find schema" in line}
        os.unlink(out.name)
        failures += ["%s: %s" % (overlay, e) for e in errors]
        if unknown - {"ScaledObject", "TriggerAuthentication"}:
            failures.append("%s: kinds without a schema: %s" % (overlay, sorted(unknown)))
        docs = [d for d in yaml.safe_load_all(built.stdout) if d]
        by_kind = {}
        for d in docs:
            by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
        deployments = by_kind.get("Deployment", {})
        for name, deployment in deployments.items():
            spec = deployment["spec"]["template"]["spec"]
            container = spec["containers"][0]
            if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
                failures.append("%s: %s has no readinessProbe on /ready" % (overlay, name))
            if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/health":
                failures.append("%s: %s has no livenessProbe on /health" % (overlay, name))
            if "limits" not in container.get("resources", {}) or "requests" not in container.get("resources", {}):
                failures.append("%s: %s lacks resource requests or limits" % (overlay, name))
            if spec.get("terminationGracePeriodSeconds", 0) < 10:
                failures.append("%s: %s: grace period too short for a graceful shutdown" % (overlay, name))
            for kind in ["Service", "PodDisruptionBudget", "ServiceAccount"]:
                if name not in by_kind.get(kind, {}):
                    failures.append("%s: %s has no %s" % (overlay, name, kind))
            if name + "-ingress" not in by_kind.get("NetworkPolicy", {}) and name != "postgres":
                failures.append("%s: %s has no NetworkPolicy" % (overlay, name))
            if deployment["spec"].get("replicas", 1) < 2:
                failures.append("%s: %s runs fewer than 2 replicas" % (overlay, name))
        if "default-deny-ingress" not in by_kind.get("NetworkPolicy", {}):
            failures.append("%s: no default-deny NetworkPolicy" % overlay)
        for name, scaled in by_kind.get("ScaledObject", {}).items():
            target = scaled["spec"]["scaleTargetRef"]["name"]
            if target not in deployments:
                failures.append("%s: ScaledObject %s targets no Deployment (%s)" % (overlay, name, target))
            for trigger in scaled["spec"].get("triggers") or [None]:
                expected = "aws-sqs-queue" if overlay == "aws" else "postgresql"
                if not trigger or trigger.get("type") != expected:
                    failures.append("%s: ScaledObject %s: trigger %r is not %s" % (overlay, name, trigger, expected))
                elif trigger["authenticationRef"]["name"] not in by_kind.get("TriggerAuthentication", {}):
                    failures.append("%s: ScaledObject %s names an unknown TriggerAuthentication" % (overlay, name))
        for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
            if hpa["spec"]["scaleTargetRef"]["name"] not in deployments:
                failures.append("%s: HPA %s targets no Deployment" % (overlay, hpa["metadata"]["name"]))
        if overlay == "local" and "postgres" not in by_kind.get("StatefulSet", {}):
            failures.append("local: no Postgres StatefulSet")
        if overlay == "aws" and "identity" in deployments:
            failures.append("aws: identity still deployed (Cognito is the pool there)")
        print("deploy/kubernetes/overlays/%s: %d objects (%s)" % (overlay, len(docs), ", ".join(
            "%d %s" % (len(v), k) for k, v in sorted(by_kind.items()))))
    for failure in failures:
        print("✘ " + failure)
    print("Kubernetes manifests: " + ("OK" if not failures else "%d problems" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
