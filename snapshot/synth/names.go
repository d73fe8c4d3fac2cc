package synth

import (
	"fmt"
	"strconv"
)

// Word lists for tenant and workload names. Names are plausible rather than
// random strings so that reports built on generated snapshots read like
// ones from a real cluster.
var (
	tenantWords = []string{
		"payments", "checkout", "catalog", "search", "identity", "billing", "ledger", "orders",
		"shipping", "inventory", "pricing", "reviews", "messaging", "notifications", "media",
		"analytics", "reporting", "fraud", "risk", "loyalty", "marketing", "support", "crm",
		"partners", "merchant", "accounts", "onboarding", "compliance", "audit", "geo",
		"maps", "recommendations", "ads", "auctions", "booking", "calendar", "chat", "docs",
		"forms", "gateway", "hr", "insights", "kyc", "labs", "mobile", "web", "platform-tools",
		"data-ingest", "ml-serving", "feature-store", "experiments", "quotes", "tax", "treasury",
		"settlement", "refunds", "disputes", "subscriptions", "entitlements", "licensing",
	}
	tenantEnvs = []string{"prod", "staging", "qa"}

	components = []string{
		"ledger", "cart", "checkout", "catalog", "search", "auth", "session", "profile",
		"invoice", "notify", "email", "sms", "push", "render", "thumbnail", "upload",
		"export", "import", "sync", "audit", "rules", "quote", "price", "stock", "order",
		"shipment", "tracking", "rating", "review", "feed", "timeline", "graph", "index",
		"token", "policy", "consent", "report", "billing", "payout", "wallet", "fx",
		"ledger-view", "geo", "route", "eta", "match", "rank", "score", "model", "feature",
	}
	roles = []string{
		"api", "api", "api", "web", "worker", "worker", "consumer", "gateway", "frontend",
		"backend", "grpc", "scheduler", "admin", "cache", "proxy", "processor",
	}
	datastores = []string{"postgres", "redis", "kafka", "zookeeper", "elasticsearch", "mongodb", "rabbitmq", "etcd", "cassandra", "minio", "clickhouse", "nats"}
	jobTasks   = []string{"reindex", "backfill", "migrate", "export", "compact", "rebuild", "reconcile", "train", "etl", "aggregate"}
	cronTasks  = []string{"nightly-report", "cleanup", "rotate-keys", "sync-catalog", "usage-rollup", "backup"}
	bareNames  = []string{"debug-shell", "netshoot", "tmp-migration", "psql-client", "load-test", "curl-check"}
	extraSvc   = []string{"metrics", "grpc", "admin", "internal", "canary", "public"}
	hostDBs    = []string{"db", "warehouse", "mail", "ldap", "legacy-erp", "s3-gateway", "partner-api"}
)

// tenantNames returns n distinct namespace names drawn from the word lists
// in a seeded order, numbering them once the combinations run out.
func (g *generator) tenantNames(n int) []string {
	var all []string
	for _, env := range tenantEnvs {
		for _, w := range tenantWords {
			all = append(all, w+"-"+env)
		}
	}
	g.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		if i < len(all) {
			out = append(out, all[i])
			continue
		}
		out = append(out, fmt.Sprintf("%s-%d", all[i%len(all)], i/len(all)+1))
	}
	return out
}

// uniqueName returns base, or base-2, base-3, ... when base is taken in used,
// and marks the result taken.
func uniqueName(used map[string]bool, base string) string {
	name := base
	for i := 2; used[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	used[name] = true
	return name
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }
