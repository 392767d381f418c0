package acrtest

import "net/http"

type faultSet struct{}

func (f *faultSet) apply(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, bool) {
	return w, false
}
