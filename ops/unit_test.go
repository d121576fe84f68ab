package ops

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const unitPath = "../systemd/parley.service"

// unitDirectives parses a unit file into its [Section]Key → values (a key
// may repeat).
func unitDirectives(t *testing.T, text string) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("unit line without '=': %q", line)
			}
			out[section+k] = append(out[section+k], v)
		}
	}
	return out
}

func TestUnitHasRequiredDirectives(t *testing.T) {
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	d := unitDirectives(t, string(b))
	const svc = "[Service]"
	want := map[string]string{
		"Type": "notify", "NotifyAccess": "main",
		"ExecStart":              "/usr/local/bin/parley -config /etc/parley/config.toml run",
		"ExecReload":             "/bin/kill -HUP $MAINPID",
		"Restart":                "on-failure",
		"DynamicUser":            "yes",
		"StateDirectory":         "parley",
		"ConfigurationDirectory": "parley",
		"EnvironmentFile":        "-/etc/parley/env",
		"UMask":                  "0077",
		"ProtectSystem":          "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"NoNewPrivileges": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"SystemCallArchitectures": "native", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
		"ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
		"RestrictNamespaces": "yes", "RestrictRealtime": "yes", "LockPersonality": "yes",
		"ProcSubset": "pid", "ProtectProc": "invisible",
	}
	for k, v := range want {
		got, ok := d[svc+k]
		if !ok {
			t.Errorf("%s is missing", k)
			continue
		}
		if got[len(got)-1] != v {
			t.Errorf("%s=%q, want %q", k, got[len(got)-1], v)
		}
	}
	if f := d[svc+"SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter = %q, want @system-service first", f)
	}
	creds := strings.Join(d[svc+"LoadCredential"], " ")
	for _, name := range []string{"openai_api_key", "slack_bot_token", "slack_app_token", "slack_signing_secret", "discord_token"} {
		if !strings.Contains(creds, name+":/etc/parley/credentials/"+name) {
			t.Errorf("LoadCredential for %s is missing", name)
		}
	}
	// The stop timeout must exceed the default shutdown_timeout (20s) plus
	// the final edits and closing the store.
	stop, err := time.ParseDuration(d[svc+"TimeoutStopSec"][0])
	if err != nil || stop <= 20*time.Second {
		t.Errorf("TimeoutStopSec = %q, want more than shutdown_timeout (20s)", d[svc+"TimeoutStopSec"])
	}
	if d["[Install]WantedBy"][0] != "multi-user.target" {
		t.Errorf("WantedBy = %q", d["[Install]WantedBy"])
	}
}

// TestUnitVerifies runs systemd-analyze on the unit where the machine has
// it: verify (syntax, directives known to this systemd) and security
// (exposure 2.0 or lower).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd to run this test)")
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	// verify checks that ExecStart exists; point it at a binary that does.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/parley `).ReplaceAll(b, []byte("ExecStart="+self+" "))
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify warns:\n%s", out)
	}

	// --offline needs systemd 250; --threshold is in tenths.
	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", path).CombinedOutput()
	if bytes.Contains(out, []byte("unrecognized option")) {
		t.Skipf("this systemd-analyze cannot rate a unit file offline:\n%s", out)
	}
	m := regexp.MustCompile(`Overall exposure level for parley\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in systemd-analyze security output (%v):\n%s", err, out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
	if err != nil {
		t.Fatalf("exposure %s is above 2.0: %v\n%s", m[1], err, out)
	}
}
