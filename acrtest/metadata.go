package acrtest

import "net/http"

func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, entry *Request) {
	notFoundPage(w)
}
func (s *Server) handleV2Catalog(w http.ResponseWriter, r *http.Request, entry *Request) {
	notFoundPage(w)
}
func (s *Server) handleRepository(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	notFoundPage(w)
}
func (s *Server) handleListTags(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	notFoundPage(w)
}
func (s *Server) handleTag(w http.ResponseWriter, r *http.Request, entry *Request, name, tag string) {
	notFoundPage(w)
}
func (s *Server) handleListManifests(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	notFoundPage(w)
}
func (s *Server) handleManifestProperties(w http.ResponseWriter, r *http.Request, entry *Request, name, digest string) {
	notFoundPage(w)
}
