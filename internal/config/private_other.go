//go:build !unix

package config

// privateFile: Windows has no mode bits; the file's ACL is the user's
// profile's (%AppData%).
func privateFile(string) error { return nil }
