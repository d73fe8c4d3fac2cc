// Package reports renders what noderoll found: simulation results as
// kubectl-like tables and as the JSON contract (and, later, HTML and
// Markdown). Rendering lives here, never in the simulator.
package reports
