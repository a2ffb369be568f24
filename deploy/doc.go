// Package deploy holds no code: it is the home of the deployment files
// (docker-compose.yml at the repository root, deploy/aewatch.yaml, the
// Grafana provisioning and dashboard) and of the test that keeps them
// consistent with aewatch's configuration keys and with each other, since no
// container engine runs where the tests do.
package deploy
