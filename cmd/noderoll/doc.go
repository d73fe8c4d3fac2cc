// Command noderoll plans, simulates and executes the replacement of the
// operating system on every node of a Kubernetes cluster.
//
// This package is thin wiring: each verb binds its flags into a small
// options struct and calls one library function. main is the only place
// that exits the process. Exit codes: 0 success; 1 failure; 2 bad input or
// usage, with a message that names the file, the object and the field.
//
//	noderoll version
//	noderoll snapshot inspect FILE [-o table|json]
//	noderoll snapshot generate --profile seed|small [--nodes N --pods N --services N --seed S] -o FILE
//	noderoll snapshot capture [--kubeconfig PATH] [--context NAME] [-n NS] -o FILE
//	noderoll snapshot apply FILE [--kubeconfig PATH] [--context NAME] [--force]   # KWOK test clusters only
//	noderoll analyze FILE [-o table|json|markdown] [--fail-on SEVERITY]
//	noderoll simulate FILE --strategy rolling [--batch-size 10|5%] [--order name|zone|fewest-pods|planned] [--config sim.yaml] [-o table|json] [--out FILE]
package main
