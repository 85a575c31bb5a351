#!/usr/bin/env bash
# Render one overlay, with the prompt ConfigMaps built from prompts/, as one manifest stream:
#   deploy/render.sh OVERLAY [PROMPTS_DIR] | kubectl apply -f -
# OVERLAY is a folder of k8s/overlays: cpu, cpu-dask-training (training on a Dask cluster), gpu,
# gpu-external-redis, gpu-redis-cluster.
# care-prompts holds every PROMPTS_DIR/*.yaml except experiments.yaml; care-experiments holds
# experiments.yaml. Both keep a fixed name (no hash suffix): an update changes the files mounted in
# the running pods, which the service reloads, instead of rolling the Deployment.
# Kustomize may not read files outside a kustomization's folder, so this script writes a
# throw-away kustomization that wraps the overlay and names the prompt files by absolute path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
overlay="${1:?usage: deploy/render.sh OVERLAY [PROMPTS_DIR]  (overlays: $(ls "$here/k8s/overlays" | tr '\n' ' '))}"
prompts="$(cd "${2:-$here/../prompts}" && pwd)"
namespace="${CARE_NAMESPACE:-care}"
if [[ -n "${KUBECTL:-}" ]]; then
  kubectl="$KUBECTL"
elif [[ -x "$here/.venv/bin/kubectl" ]]; then
  kubectl="$here/.venv/bin/kubectl"
else
  kubectl="kubectl"
fi

overlay_dir="$here/k8s/overlays/$overlay"
[[ -f "$overlay_dir/kustomization.yaml" ]] || { echo "render.sh: no overlay '$overlay'" >&2; exit 2; }
[[ -f "$prompts/experiments.yaml" ]] || { echo "render.sh: $prompts/experiments.yaml is missing" >&2; exit 2; }

templates=()
shopt -s nullglob
for f in "$prompts"/*.yaml "$prompts"/*.yml; do
  [[ "$(basename "$f")" == experiments.yaml ]] || templates+=("$f")
done
(( ${#templates[@]} > 0 )) || { echo "render.sh: no prompt templates (*.yaml) in $prompts" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
{
  cat <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: "$namespace"
resources:
  - "$(realpath --relative-to="$work" "$overlay_dir")"
generatorOptions:
  disableNameSuffixHash: true
  labels:
    app.kubernetes.io/part-of: care
configMapGenerator:
  - name: care-experiments
    files:
      - "$prompts/experiments.yaml"
  - name: care-prompts
    files:
YAML
  for f in "${templates[@]}"; do printf '      - "%s"\n' "$f"; done
} >"$work/kustomization.yaml"
"$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$work"
