#!/bin/sh
# The "reinstall" of a KWOK node for the executor's end-to-end tests: save
# the node object, delete it (the machine goes away), wait, and register it
# again as a fresh node reporting the new OS image (it boots with it).
# KWOK's controller then takes the node up, as it manages every node
# carrying its annotation, and reports it Ready.
#
# Environment: NODE_NAME and KUBECONFIG (from the executor), KUBECTL (the
# kubectl to use), NODEROLL_EXPECTED_OS_IMAGE (the new image), and, from
# the plan's hooks.env:
#   HOOK_KUBECONFIG  the credentials of the hook, when they are not the
#                    executor's (its roles may not delete or create nodes)
#   HOOK_LOG         a file that gets one line per run: the node's name
#   REINSTALL_DELAY  seconds the node stays away (default 2)
#   NEVER_RETURN     when "1", the node never comes back
set -eu
: "${NODE_NAME:?}" "${KUBECTL:?}"
kc=${HOOK_KUBECONFIG:-${KUBECONFIG:-}}
kubectl() { "$KUBECTL" ${kc:+--kubeconfig "$kc"} "$@"; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
[ -n "${HOOK_LOG:-}" ] && echo "$NODE_NAME" >>"$HOOK_LOG"
kubectl get node "$NODE_NAME" -o json >"$dir/node.json"
kubectl delete node "$NODE_NAME" --wait=true
echo "node $NODE_NAME deleted"
if [ "${NEVER_RETURN:-}" = 1 ]; then
	exit 0
fi
sleep "${REINSTALL_DELAY:-2}"
# A fresh registration: no server-set metadata, no conditions (KWOK sets
# them), the new OS image.
kubectl patch --local -f "$dir/node.json" --type=json -o json -p "[
  {\"op\": \"remove\", \"path\": \"/metadata/uid\"},
  {\"op\": \"remove\", \"path\": \"/metadata/resourceVersion\"},
  {\"op\": \"remove\", \"path\": \"/metadata/creationTimestamp\"},
  {\"op\": \"remove\", \"path\": \"/status/conditions\"},
  {\"op\": \"replace\", \"path\": \"/status/nodeInfo/osImage\", \"value\": \"${NODEROLL_EXPECTED_OS_IMAGE}\"}
]" >"$dir/new.json"
kubectl create -f "$dir/new.json"
echo "node $NODE_NAME registered again with OS image ${NODEROLL_EXPECTED_OS_IMAGE}"
