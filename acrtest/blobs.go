package acrtest

import "net/http"

func (s *Server) handleStartUpload(w http.ResponseWriter, r *http.Request, entry *Request, name string) {
	notFoundPage(w)
}
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, entry *Request, name, id string) {
	notFoundPage(w)
}
func (s *Server) handleBlob(w http.ResponseWriter, r *http.Request, entry *Request, name, digest string) {
	notFoundPage(w)
}
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) { notFoundPage(w) }

type upload struct{}
