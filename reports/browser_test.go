package reports

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/noderoll/noderoll/analysis"
	"github.com/noderoll/noderoll/remediate"
	"github.com/noderoll/noderoll/sim"
	"github.com/noderoll/noderoll/sim/rolling"
	"github.com/noderoll/noderoll/snapshot/synth"
)

// smallReport simulates the small profile in three batch sizes, with a
// Monte Carlo band for one, and its preflight: a page with every kind of
// chart drawn from real runs.
func smallReport(t *testing.T) Report {
	t.Helper()
	ctx := context.Background()
	snap, err := synth.Generate(ctx, synth.Config{Profile: "small"})
	if err != nil {
		t.Fatal(err)
	}
	r := Report{Bands: map[string]analysis.Band{}}
	for _, size := range []string{"5%", "10%", "25%"} {
		p, err := rolling.Plan(snap, rolling.Params{BatchSize: size, Order: rolling.OrderName})
		if err != nil {
			t.Fatal(err)
		}
		res, err := sim.Run(ctx, snap, p, sim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r.Results = append(r.Results, res)
		if size == "10%" {
			band, err := analysis.MonteCarlo(ctx, snap, p, analysis.MonteCarloOptions{Runs: 4, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			r.Bands[Label(res)] = band
		}
	}
	pf := analysis.Preflight(snap, analysis.PreflightOptions{})
	r.Preflight = &pf
	return r
}

// chromium finds the browser, or skips the test outside CI (make test
// installs it: the chromium target).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium in PATH: run make chromium")
	}
	t.Skip("no chromium in PATH (make chromium installs it)")
	return ""
}

// TestHTML_rendersInChromium opens the page in headless Chromium from a
// file, offline: no console error, no exception, every chart drawn (an SVG
// with marks, and pixels that are not all one colour), and a screenshot of
// the whole page (written to $NODEROLL_SCREENSHOT when set).
func TestHTML_rendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	ids, shot, _ := renderInChromium(t, smallReport(t), "")
	if len(ids) < 10 {
		t.Errorf("%d charts on the page, want the comparison, sweep and three per strategy", len(ids))
	}
	if out := os.Getenv("NODEROLL_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHTML_fixesSectionRendersInChromium: the "Before / after fixes"
// section of a report made with the fix search on the small profile is
// drawn (its chart has marks and colours, its tables rows), and a
// screenshot of the section is taken (written to
// $NODEROLL_FIXES_SCREENSHOT when set).
func TestHTML_fixesSectionRendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	rep := fixesReport(t)
	ids, _, section := renderInChromium(t, rep, "#fixes-section")
	if !slices.Contains(ids, "fixes") {
		t.Fatalf("charts on the page %v: no fixes chart", ids)
	}
	if n := colours(t, section); n < 10 {
		t.Errorf("the fixes section's screenshot has %d colours", n)
	}
	if out := os.Getenv("NODEROLL_FIXES_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, section, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fixesReport is a report of the fix search for rolling 10% on the small
// profile.
func fixesReport(t *testing.T) Report {
	t.Helper()
	ctx := context.Background()
	snap, err := synth.Generate(ctx, synth.Config{Profile: "small"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := analysis.ParseStrategy("rolling:10%")
	if err != nil {
		t.Fatal(err)
	}
	out, err := remediate.Run(ctx, snap, remediate.Options{Strategy: st})
	if err != nil {
		t.Fatal(err)
	}
	return Report{Title: "Node OS replacement: fixes for rolling:10%", Results: []*sim.Result{out.Before}, Fixes: out}
}

// renderInChromium writes the report, opens it in headless Chromium from a
// file, offline, and checks it: no console error, no exception, every
// chart drawn (an SVG with marks, and pixels that are not all one colour).
// It returns the charts' ids, a screenshot of the whole page and, when
// section is a selector, one of that element.
func renderInChromium(t *testing.T, rep Report, section string) (ids []string, shot, part []byte) {
	t.Helper()
	exe := chromium(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		// Offline: any request leaving the machine fails, and shows up as
		// a console error.
		chromedp.Flag("proxy-server", "127.0.0.1:9"), chromedp.Flag("proxy-bypass-list", "<-loopback>"))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %v", e.Type, args))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})

	var drawn int
	if err := chromedp.Run(ctx,
		log.Enable(),
		chromedp.Navigate("file://"+path),
		chromedp.WaitReady("body"),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('.chart')).map(e => e.id)`, &ids),
		chromedp.Evaluate(`window.noderollCharts || 0`, &drawn),
		chromedp.FullScreenshot(&shot, 80),
	); err != nil {
		t.Fatal(err)
	}
	if drawn != len(ids) {
		t.Errorf("the script set up %d charts of %d", drawn, len(ids))
	}
	for _, id := range ids {
		var marks int
		sel := "#" + id
		if err := chromedp.Run(ctx, chromedp.Evaluate(
			fmt.Sprintf(`(function(){var e=document.getElementById(%q);var s=e&&e.querySelector('svg');return s?s.querySelectorAll('path,rect,text').length:0})()`, id), &marks)); err != nil {
			t.Fatal(err)
		}
		if marks < 10 {
			t.Errorf("chart %s: %d SVG marks: blank", id, marks)
			continue
		}
		var png []byte
		if err := chromedp.Run(ctx, chromedp.Screenshot(sel, &png, chromedp.ByQuery)); err != nil {
			t.Fatal(err)
		}
		if n := colours(t, png); n < 3 {
			t.Errorf("chart %s: %d colours in its screenshot: blank", id, n)
		}
	}
	if n := colours(t, shot); n < 10 {
		t.Errorf("the page screenshot has %d colours", n)
	}
	if section != "" {
		if err := chromedp.Run(ctx, chromedp.Screenshot(section, &part, chromedp.ByQuery)); err != nil {
			t.Fatalf("screenshot of %s: %v", section, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("the page logged: %s", p)
	}
	return ids, shot, part
}

// colours counts the distinct colours of an image (up to 1000).
func colours(t *testing.T, data []byte) int {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decoding a screenshot: %v", err)
	}
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r >> 8, g >> 8, bl >> 8, a >> 8}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
