// Command azacr is a registry tool for Azure Container Registry, in the
// style of crane, oras and regctl: list and inspect repositories, tags,
// manifests and referrers; pull, push and copy images and blobs with
// progress; tag, delete, lock and unlock; purge by age and count; and run
// a local ACR emulator for tests.
//
//	go install github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/cmd/azacr@latest
//	azacr tags myregistry.azurecr.io/hello-world
//	azacr pull myregistry.azurecr.io/hello-world:v1 ./hello
//
// See README.md beside this file for every command.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
