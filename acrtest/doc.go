// Package acrtest is an in-process emulator of the Azure Container Registry
// (ACR) data plane, for testing code that talks to ACR, whether through
// azacr or another client.
//
// A [Server] is an HTTPS server on the loopback interface, built on
// net/http/httptest, that answers as ACR does, with its status codes,
// headers, error bodies and paging:
//
//   - authentication: the 401 challenges, the exchange of a Microsoft Entra
//     token for an ACR refresh token (POST /oauth2/exchange), access tokens
//     per scope (POST /oauth2/token), anonymous pull
//     ([Options.AnonymousPull]) and Basic logins of an admin user or
//     repository-scoped tokens ([Options.Users]), with the scope of every
//     request checked;
//   - the /acr/v1 metadata API: repositories, tags and manifests, their
//     properties and the locks set through them, deletion;
//   - the /v2 distribution API: blob uploads (chunked, monolithic, and
//     cross-repository mounts), blob reads, manifests, tags and referrers.
//     With [Options.RedirectBlobs], blob reads are redirected to a second
//     host standing in for Azure Storage, as ACR does.
//
// # Starting a server
//
// In a test, one line starts a server and closes it when the test ends:
//
//	srv := acrtest.NewServer(t, nil)
//
// [NewUnstartedServer], then [Server.Start] and [Server.Close], does the
// same outside a test, and lets content be seeded before the server
// listens. [Server.PutBlob] and [Server.PutManifest] seed content;
// [Server.Blob] and [Server.Manifest] read back what clients stored.
//
// # Connecting a client
//
// The server is reached at [Server.URL] and presents a self-signed
// certificate made when it starts, valid for 127.0.0.1, ::1 and localhost.
// [Server.ClientOptions] holds a transport that trusts it, and
// [Server.Credential] is a fake Microsoft Entra credential whose tokens the
// server accepts; an azacr client takes both:
//
//	client, err := azacr.NewContainerRegistryClient(srv.URL, srv.Credential(),
//		&azacr.ContainerRegistryClientOptions{ClientOptions: srv.ClientOptions()})
//
// Other clients can use [Server.Client], [Server.TLSConfig] or
// [Server.Certificate]. The service name that challenges carry and token
// requests must name is the listening address unless [Options.Service]
// sets a login server name such as "myregistry.azurecr.io"; see
// [Server.Service].
//
// # Fault injection
//
// [Server.InjectFault] makes chosen requests fail as a busy registry or a
// bad network would: a status such as 429 with Retry-After or 503, a reset
// connection, a response cut short or corrupted, or a delay. A [Fault]
// selects requests by method, path or a predicate, and by their order (the
// second PATCH of an upload, say). [Server.InjectRandomFaults] fails a
// fraction of all requests, reproducibly for a given seed, for soak tests
// of retry logic. [Server.FaultsFired] tells whether a fault was hit, and
// [Server.ClearFaults] removes them all.
//
// # Request log
//
// The server records every request it serves: method, path, query,
// status, the authentication it carried, the scope it needed and its
// headers. [Server.Requests] returns the log, [Server.CountRequests]
// counts matching entries and [Server.ResetRequests] empties it, so a test
// can assert the exact round trips an operation makes, such as a single
// token exchange for a whole session.
//
// # Connection counting
//
// [Server.Connections] and [Server.StorageConnections] count the TCP
// connections each host has accepted. Compared with the number of
// requests, they show whether a client reuses connections.
//
// # Limits
//
// The server emulates behaviour, not the service:
//
//   - Its tokens are HS256 JWTs signed with a key of its own, and the
//     Entra tokens it accepts are those of its fake credential; a real
//     Entra token is refused. Entra identities are allowed every action;
//     only [Options.Users] can be restricted to some repositories.
//   - It covers the data plane only: nothing of Azure Resource Manager
//     (creating registries, role assignments, network rules, webhooks,
//     tasks, replication, retention or soft delete).
//   - It speaks HTTP/1.1 over TLS, or over plain HTTP with
//     [Options.PlainHTTP], on the loopback interface (or on
//     [Options.Listener]).
//   - Where ACR's answer to a request has not been observed, it answers
//     as the OCI distribution specification prescribes.
//   - Content lives in memory unless [Options.Dir] is set, and the request
//     log grows until [Server.ResetRequests] is called.
//   - [Options.Now] sets the clock of tokens and timestamps, not that of
//     TLS, which uses the real time.
package acrtest
