package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perch-gw/perch/gateway/pki"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const goldenDir = "../../testdata/pki"

var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// config returns a Config for dir with a fixed clock and the given host addresses.
func config(dir string, at time.Time, ips ...string) pki.Config {
	return pki.Config{
		Dir:        dir,
		Hostname:   "perch-pi",
		ExtraNames: []string{"mqtt.example.com", "10.9.9.9"},
		Now:        func() time.Time { return at },
		IPs: func() ([]net.IP, error) {
			var out []net.IP
			for _, s := range ips {
				out = append(out, net.ParseIP(s))
			}
			return out, nil
		},
	}
}

func load(t *testing.T, cfg pki.Config) *pki.Material {
	t.Helper()
	m, err := pki.Load(cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

func TestGenerateThenReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	cfg := config(dir, epoch, "192.168.1.20", "fd00::20")

	first := load(t, cfg)
	if !first.Generated || !first.Issued || first.IssueReason != "no server certificate" {
		t.Errorf("first Load: Generated=%v Issued=%v IssueReason=%q, want true, true, no server certificate",
			first.Generated, first.Issued, first.IssueReason)
	}
	ca := first.CA
	if !ca.IsCA || !ca.MaxPathLenZero || ca.MaxPathLen != 0 || ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign ||
		ca.Subject.CommonName != "Perch CA perch-pi" || ca.PublicKeyAlgorithm != x509.ECDSA ||
		ca.SerialNumber.BitLen() < 64 || !ca.NotAfter.Equal(ca.NotBefore.AddDate(10, 0, 0)) {
		t.Errorf("CA: IsCA=%v MaxPathLenZero=%v KeyUsage=%v CN=%q alg=%v serial=%v validity %v..%v",
			ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage, ca.Subject.CommonName, ca.PublicKeyAlgorithm, ca.SerialNumber, ca.NotBefore, ca.NotAfter)
	}
	leaf := first.Cert.Leaf
	wantDNS := []string{"localhost", "mqtt.example.com", "perch-pi", "perch-pi.local"}
	var gotIPs []string
	for _, ip := range leaf.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	wantIPs := []string{"10.9.9.9", "127.0.0.1", "192.168.1.20", "::1", "fd00::20"}
	if !slices.Equal(leaf.DNSNames, wantDNS) || !slices.Equal(gotIPs, wantIPs) {
		t.Errorf("server SANs = %v %v, want %v %v", leaf.DNSNames, gotIPs, wantDNS, wantIPs)
	}
	if leaf.Subject.CommonName != "perch-pi" || leaf.IsCA || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) ||
		!leaf.NotBefore.Equal(epoch.Add(-time.Hour)) || leaf.NotAfter.Sub(leaf.NotBefore) != 825*24*time.Hour {
		t.Errorf("server: CN=%q IsCA=%v ExtKeyUsage=%v validity %v..%v", leaf.Subject.CommonName, leaf.IsCA, leaf.ExtKeyUsage, leaf.NotBefore, leaf.NotAfter)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Errorf("server certificate not signed by the CA: %v", err)
	}

	second := load(t, cfg)
	if second.Generated || second.Issued {
		t.Errorf("second Load: Generated=%v Issued=%v (%s), want false, false", second.Generated, second.Issued, second.IssueReason)
	}
	if second.Fingerprint != first.Fingerprint || !bytes.Equal(second.CAPEM, first.CAPEM) ||
		!bytes.Equal(second.Cert.Leaf.Raw, first.Cert.Leaf.Raw) {
		t.Errorf("second Load changed the material: fingerprint %s, was %s", second.Fingerprint, first.Fingerprint)
	}
	exported, err := pki.CAPEM(dir)
	if err != nil || !bytes.Equal(exported, first.CAPEM) {
		t.Errorf("CAPEM(%s) = %q, %v; want the CA of Load", dir, exported, err)
	}
}

