// Package pki manages the gateway's own certificate authority and TLS server
// certificate.
//
// On first start Load creates a CA (ECDSA P-256, ten years) and a server
// certificate signed by it, and keeps them in Config.Dir (mode 0700):
//
//	ca.pem          CA certificate, given to devices (perch ca export)
//	ca-key.pem      CA private key, mode 0600
//	server.pem      server certificate
//	server-key.pem  server private key, mode 0600
//
// The server presents its certificate followed by the CA's, so that a
// client that knows only the CA's fingerprint (Fingerprint; mDNS advertises
// it) can check the chain; clients that trust the CA are not affected.
//
// Later starts reuse them. The server certificate is issued again, by the
// same CA, when it is missing or unreadable, expires within 30 days, was
// signed by another CA, or does not name the current host name, addresses
// and extra names (the gateway got a new DHCP lease, say). The CA itself is
// never replaced behind the operator's back: devices pin it, so a corrupt
// ca.pem or a missing ca-key.pem is an error wrapping ErrBadMaterial. ca.pem
// is written last and marks the CA complete: a ca-key.pem without ca.pem,
// left by an interrupted first start, is overwritten.
//
// An operator may put their own CA into ca.pem and ca-key.pem (any key
// crypto/x509 can sign with); the server certificate is then issued by it.
// With Config.CertFile and Config.KeyFile the user's own server certificate
// is served instead; the Perch CA is still created and exported, but the
// devices must then trust the CA that issued the user's certificate.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// File names inside Config.Dir.
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
)

const (
	caYears = 10
	// serverValidity is Apple's limit for certificates of private CAs,
	// counted from NotBefore to NotAfter.
	serverValidity = 825 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
	backdate       = time.Hour // tolerates clients whose clock runs a little behind
)

var (
	// ErrBadMaterial means a certificate or key file exists but cannot be
	// used: unreadable, not PEM, not matching its pair, or an expired CA.
	ErrBadMaterial = errors.New("pki: unusable certificate or key")
	// ErrNoCA means the directory holds no CA certificate yet.
	ErrNoCA = errors.New("pki: no CA certificate")
	// ErrConfig means the Config is inconsistent.
	ErrConfig = errors.New("pki: invalid configuration")
)

// Config says where the material lives and which names the server
// certificate must carry. Only Dir is required.
type Config struct {
	// Dir holds the material, for example <data-dir>/tls; created with mode 0700.
	Dir string
	// Hostname is the server certificate's common name; os.Hostname() when empty.
	Hostname string
	// ExtraNames are more DNS names or IP addresses for the server certificate.
	ExtraNames []string
	// CertFile and KeyFile, PEM, replace the generated server certificate
	// when both are set. Setting only one is an error.
	CertFile, KeyFile string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// IPs lists the host's addresses for the server certificate; when nil,
	// the global unicast (including private) addresses of all interfaces.
	// 127.0.0.1 and ::1 are always added.
	IPs func() ([]net.IP, error)
}

// Material is the loaded CA and the certificate to serve.
type Material struct {
	CA          *x509.Certificate
	CAPEM       []byte // the CA certificate, PEM, for devices
	Fingerprint string // SHA-256 of the CA, see Fingerprint
	// Cert is the server certificate with its key, followed in its chain by
	// the CA (but for Config.CertFile, served as the file has it); Cert.Leaf
	// is set.
	Cert tls.Certificate
	// Generated is true when this Load created the CA.
	Generated bool
	// Issued is true when this Load issued the server certificate;
	// IssueReason then says why, for the log.
	Issued      bool
	IssueReason string
}

// authority is a CA that can sign.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

// Load loads the material from cfg.Dir, creating the CA and issuing the
// server certificate as needed (see the package documentation).
func Load(cfg Config) (*Material, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is empty", ErrConfig)
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, fmt.Errorf("%w: CertFile %q and KeyFile %q must be set together", ErrConfig, cfg.CertFile, cfg.KeyFile)
	}
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	host := cfg.Hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("pki: host name: %w", err)
		}
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if err := makeDir(cfg.Dir); err != nil {
		return nil, err
	}

	var m Material
	ca, err := loadCA(cfg.Dir, now)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		if ca, err = createCA(cfg.Dir, host, now); err != nil {
			return nil, err
		}
		m.Generated = true
	}
	m.CA, m.CAPEM, m.Fingerprint = ca.cert, ca.pem, Fingerprint(ca.cert)

	if cfg.CertFile != "" {
		if m.Cert, err = loadPair(cfg.CertFile, cfg.KeyFile); err != nil {
			return nil, bad("load", cfg.CertFile+" with key "+cfg.KeyFile, err)
		}
		return &m, nil
	}

	ipsFunc := cfg.IPs
	if ipsFunc == nil {
		ipsFunc = hostIPs
	}
	ips, err := ipsFunc()
	if err != nil {
		return nil, fmt.Errorf("pki: list host addresses: %w", err)
	}
	dns, addrs := certNames(host, cfg.ExtraNames, ips)

	m.Cert, m.IssueReason = loadServer(cfg.Dir, ca, dns, addrs, now)
	if m.IssueReason != "" {
		if m.Cert, err = issueServer(cfg.Dir, ca, host, dns, addrs, now); err != nil {
			return nil, err
		}
		m.Issued = true
	}
	// The chain served ends with the CA itself, so that a client that pins
	// the CA's fingerprint (as mDNS advertises it) finds it in the handshake.
	m.Cert.Certificate = append(m.Cert.Certificate[:1:1], ca.cert.Raw)
	return &m, nil
}

