package acrtest

type blobStore struct{}

func newBlobStore(dir string) *blobStore { return &blobStore{} }
func (b *blobStore) close()               {}

type upload struct{}
