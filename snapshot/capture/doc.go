// Package capture reads a snapshot.Snapshot from a live cluster through
// client-go.
//
// Every kind the snapshot holds is listed in pages of 500 (Limit and
// Continue; an expired continue token restarts that kind's list), several
// kinds at a time. What the cluster does not need to give away is never
// stored: managedFields and kubectl's last-applied-configuration
// annotation are stripped, environment variable values are dropped from
// pods and pod templates (names and valueFrom references stay), and
// ConfigMaps, Secrets, ServiceAccounts, Roles and RoleBindings are listed
// as metadata only (PartialObjectMetadata through the metadata client), so
// their content never leaves the API server. A metadata list carries no
// sizes: ObjectCounts.ConfigMapBytes and SecretBytes stay zero in a
// capture, only the counts are known.
//
// The credentials need the verb "list" on the resources Permissions
// returns, and nothing else; deploy/rbac.yaml is a ClusterRole with exactly
// those. Failures come back as typed errors that say what is wrong: a
// *ForbiddenError naming each verb and resource refused, an
// *UnreachableError naming the server, ErrNoKubeconfig naming the paths
// looked at (RESTConfig).
package capture
