// Package reports renders what noderoll found, for people and for
// programs; package analysis and package sim compute, this package only
// lays out.
//
//   - Simulation results as kubectl-like tables (WriteResultTable) and as
//     the JSON contract (WriteResultJSON).
//   - The static preflight (analysis.Report) as a table, the JSON of
//     `noderoll analyze -o json`, and Markdown (WritePreflight*).
//   - The capacity table that `snapshot inspect` and `analyze` both print
//     (WriteCapacityTable).
//   - The change-review report (Report: one sim.Result per strategy run,
//     Monte Carlo bands, the preflight) as one self-contained HTML page
//     (WriteHTML) and as Markdown for a change ticket (WriteMarkdown). Both
//     open with a verdict (Verdict: which run to approve and why, one
//     sentence built from the numbers), then the runs ranked (Rank: what
//     blocks approval first — Services down, stuck drains, pods left
//     pending or lost — then the duration), the batch-size sweep and its
//     knee (Sweep), per run its timeline, capacity left and the Services
//     hit, the risks of the run to approve grouped worst first with what
//     to do (Remedy), and the preflight findings. WriteJSON writes the same
//     report in the JSON contract of `compare -o json` ({"results",
//     "ranking"}, plus the verdict, the bands and the sweep).
//
// # Charts and their assets
//
// The HTML charts are ECharts options built with go-echarts
// (github.com/go-echarts/go-echarts/v2); the page is our own html/template
// (page.tmpl) that inlines Apache ECharts and draws every chart as SVG, so
// the file opens offline, prints, and can be attached to a ticket: it has
// no <script src>, no stylesheet link, nothing fetched when it is opened.
// go-echarts' own page templates are not used: they load ECharts from a
// CDN.
//
// ECharts itself (echarts.min.js, about 1 MB) is third-party code and is
// kept out of our commits: `make assets` fetches the pinned release from
// the npm registry (the Go module proxy does not serve go-echarts-assets)
// into assets/, which is gitignored, and `go build` embeds that directory
// (it always holds a committed README, so a clean clone compiles). A
// binary built without it still runs; WriteHTML then returns ErrNoCharts,
// which says to run `make assets`. `make build` and `make test` run it.
//
// The golden tests pin the Markdown and the page's data (the verdict, the
// tables and every chart's option, see buildPage), not its script bytes;
// a headless Chromium test (chromedp; `make chromium` installs Debian's
// chromium) opens the page and fails on a console error or a blank chart.
package reports
