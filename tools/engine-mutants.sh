#!/usr/bin/env bash
# engine-mutants.sh: checks that the engines' differential test
# (scheduler.TestEnginesAgree_PodTopologySpread) fails for every mutant of
# the incremental PodTopologySpread (scheduler/spread.go). Each mutant is
# one sed expression applied to a copy of the file; the file is restored
# after each. A mutant that does not build counts as a failure of this
# script (it proves nothing), as does one the test does not catch.
#
# Run from the project root: tools/engine-mutants.sh
set -u
file=scheduler/spread.go
orig=$(mktemp)
cp "$file" "$orig"
trap 'cp "$orig" "$file"; rm -f "$orig"' EXIT

mutants=(
	's/+self-minMatchNum > int(c.MaxSkew)/+self-minMatchNum >= int(c.MaxSkew)/'
	's/if pod.DeletionTimestamp != nil || pod.Namespace != namespace {/if pod.Namespace != namespace {/'
	's/if pi.GetPod().DeletionTimestamp == nil {/if pi.GetPod().DeletionTimestamp == nil || true {/'
	's/math.Log(float64(sz + 2))/math.Log(float64(sz + 3))/'
	's/if k.known\[n.slot\] \&\& k.gen\[n.slot\] == n.info.Generation {/if k.known[n.slot] {/'
	's/if n.object == 0 || t.object\[n.slot\] != n.object {/if n.object == 0 || !t.has[n.slot] \&\& t.object[n.slot] != n.object {/'
	's/if !classes.mayBeOn(id, n.slot) {/if classes.mayBeOn(id, n.slot) {/'
	's/if len(s.TpValueToMatchNum\[i\]) < int(minDomains) {/if len(s.TpValueToMatchNum[i]) < int(minDomains)-1 {/'
	's/if c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor {/if c.NodeTaintsPolicy == corev1.NodeInclusionPolicyIgnore {/'
	's/if c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor {/if c.NodeAffinityPolicy == corev1.NodeInclusionPolicyIgnore {/'
	's/p.defaults, p.systemDefaulted = systemDefaultSpread, true/p.defaults, p.systemDefaulted = systemDefaultSpread, false/'
	's/{TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 5}/{TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway, MaxSkew: 4}/'
	's/matchLabels\[k\] = v/matchLabels[k] = v + "x"/'
	's/s.TpValueToMatchNum\[i\]\[v\] += delta/s.TpValueToMatchNum[i][v] -= delta/'
	's/scores\[i\].Score = fwk.MaxNodeScore \* (maxScore + minScore - scores\[i\].Score) \/ maxScore/scores[i].Score = fwk.MaxNodeScore * (maxScore - scores[i].Score) \/ maxScore/'
	's/state.IgnoredNodes.Insert(node.Name)/_ = node.Name/'
)
failed=0
for m in "${mutants[@]}"; do
	cp "$orig" "$file"
	sed -i "$m" "$file"
	if cmp -s "$file" "$orig"; then
		echo "NOT APPLIED: $m"; failed=1; continue
	fi
	if ! go vet ./scheduler/ >/dev/null 2>&1; then
		echo "DOES NOT BUILD: $m"; failed=1; continue
	fi
	if go test -count=1 -run 'TestEnginesAgree' ./scheduler/ >/dev/null 2>&1; then
		echo "SURVIVED: $m"; failed=1
	else
		echo "killed: $m"
	fi
done
exit $failed
