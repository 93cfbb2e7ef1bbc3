package grpcx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Client is a client certificate to issue: its name (CN) and its roles (OUs):
// contracts a sponsor's staff works on, "*" for an operator, pharmacy:<NPI>,
// feed:<contract>; none for a caller that may only check health.
type Client struct {
	Name      string
	Contracts []string
}

// DevCerts are the files WriteDevCerts wrote.
type DevCerts struct {
	Dir                       string
	CA, ServerCert, ServerKey string
	// CAKey is the CA's private key ("" when not kept).
	CAKey string
	// Clients maps a client's name to its certificate and key files.
	Clients map[string][2]string
}

// WriteDevCerts writes a local CA, a server certificate for hosts and a
// client certificate per client into dir (make certs): for development and
// tests. The CA's private key goes to caKeyDir (mode 0600, never beside the
// certificates that are mounted into containers); none is kept when caKeyDir
// is empty. Production certificates come from the sponsor's own CA.
func WriteDevCerts(dir, caKeyDir string, hosts []string, clients []Client, validFor time.Duration) (DevCerts, error) {
	out := DevCerts{Dir: dir, Clients: map[string][2]string{}}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return out, err
	}
	now := time.Now()
	notBefore := now.Add(-time.Hour) // a little clock skew between machines
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return out, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "emtm development CA", Organization: []string{"emtm"}},
		NotBefore: notBefore, NotAfter: now.Add(validFor), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return out, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	out.CA = filepath.Join(dir, "ca.pem")
	if err := writePEM(out.CA, "CERTIFICATE", caDER, 0o644); err != nil {
		return out, err
	}
	if caKeyDir != "" {
		if err := os.MkdirAll(caKeyDir, 0o700); err != nil {
			return out, err
		}
		out.CAKey = filepath.Join(caKeyDir, "ca-key.pem")
		if err := writeKey(out.CAKey, caKey); err != nil {
			return out, err
		}
	}
	issue := func(name string, tmpl *x509.Certificate) (string, string, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = serial(), notBefore, now.Add(validFor)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return "", "", err
		}
		cert, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		if err := writePEM(cert, "CERTIFICATE", der, 0o644); err != nil {
			return "", "", err
		}
		return cert, keyFile, writeKey(keyFile, key)
	}
	srv := &x509.Certificate{Subject: pkix.Name{CommonName: "emtm services"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			srv.IPAddresses = append(srv.IPAddresses, ip)
		} else {
			srv.DNSNames = append(srv.DNSNames, h)
		}
	}
	if out.ServerCert, out.ServerKey, err = issue("server", srv); err != nil {
		return out, err
	}
	for _, c := range clients {
		if c.Name == "" {
			return out, fmt.Errorf("a client certificate needs a name")
		}
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: c.Name, OrganizationalUnit: c.Contracts},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		cert, key, err := issue("client-"+c.Name, tmpl)
		if err != nil {
			return out, err
		}
		out.Clients[c.Name] = [2]string{cert, key}
	}
	return out, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writePEM(file, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func writeKey(file string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(file, "EC PRIVATE KEY", der, 0o600)
}
