package synth

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// ErrUnknownProfile is returned by Generate for a profile name it does not
// know.
var ErrUnknownProfile = errors.New("unknown profile")

// ErrBadConfig is returned by Generate for counts it cannot honour.
var ErrBadConfig = errors.New("invalid generator configuration")

// profile is the shape of a generated cluster at its default scale.
type profile struct {
	nodes, pods, services int
	// namespaces is the number of tenant namespaces.
	namespaces int
}

// profiles are the built-in profiles. Their proportions (pods per node,
// services per pod, pods per namespace) are kept when counts are scaled.
var profiles = map[string]profile{
	"seed":  {nodes: 500, pods: 20000, services: 5000, namespaces: 100},
	"small": {nodes: 20, pods: 380, services: 80, namespaces: 6},
}

// ProfileNames lists the profiles Generate accepts, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Limits on scaled configurations.
const (
	minNodes       = 12
	maxPodsPerNode = 80 // leaves room below the kubelet's 110 for drains
	minTenantPods  = 60 // enough for every variety item to appear
	minServices    = 30
)

// params are the resolved counts of one run.
type params struct {
	profile    string
	nodes      int
	pods       int
	services   int
	namespaces int
}

// resolve turns a Config into the counts of one run. A zero count takes the
// profile's default scaled by the first count given (nodes, then pods, then
// services), so --nodes 100 alone gives a proportionally smaller cluster.
func resolve(cfg Config) (params, error) {
	prof, ok := profiles[cfg.Profile]
	if !ok {
		return params{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownProfile, cfg.Profile, strings.Join(ProfileNames(), ", "))
	}
	if cfg.Nodes < 0 || cfg.Pods < 0 || cfg.Services < 0 {
		return params{}, fmt.Errorf("%w: counts must not be negative (nodes %d, pods %d, services %d)", ErrBadConfig, cfg.Nodes, cfg.Pods, cfg.Services)
	}
	factor := 1.0
	switch {
	case cfg.Nodes > 0:
		factor = float64(cfg.Nodes) / float64(prof.nodes)
	case cfg.Pods > 0:
		factor = float64(cfg.Pods) / float64(prof.pods)
	case cfg.Services > 0:
		factor = float64(cfg.Services) / float64(prof.services)
	}
	pick := func(given, def int) int {
		if given > 0 {
			return given
		}
		return int(math.Round(float64(def) * factor))
	}
	p := params{
		profile:  cfg.Profile,
		nodes:    pick(cfg.Nodes, prof.nodes),
		pods:     pick(cfg.Pods, prof.pods),
		services: pick(cfg.Services, prof.services),
	}
	p.namespaces = max(3, int(math.Round(float64(prof.namespaces)*float64(p.pods)/float64(prof.pods))))

	if p.nodes < minNodes {
		return params{}, fmt.Errorf("%w: %d nodes, need at least %d", ErrBadConfig, p.nodes, minNodes)
	}
	if p.pods > maxPodsPerNode*p.nodes {
		return params{}, fmt.Errorf("%w: %d pods on %d nodes is more than %d pods per node", ErrBadConfig, p.pods, p.nodes, maxPodsPerNode)
	}
	if p.services < minServices {
		return params{}, fmt.Errorf("%w: %d services, need at least %d", ErrBadConfig, p.services, minServices)
	}
	return p, nil
}
