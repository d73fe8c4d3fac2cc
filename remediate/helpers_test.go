package remediate_test

import "github.com/noderoll/noderoll/plan"

func riskShortfall() plan.Risk {
	return plan.Risk{Code: plan.RiskCapacityShortfall, Severity: plan.High, Object: "Batch/0"}
}
