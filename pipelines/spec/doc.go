// Package spec is the pipeline spec: per lane, the stage order and every
// stage's parameters, parsed from YAML (the embedded matriz.yaml by
// default) and validated before any connection is made — by building each
// lane's chain, tick and decimation ring dry with the same options the
// runtime uses — so every error names the file, the line, the lane and the
// field.
package spec