// ServerTLSConfig returns a new TLS configuration serving m.Cert, TLS 1.2 or
// later with Go's default cipher suites. Callers may modify it.
func (m *Material) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{m.Cert},
	}
}

// CAPEM returns the CA certificate in dir as PEM without creating anything,
// for exporting it while the gateway is not running. It returns an error
// wrapping ErrNoCA when dir has no CA yet.
func CAPEM(dir string) ([]byte, error) {
	_, p, err := readCert(filepath.Join(dir, CAFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (start the gateway once to create it)", ErrNoCA, dir)
	}
	return p, err
}

// Fingerprint returns the SHA-256 of cert's DER encoding as upper-case hex
// bytes separated by colons, as browsers and openssl show it.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return strings.ReplaceAll(fmt.Sprintf("% X", sum[:]), " ", ":")
}

// FormatC renders a PEM certificate as a C string literal named
// PERCH_CA_CERT, valid C and C++, for WiFiClientSecure.setCACert in an
// Arduino or ESP32 sketch. When the first certificate parses, a comment
// gives its fingerprint and PERCH_CA_FINGERPRINT holds it too, as the
// gateway's mDNS TXT record "fingerprint" carries it, so that a board can
// pick the gateway whose CA it trusts.
func FormatC(pemBytes []byte) string {
	var b strings.Builder
	b.WriteString("// Perch CA certificate")
	fingerprint := ""
	if block, _ := pem.Decode(pemBytes); block != nil && block.Type == "CERTIFICATE" {
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			fingerprint = Fingerprint(cert)
			b.WriteString(", SHA-256 fingerprint " + fingerprint)
		}
	}
	b.WriteString("\nstatic const char PERCH_CA_CERT[] =")
	text := strings.ReplaceAll(string(pemBytes), "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		lines = nil
	}
	for _, line := range lines {
		b.WriteString("\n\"")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < ' ' || c > '~' || c == '?': // '?' would start trigraphs
				fmt.Fprintf(&b, "\\%03o", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteString("\\n\"")
	}
	if len(lines) == 0 {
		b.WriteString(" \"\"")
	}
	b.WriteString(";\n")
	if fingerprint != "" { // upper-case hex and colons: nothing to escape
		b.WriteString("static const char PERCH_CA_FINGERPRINT[] = \"" + fingerprint + "\";\n")
	}
	return b.String()
}

// loadCA returns the CA in dir, or nil when ca.pem does not exist.
func loadCA(dir string, now time.Time) (*authority, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	cert, certPEM, err := readCert(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, bad("read", certPath, errors.New("not a CA certificate"))
	}
	if now.After(cert.NotAfter) {
		return nil, bad("read", certPath, fmt.Errorf("CA expired on %s; remove %s and %s to create a new one, then give the devices the new CA",
			cert.NotAfter.UTC().Format(time.DateOnly), CAFile, CAKeyFile))
	}
	keyPEM, err := readFile(keyPath)
	if err != nil {
		return nil, bad("read", keyPath, fmt.Errorf("%w (needed by %s: restore it, or remove both to create a new CA)", err, CAFile))
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, bad("read", keyPath, fmt.Errorf("key for %s: %w", CAFile, err))
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, bad("read", keyPath, fmt.Errorf("%T cannot sign", pair.PrivateKey))
	}
	return &authority{cert: cert, key: key, pem: certPEM}, nil
}

