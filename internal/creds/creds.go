// Package creds reads what aewatch authenticates with: secrets from files
// and TLS client settings from PEM files. Each error names the setting it
// came from (the name the caller passes), never the secret. Stateless;
// safe for concurrent use.
package creds

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// Secret reads a secret from path, without surrounding whitespace; name
// (such as "influx.token_file") labels errors.
func Secret(name, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// CAPool reads the PEM certificates of path; name labels errors.
func CAPool(name, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in %s", name, path)
	}
	return pool, nil
}

// TLSFiles are the files of a TLS client: the CAs to trust (the system's
// when empty) and a client certificate (mutual TLS) when set.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
	ServerName                string
	InsecureSkipVerify        bool
}

// ClientTLS builds a client's TLS settings from f; prefix (such as
// "kafka.tls") names the keys in errors.
func ClientTLS(prefix string, f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: f.ServerName, InsecureSkipVerify: f.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := CAPool(prefix+".ca_file", f.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if f.CertFile != "" || f.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file, %s.key_file: %w", prefix, prefix, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
