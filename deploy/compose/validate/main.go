// Command validate loads docker-compose.yml with compose-go, the compose-spec reference implementation
// that docker compose itself uses, and fails on anything it refuses: schema violations, bad
// interpolation, unknown depends_on targets, malformed ports or volumes.
//
//	go run ./deploy/compose/validate [-profiles replay,monitoring] docker-compose.yml
//
// With -json it prints the resolved project (every profile enabled) for the tests to inspect.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	profiles := flag.String("profiles", "*", "comma-separated profiles to enable (* for all)")
	asJSON := flag.Bool("json", false, "print the resolved project as JSON")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: validate [-profiles P] [-json] docker-compose.yml")
		os.Exit(2)
	}
	file, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithProfiles(strings.Split(*profiles, ",")),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	if *asJSON {
		out, err := project.MarshalJSON()
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(out)
		fmt.Println()
		return
	}
	names := project.ServiceNames()
	fmt.Printf("%s: valid compose project %q, services: %s\n", flag.Arg(0), project.Name, strings.Join(names, ", "))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "invalid:", err)
	os.Exit(1)
}

