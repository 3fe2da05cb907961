package topics

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestSecurityRefusesWhatCannotWork(t *testing.T) {
	for _, c := range []struct {
		sec     Security
		setting string
	}{
		{Security{Mechanism: "GSSAPI", User: "a", Password: "hunter2-secret"}, "--sasl-mechanism"},
		{Security{User: "a", Password: "hunter2-secret"}, "--sasl-mechanism"},
		{Security{Mechanism: SASLPlain, Password: "hunter2-secret"}, "--sasl-user"},
		{Security{Mechanism: SASLScramSHA512, Password: "hunter2-secret"}, "--sasl-user"},
	} {
		err := UseSecurity(c.sec)
		var se *SecurityError
		if !errors.As(err, &se) || se.Setting != c.setting || !errors.Is(err, ErrSecurity) {
			t.Errorf("%+v: %v, want a SecurityError on %s", c.sec.Mechanism, err, c.setting)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2-secret") {
			t.Errorf("the error names the password: %v", err)
		}
	}
	if CurrentSecurity() != (Security{}) {
		t.Fatal("a refused setting changed the process's security")
	}
}

func TestSecureDialerAndTransportCarryTheProcessSecurity(t *testing.T) {
	t.Cleanup(func() { UseSecurity(Security{}) })
	if d := SecureDialer(&kafka.Dialer{}); d.SASLMechanism != nil || d.TLS != nil {
		t.Fatal("no security set, yet the dialer has some")
	}
	tlsc, err := TLSConfig("", "", "")
	if err != nil {
		t.Fatal(err)
	}
	sec := Security{Mechanism: "scram-sha-256", User: "lane", Password: "s3cret-pw", TLS: tlsc}
	if err := UseSecurity(sec); err != nil {
		t.Fatal(err)
	}
	d, tr := SecureDialer(&kafka.Dialer{}), SecureTransport(&kafka.Transport{})
	if d.SASLMechanism == nil || d.SASLMechanism.Name() != SASLScramSHA256 || d.TLS != tlsc || tr.SASL == nil || tr.TLS != tlsc {
		t.Fatalf("dialer %v/%v, transport %v/%v: want SCRAM-SHA-256 and the TLS config", d.SASLMechanism, d.TLS, tr.SASL, tr.TLS)
	}
	if s := CurrentSecurity().String(); strings.Contains(s, "s3cret-pw") || s != "SASL scram-sha-256 as lane, TLS" {
		t.Fatalf("String() = %q: want the mechanism, user and TLS, never the password", s)
	}
	hint := SecurityHint(io.ErrUnexpectedEOF).Error()
	if !strings.Contains(hint, "it may want TLS") || !strings.Contains(hint, "as lane") || strings.Contains(hint, "s3cret-pw") {
		t.Fatalf("hint %q", hint)
	}
	if err := errors.New("partition 3: not leader"); SecurityHint(err) != err {
		t.Fatal("SecurityHint changed an error that is not a closed connection")
	}
}

func TestTLSConfigSaysWhichFileIsWrong(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ca, cert, key, setting, want string
	}{
		{filepath.Join(dir, "none.pem"), "", "", "--tls-ca", "no such file"},
		{notPEM, "", "", "--tls-ca", "holds no PEM certificate"},
		{"", notPEM, "", "--tls-cert", "together"},
		{"", notPEM, notPEM, "--tls-cert", "load the certificate and key"},
	} {
		_, err := TLSConfig(c.ca, c.cert, c.key)
		var se *SecurityError
		if !errors.As(err, &se) || se.Setting != c.setting || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TLSConfig(%q, %q, %q): %v, want %s: …%s…", c.ca, c.cert, c.key, err, c.setting, c.want)
		}
	}
}

func TestParseBrokerUsers(t *testing.T) {
	users, err := ParseBrokerUsers("u", []byte("# operators\nSCRAM-SHA-256 admin pw1 super\nplain approver pw2 # the approver\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || !users[0].Super || users[1].Mechanism != SASLPlain || users[1].Name != "approver" || users[1].Password != "pw2" {
		t.Fatalf("users %+v", users)
	}
	if su, ok := Superuser(users); !ok || su.Name != "admin" {
		t.Fatalf("superuser %+v", su)
	}
	for _, c := range []struct{ file, want string }{
		{"PLAIN a", "u:1: want MECHANISM NAME PASSWORD [super]"},
		{"PLAIN a pw admin", "u:1: want MECHANISM NAME PASSWORD [super]"},
		{"KERBEROS a pw super", `u:1: mechanism "KERBEROS"`},
		{"PLAIN a pw", "no superuser"},
		{"PLAIN a pw super\nPLAIN a pw2", `user "a" is listed twice`},
	} {
		_, err := ParseBrokerUsers("u", []byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: %v, want …%s… and no password", c.file, err, c.want)
		}
	}
}
