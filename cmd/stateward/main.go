// Command stateward is the Stateward service and its administration CLI.
//
//	stateward [serve]                                   run the service
//	stateward tenant create SLUG [--name N] [--owner E] create a team
//	stateward token create --tenant SLUG [--role R] [--name N]   print one API token
//	stateward keys rotate                               re-seal credentials under the current key
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "stateward:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  stateward [serve]
  stateward tenant create SLUG [--name NAME] [--owner EMAIL]
  stateward token create --tenant SLUG [--role owner|editor|viewer] [--name NAME]
  stateward keys rotate`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	pos, flags, err := parseArgs(args)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(pos) > 0 {
		cmd = pos[0]
		pos = pos[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stdout, stderr)
	case "tenant":
		return tenantCmd(ctx, cfg, pos, flags, stdout)
	case "token":
		return tokenCmd(ctx, cfg, pos, flags, stdout)
	case "keys":
		return keysCmd(ctx, cfg, pos, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// parseArgs splits positional arguments from --flag value / --flag=value pairs, in
// any order.
func parseArgs(args []string) (pos []string, flags map[string]string, err error) {
	flags = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), flags, nil
		}
		if len(a) < 3 || a[:2] != "--" {
			if a == "-h" {
				pos = append(pos, "help")
				continue
			}
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := cut(a[2:], '=')
		if name == "help" {
			pos = append(pos, "help")
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		}
		flags[name] = value
	}
	return pos, flags, nil
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
