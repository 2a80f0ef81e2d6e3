// Package conformance tests modelhub against the real modelhub engine (the
// upstream Flask app every published model image runs), built offline from
// ../shared/realengine by scripts/realengine-image.sh.
//
// The tests run only when MODELHUB_REALENGINE_IMAGE names that image
// (`make conformance` and .ci/run set it); otherwise they skip, so
// `make test` works on a fresh machine. Tests that read the real index data
// (../shared/modelhub-data) skip when it is absent.
//
// Adding a test: call newEnv(t) for a fresh setup — the brightness model
// (testdata/model) served on 127.0.0.1 under a unique name, its image built
// FROM the engine image, an empty modelhub home — then drive the real binary
// with env.run, env.start or env.pty. See harness_test.go.
package conformance
