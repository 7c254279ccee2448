package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress prints the demo's progress: steps ("Starting X ... done (1.2s)"), events with the
// time since the fault, and a waiting line redrawn in place on a terminal.
type progress struct {
	mu       sync.Mutex
	out      io.Writer
	terminal bool
	start    time.Time

	stepStart time.Time
	inStep    bool
	waiting   bool // a waiting line is on the screen (terminal)
	lastWait  time.Time
	spin      int
}

func (p *progress) stamp() string {
	return fmt.Sprintf("[%6.1fs]", time.Since(p.start).Seconds())
}

// clear removes the waiting line from a terminal.
func (p *progress) clear() {
	if p.waiting {
		fmt.Fprint(p.out, "\r\033[K")
		p.waiting = false
	}
}

// line prints a line.
func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	if p.inStep {
		fmt.Fprintln(p.out)
		p.inStep = false
	}
	if format == "" {
		fmt.Fprintln(p.out)
		return
	}
	fmt.Fprintf(p.out, "%s %s\n", p.stamp(), fmt.Sprintf(format, args...))
}

// step starts a step; done ends it.
func (p *progress) step(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.out, "%s %s", p.stamp(), fmt.Sprintf(format, args...))
	p.stepStart, p.inStep = time.Now(), true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inStep {
		fmt.Fprintf(p.out, " done (%.1fs)\n", time.Since(p.stepStart).Seconds())
		p.inStep = false
	}
}

// event prints a step of the story.
func (p *progress) event(format string, args ...any) {
	p.line("  -> "+format, args...)
}

// wait shows what the demo is waiting for: redrawn in place on a terminal, else printed
// every 15 seconds.
func (p *progress) wait(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if p.terminal {
		frames := []string{"|", "/", "-", `\`}
		p.spin++
		fmt.Fprintf(p.out, "\r\033[K%s %s %s", p.stamp(), frames[p.spin%len(frames)], strings.TrimSpace(msg))
		p.waiting = true
		return
	}
	if time.Since(p.lastWait) >= 15*time.Second {
		p.lastWait = time.Now()
		fmt.Fprintf(p.out, "%s ... %s\n", p.stamp(), msg)
	}
}