func TestReissue(t *testing.T) {
	other := t.TempDir()
	load(t, config(other, epoch))

	tests := []struct {
		name   string
		cfg    func(dir string) pki.Config
		mutate func(t *testing.T, dir string)
		reason string // "" when the certificate is reused
	}{
		{"same", func(d string) pki.Config { return config(d, epoch, "192.168.1.20") }, nil, ""},
		{"address removed", func(d string) pki.Config { return config(d, epoch) }, nil, ""},
		{"later but not near expiry", func(d string) pki.Config { return config(d, epoch.AddDate(0, 0, 790), "192.168.1.20") }, nil, ""},
		{"new DHCP address", func(d string) pki.Config { return config(d, epoch, "192.168.1.21") }, nil, "does not name 192.168.1.21"},
		{"new hostname", func(d string) pki.Config {
			c := config(d, epoch, "192.168.1.20")
			c.Hostname = "Barn.lan."
			return c
		}, nil, "does not name barn.lan"},
		{"new extra name", func(d string) pki.Config {
			c := config(d, epoch, "192.168.1.20")
			c.ExtraNames = append(c.ExtraNames, "2001:db8::1")
			return c
		}, nil, "does not name 2001:db8::1"},
		{"extra name with zone", func(d string) pki.Config {
			c := config(d, epoch, "192.168.1.20")
			c.ExtraNames = append(c.ExtraNames, "fe80::1%eth0", " Perch.Example. ")
			return c
		}, nil, "does not name perch.example"},
		{"near expiry", func(d string) pki.Config { return config(d, epoch.AddDate(0, 0, 800), "192.168.1.20") }, nil, "expires on 2027-09-04"},
		{"server.pem corrupt", func(d string) pki.Config { return config(d, epoch, "192.168.1.20") }, func(t *testing.T, d string) {
			write(t, filepath.Join(d, pki.ServerFile), "garbage")
		}, "unusable server.pem: tls: failed to find any PEM data in certificate input"},
		{"server key missing", func(d string) pki.Config { return config(d, epoch, "192.168.1.20") }, func(t *testing.T, d string) {
			if err := os.Remove(filepath.Join(d, pki.ServerKeyFile)); err != nil {
				t.Fatal(err)
			}
		}, "no server certificate"},
		{"signed by another CA", func(d string) pki.Config { return config(d, epoch, "192.168.1.20") }, func(t *testing.T, d string) {
			for _, f := range []string{pki.ServerFile, pki.ServerKeyFile} {
				write(t, filepath.Join(d, f), read(t, filepath.Join(other, f)))
			}
		}, "signed by another CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := load(t, config(dir, epoch, "192.168.1.20"))
			if tt.mutate != nil {
				tt.mutate(t, dir)
			}
			m := load(t, tt.cfg(dir))
			if m.Generated || m.Fingerprint != before.Fingerprint {
				t.Fatalf("CA replaced: Generated=%v fingerprint %s, was %s", m.Generated, m.Fingerprint, before.Fingerprint)
			}
			if m.IssueReason != tt.reason || m.Issued != (tt.reason != "") {
				t.Fatalf("Issued=%v IssueReason=%q, want %q", m.Issued, m.IssueReason, tt.reason)
			}
			if err := m.Cert.Leaf.CheckSignatureFrom(m.CA); err != nil {
				t.Fatalf("server certificate not signed by the CA: %v", err)
			}
			again := load(t, tt.cfg(dir))
			if again.Issued || !bytes.Equal(again.Cert.Leaf.Raw, m.Cert.Leaf.Raw) {
				t.Errorf("third Load issued again: %s", again.IssueReason)
			}
		})
	}
}

func TestHostnameIP(t *testing.T) {
	cfg := config(t.TempDir(), epoch)
	cfg.Hostname = "192.168.7.7"
	leaf := load(t, cfg).Cert.Leaf
	if !slices.Equal(leaf.DNSNames, []string{"localhost", "mqtt.example.com"}) ||
		!slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.ParseIP("192.168.7.7")) }) {
		t.Errorf("SANs = %v %v, want the host name as an address", leaf.DNSNames, leaf.IPAddresses)
	}
}

