// Command bench measures azacr side by side with its peers and prints
// markdown tables.
//
//	cd conformance && go run ./cmd/bench -metadata
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/acrtest"
	"github.com/Azure/azure-sdk-for-go/sdk/containerregistry/azacr/conformance"
)

func main() {
	metadata := flag.Bool("metadata", true, "count the requests of the metadata workload against acrtest")
	flag.Parse()
	log.SetFlags(0)
	if *metadata {
		ctx := context.Background()
		var rows []conformance.RequestCounts
		for _, run := range []func(context.Context, *acrtest.Server) (conformance.RequestCounts, error){
			conformance.RunMetadataAzacr, conformance.RunMetadataOfficial,
		} {
			srv := acrtest.NewUnstartedServer(nil)
			srv.Start()
			if err := conformance.SeedMetadataWorkload(srv); err != nil {
				log.Fatal(err)
			}
			row, err := run(ctx, srv)
			srv.Close()
			if err != nil {
				log.Fatal(err)
			}
			rows = append(rows, row)
		}
		fmt.Println("Metadata workload against acrtest (request counts):")
		fmt.Println()
		fmt.Print(conformance.MetadataTable(rows...))
	}
}
