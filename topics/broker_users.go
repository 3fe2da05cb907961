package topics

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// BrokerUser is one SASL user of the embedded broker.
type BrokerUser struct {
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Name      string
	Password  string // never printed
	// Super bypasses ACLs: an operator, the deploy and the registry's
	// storage connect as one.
	Super bool
}

// ParseBrokerUsers reads a users file: one user per line,
//
//	MECHANISM NAME PASSWORD [super]
//
// where # starts a comment. A line that cannot be read is named by its
// number, never by its password.
func ParseBrokerUsers(file string, data []byte) ([]BrokerUser, error) {
	var users []BrokerUser
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s", file, n, why) }
		if len(f) < 3 || len(f) > 4 || len(f) == 4 && f[3] != "super" {
			return nil, bad("want MECHANISM NAME PASSWORD [super]")
		}
		u := BrokerUser{Mechanism: strings.ToUpper(f[0]), Name: f[1], Password: f[2], Super: len(f) == 4}
		if !slices.Contains(SASLMechanisms, u.Mechanism) {
			return nil, bad(fmt.Sprintf("mechanism %q, want one of %s", f[0], strings.Join(SASLMechanisms, ", ")))
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := checkBrokerUsers(users); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return users, nil
}

// checkBrokerUsers: names are unique and one user is a superuser.
func checkBrokerUsers(users []BrokerUser) error {
	seen := map[string]bool{}
	super := false
	for _, u := range users {
		if u.Name == "" || u.Password == "" {
			return fmt.Errorf("a user needs a name and a password")
		}
		if seen[u.Name] {
			return fmt.Errorf("user %q is listed twice", u.Name)
		}
		seen[u.Name] = true
		super = super || u.Super
	}
	if !super {
		return fmt.Errorf("no superuser: mark one user `super` for operations (deploy, the registry's storage)")
	}
	return nil
}

// Superuser returns the first superuser.
func Superuser(users []BrokerUser) (BrokerUser, bool) {
	for _, u := range users {
		if u.Super {
			return u, true
		}
	}
	return BrokerUser{}, false
}