func TestDefaultIPs(t *testing.T) {
	cfg := config(t.TempDir(), epoch)
	cfg.IPs, cfg.Hostname = nil, ""
	first := load(t, cfg)
	if again := load(t, cfg); again.Issued {
		t.Errorf("second Load with the host's own addresses issued again: %s", again.IssueReason)
	}
	if err := first.Cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
}

func TestHandshake(t *testing.T) {
	m := load(t, config(t.TempDir(), time.Now()))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", m.ServerTLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // listener closed
			}
			_ = c.(*tls.Conn).Handshake()
			_, _ = io.WriteString(c, "ok")
			c.Close()
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(m.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	tests := []struct {
		name    string
		cfg     *tls.Config
		wantErr string
	}{
		{"localhost", &tls.Config{ServerName: "localhost"}, ""},
		{"mDNS name", &tls.Config{ServerName: "perch-pi.local"}, ""},
		{"IP 127.0.0.1", &tls.Config{}, ""}, // ServerName taken from the address
		{"wrong name", &tls.Config{ServerName: "other.example"}, "certificate is valid for"},
		{"TLS 1.1", &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "protocol version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg.Clone()
			cfg.RootCAs = roots
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
			if err == nil {
				defer conn.Close()
				_, err = io.ReadAll(conn)
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("handshake error = %v, want one containing %q", err, tt.wantErr)
			}
			if err == nil && conn.ConnectionState().Version < tls.VersionTLS12 {
				t.Errorf("negotiated version %x", conn.ConnectionState().Version)
			}
		})
	}
}

// The handshake carries the CA after the server certificate, so that a
// client that pins only the CA's fingerprint (as mDNS advertises it) can
// find and check it; a user's own certificate is served as it is.
func TestChainEndsWithCA(t *testing.T) {
	dir := t.TempDir()
	for _, start := range []string{"first", "reuse"} {
		m := load(t, config(dir, time.Now()))
		ln, err := tls.Listen("tcp", "127.0.0.1:0", m.ServerTLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if c, err := ln.Accept(); err == nil {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		// No roots: what the server sends, not what a verifier completes.
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("%s start: %v", start, err)
		}
		chain := conn.ConnectionState().PeerCertificates
		conn.Close()
		ln.Close()
		<-done
		if len(chain) != 2 {
			t.Fatalf("%s start: %d certificates in the chain, want the server's and the CA's", start, len(chain))
		}
		if !chain[0].Equal(m.Cert.Leaf) || !chain[1].Equal(m.CA) || !chain[1].IsCA {
			t.Fatalf("%s start: chain is %v, %v", start, chain[0].Subject, chain[1].Subject)
		}
		if got := pki.Fingerprint(chain[1]); got != m.Fingerprint {
			t.Fatalf("%s start: fingerprint %s, want %s", start, got, m.Fingerprint)
		}
		if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
			t.Fatalf("%s start: %v", start, err)
		}
	}
}

func TestUserCert(t *testing.T) {
	userDir := t.TempDir()
	certFile, keyFile := filepath.Join(userDir, "cert.pem"), filepath.Join(userDir, "key.pem")
	certPEM, keyPEM := selfSigned(t)
	write(t, certFile, string(certPEM))
	write(t, keyFile, string(keyPEM))
	otherKey := filepath.Join(userDir, "other-key.pem")
	_, other := selfSigned(t)
	write(t, otherKey, string(other))

	dir := t.TempDir()
	cfg := config(dir, epoch)
	cfg.CertFile, cfg.KeyFile = certFile, keyFile
	m := load(t, cfg)
	block, _ := pem.Decode(certPEM)
	if !bytes.Equal(m.Cert.Leaf.Raw, block.Bytes) || m.Issued || !m.Generated {
		t.Errorf("Load did not serve the user's certificate: Issued=%v Generated=%v", m.Issued, m.Generated)
	}
	if n := len(m.Cert.Certificate); n != 1 {
		t.Errorf("the user's one-certificate file is served as a chain of %d", n)
	}
	if _, err := os.Stat(filepath.Join(dir, pki.ServerFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("server.pem written despite a user certificate: %v", err)
	}

	tests := []struct {
		name, cert, key string
		is              error
		wantMsg         string
	}{
		{"only cert", certFile, "", pki.ErrConfig, "must be set together"},
		{"only key", "", keyFile, pki.ErrConfig, "must be set together"},
		{"missing key", certFile, keyFile + ".nope", fs.ErrNotExist, "read " + keyFile + ".nope: no such file"},
		{"key of another cert", certFile, otherKey, pki.ErrBadMaterial, "pki: load " + certFile + " with key " + otherKey + ": tls: private key does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t.TempDir(), epoch)
			cfg.CertFile, cfg.KeyFile = tt.cert, tt.key
			_, err := pki.Load(cfg)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Load error = %v, want %v containing %q", err, tt.is, tt.wantMsg)
			}
		})
	}
}

