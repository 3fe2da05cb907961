// Package deploy holds what ships the matriz binary: the scratch image
// (Dockerfile), a compose file that rehearses every lane against the
// embedded broker, and the tests that keep both working.
package deploy
