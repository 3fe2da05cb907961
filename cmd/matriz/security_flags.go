package main

import (
	"os"
	"strings"

	"github.com/matriz/pipelines/pipelines"
)

// securityFlags are the authentication and encryption flags every command
// that talks to Kafka or the registry shares. Each falls back to an
// environment variable (for containers); passwords come only from the
// environment or a file, never a flag, so they stay out of shell history,
// process listings and --help.
type securityFlags struct {
	kafka, registry bool
	getenv          func(string) string

	saslMechanism, saslUser, saslPasswordFile *string
	tls                                       *bool
	tlsCA, tlsCert, tlsKey                    *string
	registryUser, registryPasswordFile        *string
}

// Environment variables the security flags fall back to.
const (
	envSASLMechanism        = "MATRIZ_SASL_MECHANISM"
	envSASLUser             = "MATRIZ_SASL_USER"
	envSASLPassword         = "MATRIZ_SASL_PASSWORD"
	envSASLPasswordFile     = "MATRIZ_SASL_PASSWORD_FILE"
	envTLS                  = "MATRIZ_TLS"
	envTLSCA                = "MATRIZ_TLS_CA"
	envTLSCert              = "MATRIZ_TLS_CERT"
	envTLSKey               = "MATRIZ_TLS_KEY"
	envRegistryUser         = "MATRIZ_REGISTRY_USER"
	envRegistryPassword     = "MATRIZ_REGISTRY_PASSWORD"
	envRegistryPasswordFile = "MATRIZ_REGISTRY_PASSWORD_FILE"
)

func (f *flagSet) securityFlags() *securityFlags {
	if f.security == nil {
		f.security = &securityFlags{getenv: f.getenv}
	}
	return f.security
}

// kafkaSecurity defines the Kafka SASL and TLS flags (once).
func (f *flagSet) kafkaSecurity() {
	s := f.securityFlags()
	if s.kafka {
		return
	}
	s.kafka = true
	s.saslMechanism = f.String("sasl-mechanism", "", "SASL `mechanism`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env "+envSASLMechanism+"; default none)")
	s.saslUser = f.String("sasl-user", "", "SASL `user` (env "+envSASLUser+"); the password comes from "+envSASLPassword+" or --sasl-password-file")
	s.saslPasswordFile = f.String("sasl-password-file", "", "`file` holding the SASL password (env "+envSASLPasswordFile+")")
	s.tls = f.Bool("tls", false, "encrypt Kafka connections with TLS (env "+envTLS+"=true; implied by --tls-ca or --tls-cert)")
	s.tlsCA = f.String("tls-ca", "", "PEM `file` of the CAs to trust instead of the system's (env "+envTLSCA+"); also used for the registry")
	s.tlsCert = f.String("tls-cert", "", "PEM client certificate `file` for mutual TLS, with --tls-key (env "+envTLSCert+")")
	s.tlsKey = f.String("tls-key", "", "PEM client key `file` (env "+envTLSKey+")")
}

// registrySecurity defines the registry's basic-auth flags (once).
func (f *flagSet) registrySecurity() {
	s := f.securityFlags()
	if s.registry {
		return
	}
	s.registry = true
	s.registryUser = f.String("registry-user", "", "schema registry basic-auth `user` (env "+envRegistryUser+"); the password comes from "+envRegistryPassword+" or --registry-password-file")
	s.registryPasswordFile = f.String("registry-password-file", "", "`file` holding the registry password (env "+envRegistryPasswordFile+")")
}

// or returns the flag's value, else the environment's.
func (s *securityFlags) or(v *string, env string) string {
	if v != nil && *v != "" {
		return *v
	}
	return strings.TrimSpace(s.getenv(env))
}

// password reads the password from the file flag, its environment
// variable, or the password's own variable, in that order. Errors name
// the file, never the password.
func (s *securityFlags) password(fileFlag *string, fileEnv, env, flagName string) (string, error) {
	if path := s.or(fileFlag, fileEnv); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", usagef("--%s: %v", flagName, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return s.getenv(env), nil
}

// apply makes the flags what this process's clients use. A command
// without them leaves the process as it is.
func (s *securityFlags) apply() error {
	if s == nil {
		return nil
	}
	var tlsOn bool
	var ca, cert, key string
	if s.kafka {
		ca, cert, key = s.or(s.tlsCA, envTLSCA), s.or(s.tlsCert, envTLSCert), s.or(s.tlsKey, envTLSKey)
		tlsOn = *s.tls || strings.EqualFold(s.getenv(envTLS), "true") || ca != "" || cert != ""
		sec := pipelines.Security{Mechanism: strings.ToUpper(s.or(s.saslMechanism, envSASLMechanism)), User: s.or(s.saslUser, envSASLUser)}
		if sec.Mechanism != "" {
			pw, err := s.password(s.saslPasswordFile, envSASLPasswordFile, envSASLPassword, "sasl-password-file")
			if err != nil {
				return err
			}
			if pw == "" {
				return usagef("SASL %s as %q needs a password: set %s or --sasl-password-file", sec.Mechanism, sec.User, envSASLPassword)
			}
			sec.Password = pw
		}
		if tlsOn {
			c, err := pipelines.TLSConfig(ca, cert, key)
			if err != nil {
				return usagef("%v", err)
			}
			sec.TLS = c
		}
		if err := pipelines.UseSecurity(sec); err != nil {
			return usagef("%v", err)
		}
	}
	if s.registry {
		auth := pipelines.RegistryAuth{User: s.or(s.registryUser, envRegistryUser)}
		if auth.User != "" {
			pw, err := s.password(s.registryPasswordFile, envRegistryPasswordFile, envRegistryPassword, "registry-password-file")
			if err != nil {
				return err
			}
			if pw == "" {
				return usagef("registry user %q needs a password: set %s or --registry-password-file", auth.User, envRegistryPassword)
			}
			auth.Password = pw
		}
		if tlsOn || ca != "" {
			c, err := pipelines.TLSConfig(ca, cert, key)
			if err != nil {
				return usagef("%v", err)
			}
			auth.TLS = c
		}
		pipelines.UseRegistryAuth(auth)
	}
	return nil
}