func createCA(dir, host string, now time.Time) (*authority, error) {
	notBefore := now.Add(-backdate)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "Perch CA " + host, Organization: []string{"Perch"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(caYears, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	certPEM, keyPEM, key, err := sign(tmpl, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA %q: %w", tmpl.Subject.CommonName, err)
	}
	// The key first: ca.pem marks the CA complete.
	if err := writeAtomic(dir, CAKeyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeAtomic(dir, CAFile, certPEM, 0o644); err != nil {
		return nil, err
	}
	cert, _, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new CA: %w", err)
	}
	return &authority{cert: cert, key: key, pem: certPEM}, nil
}

// loadServer returns the stored server certificate, or the reason to issue
// a new one.
func loadServer(dir string, ca *authority, dns []string, addrs []netip.Addr, now time.Time) (tls.Certificate, string) {
	pair, err := loadPair(filepath.Join(dir, ServerFile), filepath.Join(dir, ServerKeyFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return pair, "no server certificate"
	case err != nil:
		return pair, fmt.Sprintf("unusable %s: %v", ServerFile, err)
	}
	leaf := pair.Leaf
	if err := leaf.CheckSignatureFrom(ca.cert); err != nil {
		return pair, "signed by another CA"
	}
	if now.Add(renewBefore).After(leaf.NotAfter) {
		return pair, "expires on " + leaf.NotAfter.UTC().Format(time.DateOnly)
	}
	for _, name := range dns {
		if !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, name) }) {
			return pair, "does not name " + name
		}
	}
	for _, a := range addrs {
		if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return addrOf(ip) == a }) {
			return pair, "does not name " + a.String()
		}
	}
	return pair, ""
}

func issueServer(dir string, ca *authority, host string, dns []string, addrs []netip.Addr, now time.Time) (tls.Certificate, error) {
	notBefore := now.Add(-backdate)
	notAfter := notBefore.Add(serverValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              dns,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	certPEM, keyPEM, _, err := sign(tmpl, ca.cert, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: issue server certificate for %q: %w", host, err)
	}
	// The key first: a crash in between leaves a pair that does not match,
	// and the next start issues again.
	if err := writeAtomic(dir, ServerKeyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeAtomic(dir, ServerFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: parse new server certificate: %w", err)
	}
	if pair.Leaf == nil {
		pair.Leaf, _ = x509.ParseCertificate(pair.Certificate[0])
	}
	return pair, nil
}

// sign creates a P-256 key and a certificate for it from tmpl, signed by
// parent and parentKey, or self-signed when parent is nil.
func sign(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (certPEM, keyPEM []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)); err != nil {
		return nil, nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, key, nil
}

// certNames returns the sorted DNS names and addresses the server
// certificate must carry.
func certNames(host string, extra []string, ips []net.IP) ([]string, []netip.Addr) {
	addrs := []netip.Addr{netip.IPv6Loopback(), netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	for _, ip := range ips {
		if a := addrOf(ip); a.IsValid() {
			addrs = append(addrs, a)
		}
	}
	dns := []string{"localhost"}
	names := append([]string{host}, extra...)
	if _, err := netip.ParseAddr(host); err != nil {
		short, _, _ := strings.Cut(host, ".")
		names = append(names, short+".local")
	}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if a, err := netip.ParseAddr(n); err == nil {
			addrs = append(addrs, a.Unmap().WithZone(""))
		} else if n != "" && n != ".local" {
			dns = append(dns, n)
		}
	}
	slices.Sort(dns)
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(dns), slices.Compact(addrs)
}

func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// hostIPs is the default Config.IPs. Loopback and link-local addresses are
// left out: they are added separately or useless for verification.
func hostIPs() ([]net.IP, error) {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, a := range ifAddrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() {
			ips = append(ips, n.IP)
		}
	}
	return ips, nil
}

// loadPair is tls.X509KeyPair on two files, with the error of a missing
// file matching fs.ErrNotExist.
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read %s: %w", certFile, err)
	}
	keyPEM, err := readFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read %s: %w", keyFile, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err == nil && pair.Leaf == nil { // GODEBUG=x509keypairleaf=0
		pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0])
	}
	return pair, err
}

// readCert reads the first certificate of a PEM file and returns it with
// its PEM encoding.
func readCert(path string) (*x509.Certificate, []byte, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, bad("read", path, err)
	}
	cert, p, err := parseCert(data)
	if err != nil {
		return nil, nil, bad("read", path, err)
	}
	return cert, p, nil
}

func parseCert(data []byte) (*x509.Certificate, []byte, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, errors.New("not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes}), nil
}

// readFile is os.ReadFile without the path in the error, which callers add.
func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if pe, ok := err.(*fs.PathError); ok {
		err = pe.Err
	}
	return data, err
}

// materialError names the file that could not be used.
type materialError struct {
	op, path string
	err      error
}

func bad(op, path string, err error) error { return &materialError{op, path, err} }

func (e *materialError) Error() string   { return "pki: " + e.op + " " + e.path + ": " + e.err.Error() }
func (e *materialError) Unwrap() []error { return []error{ErrBadMaterial, e.err} }

func makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("pki: restrict %s to its owner: %w", dir, err)
		}
	}
	return nil
}

// writeAtomic replaces dir/name with data: a temporary file in dir,
// synced, renamed over name, then the directory synced.
func writeAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	path := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("pki: write %s: %w", path, err)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if runtime.GOOS == "windows" { // directories cannot be synced there
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
