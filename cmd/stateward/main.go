// Command stateward is the Stateward service and its administration CLI.
//
//	stateward [serve]                                   run the service
//	stateward tenant create SLUG [--name N] [--owner E] create a team
//	stateward token create --tenant SLUG [--role R] [--name N]   print one API token
//	stateward keys rotate                               re-seal credentials under the current key
//
// and a client of a running server (see usage): login, apply, diff, get,
// describe, works, export.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "stateward:", msg)
		}
		os.Exit(exitCodeOf(err))
	}
}

const usage = `usage:
  stateward [serve]
  stateward tenant create SLUG [--name NAME] [--owner EMAIL]
  stateward token create --tenant SLUG [--role owner|editor|viewer] [--name NAME]
  stateward keys rotate

Talking to a running server (credentials from login, or STATEWARD_SERVER,
STATEWARD_TENANT and STATEWARD_TOKEN; --server, --tenant, --token override):
  stateward login --server URL [--tenant SLUG] [--token TOKEN] [--no-browser]
  stateward apply -f DIR|FILE|- [--dry-run] [--diff]
  stateward diff -f DIR|FILE|-
  stateward get stores|destinations|works [-o yaml|json]
  stateward describe work ID [-o yaml|json]
  stateward works submit -f work.json|- [--dry-run] [--wait] [--timeout 10m]
  stateward works delete ID [--wait] [--timeout 10m]
  stateward export > folder.yaml

Exit codes: 0 ok; 1 diff found, or --wait saw a placement failed or rejected (or
the Work placed nowhere); 2 usage; 3 the server refused the request (its error
and field are printed); 4 not signed in or token refused; 5 server failed or
unreachable; 6 --wait timed out.`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, getenv, os.Stdin, stdout, stderr)
}

// runWithInput is run with its standard input given (for -f -).
func runWithInput(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	pos, flags, err := parseArgs(args)
	if err != nil {
		return exitError{code: exitUsage, err: err}
	}
	cmd := "serve"
	if len(pos) > 0 {
		cmd = pos[0]
		pos = pos[1:]
	}
	if remote, ok := remoteCommands[cmd]; ok {
		return remote(ctx, cliEnv{pos: pos, flags: flags, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
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
	return usageError("unknown command %q\n%s", cmd, usage)
}

// boolFlags take no value (--wait, or --wait=false).
var boolFlags = map[string]bool{"dry-run": true, "diff": true, "wait": true, "no-browser": true}

// shortFlags are kubectl's one-letter flags and the long names they stand for.
var shortFlags = map[string]string{"f": "filename", "o": "output"}

// parseArgs splits positional arguments from --flag value / --flag=value pairs, in
// any order.
func parseArgs(args []string) (pos []string, flags map[string]string, err error) {
	flags = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), flags, nil
		}
		if len(a) >= 2 && a[0] == '-' && a[1] != '-' && shortFlags[a[1:2]] != "" {
			// -f x, -f=x, -fx (kubectl's -ojson)
			name, value := shortFlags[a[1:2]], strings.TrimPrefix(a[2:], "=")
			if value == "" {
				if i+1 >= len(args) {
					return nil, nil, fmt.Errorf("flag %s needs a value", a)
				}
				i++
				value = args[i]
			}
			flags[name] = value
			continue
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
		if boolFlags[name] {
			if !hasValue {
				value = "true"
			} else if value != "true" && value != "false" {
				return nil, nil, fmt.Errorf("flag --%s is true or false, not %q", name, value)
			}
		} else if !hasValue {
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
