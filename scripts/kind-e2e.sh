#!/usr/bin/env bash
# Opt-in, for people with Docker and kind (https://kind.sigs.k8s.io) — NOT run in CI here (no cluster can
# run on the project's machines): the local overlay on a throwaway kind cluster, then a checkout.
#   scripts/kind-e2e.sh          build the image, create the cluster `swn-shop`, install KEDA, apply, demo
#   KEEP=1 scripts/kind-e2e.sh   leave the cluster running afterwards (kind delete cluster --name swn-shop)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in docker kind kubectl curl; do command -v "$tool" >/dev/null || { echo "kind-e2e: needs $tool" >&2; exit 2; }; done
CLUSTER=swn-shop
cleanup() { [ -n "${KEEP:-}" ] || kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; kill "${forwards[@]}" 2>/dev/null || true; }
forwards=()
trap cleanup EXIT

docker build -f deploy/docker/Dockerfile --build-arg RDS_CA_BUNDLE_URL= -t swn-shop:latest .
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
kind load docker-image swn-shop:latest --name "$CLUSTER"
# KEDA's CRDs and operator (the ScaledObjects of the overlay need them).
kubectl apply --server-side -f https://github.com/kedacore/keda/releases/download/v2.16.1/keda-2.16.1.yaml
kubectl -n keda rollout status deployment/keda-operator --timeout=300s

kubectl apply -k deploy/kubernetes/overlays/local
kubectl -n swn-shop wait --for=condition=complete job/database-setup --timeout=300s
for deployment in $(kubectl -n swn-shop get deployments -o name); do
  kubectl -n swn-shop rollout status "$deployment" --timeout=300s
done
kubectl -n swn-shop port-forward svc/gateway 8080:8080 >/dev/null & forwards+=($!)
kubectl -n swn-shop port-forward svc/identity 9229:9229 >/dev/null & forwards+=($!)
sleep 3
curl -fsS http://localhost:8080/ready
GATEWAY=http://localhost:8080 IDENTITY=http://localhost:9229 bash scripts/demo.sh
echo "kind-e2e: the local overlay served a checkout on kind"
