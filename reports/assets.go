package reports

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
)

//go:embed assets
var assets embed.FS

// echartsFile is where `make assets` puts Apache ECharts.
const echartsFile = "assets/echarts.min.js"

// ErrNoCharts is returned by WriteHTML when the binary was built without
// Apache ECharts embedded.
var ErrNoCharts = errors.New("this binary was built without reports/assets/echarts.min.js: run `make assets` (or `make build`) and rebuild")

// echartsJS returns the embedded Apache ECharts.
func echartsJS() (string, error) {
	b, err := assets.ReadFile(echartsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoCharts
	}
	if err != nil {
		return "", fmt.Errorf("reading the embedded %s: %w", echartsFile, err)
	}
	return string(b), nil
}

// CheckAssets returns ErrNoCharts when WriteHTML cannot work, so that a
// command can say so before a long simulation rather than after it.
func CheckAssets() error {
	_, err := echartsJS()
	return err
}
