package store

// unremovable: on Windows a container's files in a bind mount belong to the
// user (Docker Desktop shares the folder as the user), so nothing blocks.
func unremovable(dir string) []string { return nil }