func TestBadCA(t *testing.T) {
	other := t.TempDir()
	load(t, config(other, epoch))

	tests := []struct {
		name    string
		mutate  func(t *testing.T, dir string)
		now     time.Time
		file    string // named in the error
		wantMsg string
	}{
		{"ca.pem not PEM", func(t *testing.T, d string) { write(t, filepath.Join(d, pki.CAFile), "garbage") },
			epoch, pki.CAFile, "not a PEM certificate"},
		{"ca.pem not DER", func(t *testing.T, d string) {
			write(t, filepath.Join(d, pki.CAFile), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})))
		}, epoch, pki.CAFile, "x509: malformed certificate"},
		{"ca.pem not a CA", func(t *testing.T, d string) {
			write(t, filepath.Join(d, pki.CAFile), read(t, filepath.Join(d, pki.ServerFile)))
		}, epoch, pki.CAFile, "not a CA certificate"},
		{"CA expired", nil, epoch.AddDate(11, 0, 0), pki.CAFile, "CA expired on 2035-06-01"},
		{"ca-key.pem missing", func(t *testing.T, d string) {
			if err := os.Remove(filepath.Join(d, pki.CAKeyFile)); err != nil {
				t.Fatal(err)
			}
		}, epoch, pki.CAKeyFile, "no such file or directory (needed by ca.pem"},
		{"ca-key.pem of another CA", func(t *testing.T, d string) {
			write(t, filepath.Join(d, pki.CAKeyFile), read(t, filepath.Join(other, pki.CAKeyFile)))
		}, epoch, pki.CAKeyFile, "private key does not match public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			load(t, config(dir, epoch))
			if tt.mutate != nil {
				tt.mutate(t, dir)
			}
			caBefore := readOrEmpty(filepath.Join(dir, pki.CAFile))
			_, err := pki.Load(config(dir, tt.now))
			want := "pki: read " + filepath.Join(dir, tt.file) + ": "
			if !errors.Is(err, pki.ErrBadMaterial) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Load error = %v, want ErrBadMaterial %q...%q", err, want, tt.wantMsg)
			}
			if after := readOrEmpty(filepath.Join(dir, pki.CAFile)); after != caBefore {
				t.Errorf("Load replaced ca.pem")
			}
		})
	}
}

func TestInterruptedFirstStart(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, pki.CAKeyFile), "left over")
	m := load(t, config(dir, epoch))
	if !m.Generated {
		t.Errorf("Generated = false with only ca-key.pem present")
	}
}

func TestModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := filepath.Join(t.TempDir(), "data", "tls")
	load(t, config(dir, epoch))
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	load(t, config(dir, epoch, "10.1.1.1")) // reissues, and tightens the directory
	want := map[string]fs.FileMode{
		".":               0o700 | fs.ModeDir,
		pki.CAFile:        0o644,
		pki.CAKeyFile:     0o600,
		pki.ServerFile:    0o644,
		pki.ServerKeyFile: 0o600,
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want)-1 {
		t.Errorf("directory holds %v, want only the four files", entries)
	}
	for name, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != mode {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode(), mode)
		}
	}
}

