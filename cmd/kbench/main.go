// Command kbench is a Kafka benchmark and performance-tuning workbench.
package main

import (
	"os"

	"github.com/kbench/kbench/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
