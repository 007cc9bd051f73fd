package copier

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cdk-ecr-deployment/handler/internal/auth"
)

// TLS verification has no off switch in the shipped handler: no production source file
// (anything but _test.go) disables verification or sets the test-only TLS override, and
// the registry settings are the same with and without credentials.
func TestNoTLSOffSwitchInProductionCode(t *testing.T) {
	root := filepath.Join("..", "..") // the lambda module
	bad := regexp.MustCompile(`InsecureSkipVerify|InsecureSkipTLSVerify|OCIInsecureSkipTLSVerify|\.tlsConfig\s*=|tlsConfig:`)
	scanned := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned++
		for i, line := range strings.Split(string(src), "\n") {
			if code, _, _ := strings.Cut(line, "//"); bad.MatchString(code) {
				t.Errorf("%s:%d: %s", p, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 10 {
		t.Fatalf("only %d Go files scanned; the walk is broken", scanned)
	}
	for _, creds := range []*auth.Credentials{nil, {Username: "AWS", Password: "p"}} {
		sys := New(Options{}).systemContext(creds)
		if sys.DockerInsecureSkipTLSVerify != 0 || sys.OCIInsecureSkipTLSVerify || sys.DockerDaemonInsecureSkipTLSVerify || sys.BaseTLSConfig != nil {
			t.Errorf("creds %v: TLS settings changed: %+v", creds, sys)
		}
	}
}
