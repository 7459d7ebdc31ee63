//go:build !unix

package telegraftest

// lockFile is a no-op where flock is unavailable; the rename in goInstall still keeps concurrent
// builds from exposing a partial binary, they only waste work.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
