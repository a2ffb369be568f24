package creds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretAndErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s")
	os.WriteFile(p, []byte("  s3cret\n"), 0o600)
	if got, err := Secret("x.token_file", p); err != nil || got != "s3cret" {
		t.Fatalf("Secret: %q %v", got, err)
	}
	if _, err := Secret("x.token_file", filepath.Join(dir, "none")); err == nil || !strings.HasPrefix(err.Error(), "x.token_file: ") {
		t.Errorf("missing file: %v, want an error naming x.token_file", err)
	}
	if _, err := CAPool("x.ca_file", p); err == nil || !strings.Contains(err.Error(), "x.ca_file: no PEM certificate") {
		t.Errorf("not PEM: %v", err)
	}
	if _, err := ClientTLS("x.tls", TLSFiles{CertFile: p, KeyFile: p}); err == nil || !strings.HasPrefix(err.Error(), "x.tls.cert_file, x.tls.key_file: ") {
		t.Errorf("bad key pair: %v", err)
	}
}
