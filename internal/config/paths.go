package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// Environment variables that override the default locations.
const (
	EnvHome  = "MODELHUB_HOME"
	EnvCache = "MODELHUB_CACHE"
	EnvIndex = "MODELHUB_INDEX"
)

// DefaultIndexURL is the public modelhub index.
const DefaultIndexURL = "https://raw.githubusercontent.com/modelhub-ai/modelhub/master/models.json"

// Paths are the folders modelhub writes to.
type Paths struct {
	// Home holds downloaded models (Home/models/NAME) and locks.
	Home string
	// Cache holds the cached copy of the index.
	Cache string
}

// DefaultHome is the data folder: $MODELHUB_HOME, else $XDG_DATA_HOME/modelhub
// (~/.local/share/modelhub) on Unix, %LocalAppData%\modelhub on Windows and
// ~/Library/Application Support/modelhub on macOS.
func DefaultHome() (string, error) {
	if h := os.Getenv(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "modelhub"), nil
	}
	switch runtime.GOOS {
	case "windows":
		if la := os.Getenv("LocalAppData"); la != "" {
			return filepath.Join(la, "modelhub"), nil
		}
		return "", errors.New("cannot find %LocalAppData%: set MODELHUB_HOME or pass --home")
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", errors.New("cannot find your home folder: set MODELHUB_HOME or pass --home")
		}
		return filepath.Join(home, "Library", "Application Support", "modelhub"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("cannot find your home folder: set MODELHUB_HOME or pass --home")
	}
	return filepath.Join(home, ".local", "share", "modelhub"), nil
}

// DefaultHomeHelp names the default data folder of the platform goos the way
// --help shows it (environment variables unexpanded).
func DefaultHomeHelp(goos string) string {
	switch goos {
	case "windows":
		return `%LocalAppData%\modelhub`
	case "darwin":
		return "~/Library/Application Support/modelhub"
	}
	return "$XDG_DATA_HOME/modelhub or ~/.local/share/modelhub"
}

// DefaultCache is the cache folder: $MODELHUB_CACHE, else $XDG_CACHE_HOME/modelhub on Unix
// (~/.cache/modelhub), %LocalAppData%\modelhub\cache on Windows,
// ~/Library/Caches/modelhub on macOS (os.UserCacheDir).
func DefaultCache() (string, error) {
	if c := os.Getenv(EnvCache); c != "" {
		return filepath.Abs(c)
	}
	if runtime.GOOS == "windows" {
		if la := os.Getenv("LocalAppData"); la != "" {
			return filepath.Join(la, "modelhub", "cache"), nil
		}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", errors.New("cannot find a cache folder: set MODELHUB_CACHE or XDG_CACHE_HOME")
	}
	return filepath.Join(dir, "modelhub"), nil
}
