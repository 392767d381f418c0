package main

// Progress of pull, push, copy and the blob transfers, on stderr: bars
// on a terminal, plain lines otherwise, nothing with --quiet. Stdout
// carries only the result.

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// stderrIsTerminal decides whether progress is drawn as bars (true) or
// written as plain lines. Tests replace it to draw bars into a buffer.
var stderrIsTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// barWidth is the widest a bar is drawn; on a narrower terminal the
// terminal's width wins. Where mpb cannot read a terminal's width (a
// writer that is not one, in tests) it is the width of the whole line.
const barWidth = 100

// lineInterval is the least time between two plain progress lines, unless
// the transfer crossed another tenth of its size.
const lineInterval = time.Second

// progressUpdate is one report of a transfer.
type progressUpdate struct {
	key        string // the blob or manifest, "" for a transfer of one stream
	done, size int64  // of key
	totalDone  int64
	total      int64 // <= 0 when unknown (a blob read from a pipe)
}

// progressView draws updates. Calls come one at a time.
type progressView interface {
	update(u progressUpdate)
	// finish draws the end, complete when ok, else aborted; it returns
	// once nothing more is written and every goroutine it started ended.
	finish(ok bool)
}

// progress is the progress of one command. Its methods are safe for
// concurrent use, and do nothing after finish.
type progress struct {
	mu     sync.Mutex
	view   progressView // nil with --quiet
	closed bool
}

// startProgress starts the progress of a transfer named verb ("pull",
// "blob push"); call finish when it ends, whatever the outcome.
func (g *globals) startProgress(verb string) *progress {
	p := &progress{}
	switch {
	case g.quiet:
	case stderrIsTerminal(g.stderr):
		p.view = newBarsView(g.stderr, verb)
	default:
		p.view = newLinesView(g.stderr, verb)
	}
	return p
}

// image takes the library's reports of PullImage, PushImage and CopyImage.
func (p *progress) image(ip azacr.ImageProgress) {
	p.update(progressUpdate{key: ip.Descriptor.Digest, done: ip.Transferred, size: ip.Descriptor.Size, totalDone: ip.TotalTransferred, total: ip.Total})
}

// stream takes the reports of a transfer of one blob: bytes done, and the
// size (negative when unknown).
func (p *progress) stream(done, total int64) {
	p.update(progressUpdate{totalDone: done, total: total})
}

func (p *progress) update(u progressUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.view == nil || p.closed {
		return
	}
	p.view.update(u)
}

// finish ends the display: completed when err is nil, aborted otherwise
// (a failure, or the context's end). It waits for the renderer.
func (p *progress) finish(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.view != nil {
		p.view.finish(err == nil)
	}
}

// barsView draws one bar per blob in flight and a total bar under them,
// with mpb, which redraws them in place several times a second.
type barsView struct {
	verb  string
	p     *mpb.Progress
	total *mpb.Bar
	blobs map[string]*mpb.Bar // in flight
}

func newBarsView(w io.Writer, verb string) *barsView {
	// ForceTTY and WithAutoRefresh: draw in place even when w is not
	// an *os.File that mpb recognizes as a terminal (the decision is
	// stderrIsTerminal's).
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(barWidth), mpb.WithAutoRefresh(), mpb.ForceTTY())
	return &barsView{verb: verb, p: p, blobs: map[string]*mpb.Bar{}}
}

