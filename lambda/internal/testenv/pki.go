package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// PKI is a throw-away CA and a server certificate it signed for 127.0.0.1 and localhost.
type PKI struct {
	CAPEM   []byte // the CA certificate, PEM
	CertPEM []byte // the server certificate, PEM
	KeyPEM  []byte // its key, PEM
	Pool    *x509.CertPool
	Cert    tls.Certificate
}

var sharedPKI struct {
	once sync.Once
	pki  *PKI
	err  error
}

// SharedPKI is one PKI for the whole test binary: every registry StartRegistry starts serves
// its certificate, so one client configuration trusts them all (as the system pool would).
func SharedPKI(t testing.TB) *PKI {
	t.Helper()
	sharedPKI.once.Do(func() { sharedPKI.pki, sharedPKI.err = newPKI() })
	if sharedPKI.err != nil {
		t.Fatalf("making test certificates: %v", sharedPKI.err)
	}
	return sharedPKI.pki
}

// NewPKI makes a CA and a server certificate for 127.0.0.1 and localhost.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	p, err := newPKI()
	if err != nil {
		t.Fatalf("making test certificates: %v", err)
	}
	return p
}

func newPKI() (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cdk-ecr-deployment test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	p := &PKI{
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Pool:    x509.NewCertPool(),
	}
	p.Pool.AddCert(caCert)
	if p.Cert, err = tls.X509KeyPair(p.CertPEM, p.KeyPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// TLSConfig is a client configuration that trusts the CA (and nothing else).
func (p *PKI) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}
}

// Request is one request a Registry saw, as its front proxy counted it.
