// Package deploy holds the tests of the deployment files next to it: the Dockerfiles
// (docker/), the systemd units (systemd/) and the Kubernetes manifests (kubernetes/), each
// checked against a release built by `go tool mage release` and against the daemons
// themselves. It is a Go module of its own so that the Kubernetes API types and BuildKit's
// Dockerfile parser stay out of the daemons' module (see README.md).
package deploy
