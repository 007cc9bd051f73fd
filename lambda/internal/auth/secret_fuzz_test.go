package auth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// FuzzParseSecret checks ParseSecret and ParsePlain on arbitrary secret strings (text and
// JSON): what they accept has a user name, "user:password" text splits at the first ':' and
// joins back to itself, JSON gives exactly the decoded fields, and printing Credentials in
// any fmt verb never shows the password. A second input puts a marked password into
// well-formed and broken secrets: the marker must be absent from every error message (they
// reach the CloudFormation Reason and the log).
func FuzzParseSecret(f *testing.F) {
	for _, s := range []struct{ secret, pw, tail string }{
		{"user:password", "s3cret", ""},
		{"AWS:eyJwYXlsb2FkIjoi", "p:a:s:s", "}"},
		{`{"username":"robot","password":"pa55"}`, "pa55", `,"x":1}`},
		{`  {"username":"u","password":""}  `, "", `"`},
		{`{"username":"","password":"x"}`, `"quoted"`, `,`},
		{`{"username":"u"}`, `\u0041`, `]`},
		{`{"password":"p"}`, "\x00\xff", "\n"},
		{`{"username":1,"password":true}`, "nul\x00", "}}"},
		{`{"username":"u","password":"p"`, "trailing", " garbage"},
		{":nouser", "x", ""},
		{"nocolon", "x", ":"},
		{"{not json", "x", ""},
		{"", "", ""},
	} {
		f.Add(s.secret, s.pw, s.tail)
	}
	f.Fuzz(func(t *testing.T, secret, pw, tail string) {
		c, err := ParseSecret(secret)
		trimmed := strings.TrimSpace(secret)
		switch {
		case err != nil:
			if c != nil {
				t.Fatalf("ParseSecret(%q) returned %+v with %v", secret, c, err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
		case c.Username == "":
			t.Fatalf("ParseSecret(%q) accepted an empty user name", secret)
		case strings.HasPrefix(trimmed, "{"):
			var v struct {
				Username *string `json:"username"`
				Password *string `json:"password"`
			}
			if json.Unmarshal([]byte(trimmed), &v) != nil || v.Username == nil || v.Password == nil ||
				*v.Username != c.Username || *v.Password != c.Password {
				t.Fatalf("ParseSecret(%q) = %q/%q, not what the JSON says", secret, c.Username, c.Password)
			}
		default:
			if c.Username+":"+c.Password != trimmed || strings.Contains(c.Username, ":") {
				t.Fatalf("ParseSecret(%q) = %q/%q, not split at the first ':'", secret, c.Username, c.Password)
			}
		}
		if c != nil {
			checkPrinting(t, c)
		}

		// ParsePlain: the first ':' splits, the parts join back, a user name is required.
		if p, err := ParsePlain(secret); err == nil {
			if p.Username == "" || p.Username+":"+p.Password != secret || strings.Contains(p.Username, ":") {
				t.Fatalf("ParsePlain(%q) = %q/%q", secret, p.Username, p.Password)
			}
			checkPrinting(t, p)
			if IsSecretRef(secret) && !strings.HasPrefix(secret, "arn:") {
				t.Fatalf("IsSecretRef(%q) for user:password text", secret)
			}
		} else if strings.Contains(secret, ":") && !strings.HasPrefix(secret, ":") {
			t.Fatalf("ParsePlain(%q): %v", secret, err)
		}

		// A marked password, in secrets that are and are not usable.
		const mark = "PWMARK7"
		if strings.Contains(secret+tail, mark) {
			return
		}
		password := mark + pw
		jpw, _ := json.Marshal(password)
		jsecret, _ := json.Marshal(secret)
		for _, s := range []string{
			"robot:" + password + tail,
			"robot:" + password,
			`{"username":"robot","password":` + string(jpw) + tail,
			`{"username":"robot","password":` + string(jpw) + `}` + tail,
			`{"username":` + string(jsecret) + `,"password":` + string(jpw) + tail,
			`{"username":"","password":` + string(jpw) + `}`,
			`{"password":` + string(jpw) + `,` + tail,
			`{"username":"robot","password":` + string(jpw) + `,"password":` + string(jpw) + `}`,
			tail + `{"password":` + string(jpw) + `}`,
			"{" + password + tail,
		} {
			c, err := ParseSecret(s)
			if err != nil && strings.Contains(err.Error(), mark) {
				t.Fatalf("the error for %q shows the password: %v", s, err)
			}
			if c != nil {
				checkPrinting(t, c)
			}
		}
	})
}

// checkPrinting fails when any fmt verb shows a (non-trivial) password of c.
func checkPrinting(t *testing.T, c *Credentials) {
	t.Helper()
	// Printing must not depend on the password at all: the same user with another password
	// prints the same. (Looking for the password in the output instead has false alarms: a
	// password can be spelt by the end of the user name and the ':' that follows it.)
	other := &Credentials{Username: c.Username, Password: c.Password + "\x00another"}
	forms := func(c *Credentials) []string {
		return []string{
			fmt.Sprint(c), fmt.Sprint(*c), fmt.Sprintf("%v %+v %s", c, c, c),
			fmt.Sprintf("%v %+v %s", *c, *c, *c), fmt.Sprintf("%#v %#v", c, *c),
			fmt.Sprintf("%v", []*Credentials{c}), fmt.Sprintf("%+v", map[string]Credentials{"k": *c}),
			fmt.Sprintf("%#v", []Credentials{*c}),
		}
	}
	want := forms(other)
	for i, out := range forms(c) {
		if out != want[i] {
			t.Fatalf("printing credentials depends on the password %q: %s, with another password %s", c.Password, out, want[i])
		}
	}
}
