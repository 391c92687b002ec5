package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium on url with extra flags and returns its
// stdout; console errors and uncaught exceptions in its log fail t.
func chromium(t *testing.T, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--enable-logging=stderr", "--v=0", "--user-data-dir=" + t.TempDir()}
	args = append(append(args, extra...), url)
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, e.String())
	}
	for _, l := range strings.Split(e.String(), "\n") {
		if strings.Contains(l, "Uncaught") || strings.Contains(l, "CONSOLE") && strings.Contains(l, "ERROR") {
			t.Errorf("console error: %s", l)
		}
	}
	return o.String()
}

// canvasAttrs returns the data-* attributes of the timeline canvas in a
// dumped DOM.
func canvasAttrs(t *testing.T, dom string) map[string]string {
	t.Helper()
	tag := regexp.MustCompile(`<canvas id="tl-canvas"[^>]*>`).FindString(dom)
	if tag == "" {
		t.Fatal("no timeline canvas in the DOM")
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`data-([a-z-]+)="([^"]*)"`).FindAllStringSubmatch(tag, -1) {
		out[m[1]] = m[2]
	}
	if out["ready"] != "1" {
		t.Fatalf("timeline script did not finish: %s", tag)
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// render loads url once in a window of w x h: the dumped DOM and a screenshot.
func render(t *testing.T, url string, w, h int) (dom string, img image.Image) {
	t.Helper()
	shot := t.TempDir() + "/shot.png"
	dom = chromium(t, url, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h), "--screenshot="+shot, "--dump-dom")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err = png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return dom, img
}

// crop is the part r of img.
func crop(t *testing.T, img image.Image, r image.Rectangle) image.Image {
	t.Helper()
	if !r.In(img.Bounds()) {
		t.Fatalf("crop %v outside the screenshot %v", r, img.Bounds())
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		t.Fatalf("screenshot %T cannot be cropped", img)
	}
	return sub.SubImage(r)
}

// savePNG writes img to path.
func savePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
