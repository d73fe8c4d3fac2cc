package sim

import "time"

// Kinds of the durations Options.Durations draws, and the keys of
// Variability.
const (
	// DurationPodStartup: from bind to Ready (Timing.PodStartupSeconds, or
	// the workload's override).
	DurationPodStartup = "podStartup"
	// DurationTermination: from eviction to the pod being gone.
	DurationTermination = "termination"
	// DurationReinstall: the OS reinstall (Timing.ReinstallSeconds).
	DurationReinstall = "reinstall"
	// DurationJoin: from boot to the node Ready (Timing.JoinSeconds).
	DurationJoin = "join"
)

// DurationKinds lists every kind, in a fixed order.
var DurationKinds = []string{DurationPodStartup, DurationTermination, DurationReinstall, DurationJoin}

// draw is the duration the simulator waits for kind, whose configured
// value is median: that value itself unless Options.Durations says
// otherwise.
func (s *Simulation) draw(kind string, median time.Duration) time.Duration {
	if s.opts.Durations == nil || median <= 0 {
		return median
	}
	d := max(s.opts.Durations(kind, median), 0)
	if kind == DurationTermination {
		// The kubelet kills the pod at the end of its grace period, and the
		// configured termination time is at most that: a draw may be
		// shorter, never longer.
		d = min(d, median)
	}
	return d
}