func (v *barsView) update(u progressUpdate) {
	if v.total == nil {
		v.total = v.addBar(max(u.total, 0), math.MaxInt32,
			mpb.PrependDecorators(
				decor.Name(v.verb, decor.WC{W: 20, C: decor.DindentRight}),
				decor.CountersKibiByte("% .1f / % .1f", decor.WC{W: 24})),
			mpb.AppendDecorators(
				decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WC{W: 14}),
				decor.OnAbort(decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WC{W: 10}), "done"), "aborted")))
	}
	if v.total == nil {
		return // the container ended; nothing more is drawn
	}
	if u.total > 0 {
		v.total.SetTotal(u.total, false)
	}
	v.total.SetCurrent(u.totalDone)
	if u.key == "" {
		return
	}
	b := v.blobs[u.key]
	if b == nil {
		if u.done >= u.size {
			return // found on the target, or a manifest: nothing in flight
		}
		b = v.addBar(u.size, 0,
			mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(
				decor.Name(shortDigest(u.key), decor.WC{W: 20, C: decor.DindentRight}),
				decor.CountersKibiByte("% .1f / % .1f", decor.WC{W: 24})),
			mpb.AppendDecorators(decor.OnAbort(decor.Percentage(decor.WC{W: 5}), "aborted")))
		if b == nil {
			return
		}
		v.blobs[u.key] = b
	}
	b.SetCurrent(u.done)
	if u.done >= u.size {
		delete(v.blobs, u.key) // complete: mpb removes it
	}
}

// addBar adds a bar (priority 0 first, the total last); nil once the
// container has ended.
func (v *barsView) addBar(total int64, priority int, opts ...mpb.BarOption) *mpb.Bar {
	if priority != 0 {
		opts = append(opts, mpb.BarPriority(priority))
	}
	b, err := v.p.Add(total, mpb.BarStyle().Build(), opts...)
	if err != nil {
		return nil
	}
	return b
}

func (v *barsView) finish(ok bool) {
	end := func(b *mpb.Bar) {
		if ok {
			b.SetTotal(-1, true) // complete at what it reached
		} else {
			b.Abort(false)
		}
	}
	for _, b := range v.blobs {
		end(b)
	}
	if v.total != nil {
		end(v.total)
	}
	// Every bar is complete or aborted, so Wait returns once they are
	// drawn, and stops mpb's goroutines.
	v.p.Wait()
}

// shortDigest is a digest cut to its algorithm and 12 hex digits.
func shortDigest(d string) string {
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return alg + ":" + hex[:12]
	}
	return d
}

// linesView writes a line every lineInterval, or each time the transfer
// crosses another tenth of its size, and a last line with the total.
type linesView struct {
	w          io.Writer
	verb       string
	start      time.Time
	last       time.Time
	lastTenth  int64
	seen       bool
	done, size int64
}

func newLinesView(w io.Writer, verb string) *linesView {
	now := time.Now()
	return &linesView{w: w, verb: verb, start: now, last: now}
}

func (v *linesView) update(u progressUpdate) {
	v.seen = true
	v.done, v.size = u.totalDone, u.total
	now := time.Now()
	tenth := int64(-1)
	if v.size > 0 {
		tenth = v.done * 10 / v.size
	}
	if v.size > 0 && v.done >= v.size {
		return // the last line says it
	}
	if now.Sub(v.last) < lineInterval && tenth <= v.lastTenth {
		return
	}
	v.last, v.lastTenth = now, tenth
	if v.size > 0 {
		fmt.Fprintf(v.w, "%s: %3d%% %s of %s, %s\n", v.verb, v.done*100/v.size, humanBytes(v.done), humanBytes(v.size), v.rate(now))
	} else {
		fmt.Fprintf(v.w, "%s: %s, %s\n", v.verb, humanBytes(v.done), v.rate(now))
	}
}

func (v *linesView) finish(ok bool) {
	if !ok || !v.seen {
		return // the error says what happened
	}
	now := time.Now()
	fmt.Fprintf(v.w, "%s: done, %s (%d bytes) in %s, %s\n", v.verb, humanBytes(v.done), v.done, now.Sub(v.start).Round(time.Millisecond), v.rate(now))
}

// rate is the average rate since the start.
func (v *linesView) rate(now time.Time) string {
	secs := now.Sub(v.start).Seconds()
	if secs <= 0 {
		return "- /s"
	}
	return humanBytes(int64(float64(v.done)/secs)) + "/s"
}

// humanBytes writes n bytes as mpb's counters do ("1.5 MiB").
func humanBytes(n int64) string { return fmt.Sprintf("% .1f", decor.SizeB1024(n)) }
