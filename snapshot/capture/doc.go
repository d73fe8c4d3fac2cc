// Package capture reads a snapshot.Snapshot from a live cluster through
// client-go.
//
// Every kind the snapshot holds is listed in pages of 500 (Limit and
// Continue; an expired continue token restarts that kind's list), several
// kinds at a time. What may carry secrets is never stored: each object
// goes through snapshot.ScrubObject as it is listed (managedFields and
// last-applied configurations dropped, env values, command lines, probe
// headers and the other fields it lists redacted). ServiceAccounts, Roles
// and RoleBindings are listed as metadata only (PartialObjectMetadata
// through the metadata client), to count them. ConfigMaps and Secrets are
// listed, the same way, only with Config.CountConfigMapsAndSecrets: RBAC
// cannot grant a metadata-only list, and whoever may list Secrets may read
// them. Without the permission the capture goes on without those counts
// (Snapshot.Uncounted, a NotCounted warning). A metadata list carries no
// sizes: ObjectCounts.ConfigMapBytes and SecretBytes stay zero in a
// capture, only the counts are known.
//
// The credentials need the verb "list" on the resources Permissions
// returns, and nothing else; deploy/rbac.yaml is a ClusterRole with exactly
// those, and nothing on Secrets or ConfigMaps (OptionalPermissions).
// Failures come back as typed errors that say what is wrong: a
// *ForbiddenError naming each verb and resource refused, an
// *UnreachableError naming the server, ErrNoKubeconfig naming the paths
// looked at (RESTConfig).
package capture
