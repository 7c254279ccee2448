// Command demo runs the Kizashi demo (see package demo): `go tool mage demo`, or
// `go run ./demo/cmd [--short]`. Ctrl-C stops everything and cleans up.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kizashi-dev/kizashi/demo"
)

func main() {
	short := flag.Bool("short", false, "CI variant: the fault at once, short Alertmanager timers; exit once the incident appeared")
	install := flag.Bool("install", true, "apt-get install missing Debian packages when running as root")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fi, err := os.Stdout.Stat()
	terminal := err == nil && fi.Mode()&os.ModeCharDevice != 0
	opts := demo.Options{Short: *short, Install: *install, Out: os.Stdout, Terminal: terminal}
	if !*short {
		opts.Ports = demo.DefaultPorts
	}
	if err := demo.Run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "kizashi demo:", err)
		stop()
		os.Exit(1)
	}
}