func TestCAPEMAbsent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := pki.CAPEM(dir); !errors.Is(err, pki.ErrNoCA) || !strings.Contains(err.Error(), dir) {
		t.Errorf("CAPEM error = %v, want ErrNoCA naming %s", err, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CAPEM created %s", dir)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, pki.CAFile), "garbage")
	if _, err := pki.CAPEM(dir); !errors.Is(err, pki.ErrBadMaterial) || !strings.Contains(err.Error(), filepath.Join(dir, pki.CAFile)) {
		t.Errorf("CAPEM error = %v, want ErrBadMaterial naming ca.pem", err)
	}
}

func TestFingerprint(t *testing.T) {
	block, _ := pem.Decode([]byte(read(t, filepath.Join(goldenDir, "ca.pem"))))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// openssl x509 -in testdata/pki/ca.pem -noout -fingerprint -sha256
	const want = "72:27:DE:35:BE:15:E0:BB:5C:A9:E4:86:69:63:D9:E6:66:37:CB:49:76:E0:7A:35:3F:8A:12:14:F4:4C:60:08"
	if got := pki.Fingerprint(cert); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}

func TestFormatC(t *testing.T) {
	caPEM := read(t, filepath.Join(goldenDir, "ca.pem"))
	tests := []struct{ name, in, golden string }{
		{"ca", caPEM, "ca.h"},
		{"crlf", strings.ReplaceAll(caPEM, "\n", "\r\n"), "ca.h"},
		{"not a certificate", "-----BEGIN X-----\n\"q\\?\n-----END X-----\n", "odd.h"},
		{"empty", "", "empty.h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pki.FormatC([]byte(tt.in))
			golden := filepath.Join(goldenDir, tt.golden)
			if *update && tt.name != "crlf" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := read(t, golden); got != want {
				t.Errorf("FormatC = \n%s\nwant (%s)\n%s", got, golden, want)
			}
			compileC(t, got)
		})
	}
}

// compileC checks src with gcc as C and C++, when gcc is installed.
func compileC(t *testing.T, src string) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not on PATH")
	}
	src += "const char *use(void) { return PERCH_CA_CERT; }\n"
	if strings.Contains(src, "PERCH_CA_FINGERPRINT") {
		src += "const char *useFingerprint(void) { return PERCH_CA_FINGERPRINT; }\n"
	}
	for _, lang := range [][]string{{"-x", "c", "-std=c99"}, {"-x", "c++", "-std=c++11"}} {
		cmd := exec.Command(gcc, append(lang, "-fsyntax-only", "-Wall", "-Wextra", "-pedantic", "-Werror", "-")...)
		cmd.Stdin = strings.NewReader(src)
		out, err := cmd.CombinedOutput()
		if lang[1] == "c++" && bytes.Contains(out, []byte("cc1plus")) {
			continue // no C++ front end installed
		}
		if err != nil {
			t.Errorf("gcc %s: %v\n%s\n%s", lang[1], err, out, src)
		}
	}
}

func FuzzFormatC(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("a\"b\\c??=\x00\xff\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		lines := strings.Split(strings.TrimSuffix(pki.FormatC(in), "\n"), "\n")
		for _, l := range lines[2:] {
			body := strings.TrimSuffix(strings.TrimSuffix(l, ";"), `\n"`)
			if l == `"";` || !strings.HasPrefix(body, `"`) {
				continue
			}
			for i := 1; i < len(body); i++ {
				switch c := body[i]; {
				case c == '\\':
					i++
				case c == '"' || c == '?' || c < ' ' || c > '~':
					t.Fatalf("unescaped %q in line %q", c, l)
				}
			}
		}
	})
}

// selfSigned returns a throwaway server certificate and key, as a user might bring.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "user.example"},
		DNSNames:     []string{"user.example"},
		NotBefore:    epoch,
		NotAfter:     epoch.AddDate(1, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readOrEmpty(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
