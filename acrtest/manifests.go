package acrtest

import "net/http"

func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request, entry *Request, name, ref string) {
	notFoundPage(w)
}
func (s *Server) handleV2Tags(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	notFoundPage(w)
}
func (s *Server) handleReferrers(w http.ResponseWriter, r *http.Request, entry *Request, name, digest string) {
	notFoundPage(w)
}
