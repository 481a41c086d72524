package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The SD-card workflow (cross/install-sd.sh, cross/firstboot) on directories
// standing for a mounted Raspberry Pi OS card.
func TestSDCardInstall(t *testing.T) {
	root, boot, dist := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{"etc", "usr"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// the board's binary (any file will do here) and one that runs here
	// to check the config
	if err := os.WriteFile(filepath.Join(dist, "perch_linux_arm64"), []byte("arm64 binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	native, _ := os.ReadFile(perchBin)
	if err := os.WriteFile(filepath.Join(dist, "perch_linux_amd64"), native, 0o755); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "perch.yaml")
	good := "account: greenhouse\ndevices:\n  - id: esp32-1\n    credentials: a-long-device-secret\n"
	if err := os.WriteFile(config, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join("..", "..", "cross", "install-sd.sh")
	run := func(env []string, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(cleanEnv(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// a config with a mistake is refused before anything is copied
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("acount: x\n"), 0o600)
	if out, err := run(nil, "sh", script, "--root", root, "--boot", boot, "--arch", "arm64", "--config", bad, "--dist", dist); err == nil ||
		!strings.Contains(out, "not a valid perch config") || !strings.Contains(out, "acount") {
		t.Fatalf("a bad config: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "usr", "bin", "perch")); err == nil {
		t.Fatal("installed despite a bad config")
	}

	out, err := run(nil, "sh", script, "--root", root, "--boot", boot, "--arch", "arm64", "--config", config, "--dist", dist)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	for _, f := range []string{"usr/bin/perch", "usr/lib/systemd/system/perch.service", "usr/lib/sysusers.d/perch.conf",
		"usr/lib/perch/firstboot", "etc/perch/perch.yaml"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if link, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/perch.service")); err != nil || link != "/usr/lib/systemd/system/perch.service" {
		t.Errorf("service not enabled: %q %v", link, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/bin/perch")); string(b) != "arm64 binary" {
		t.Error("not the arm64 binary")
	}
	if b, _ := os.ReadFile(filepath.Join(boot, "perch.yaml")); string(b) != good {
		t.Fatal("the config is not on the boot partition")
	}

	// first boot: imported, then gone from the FAT partition; later boots do nothing
	etc := filepath.Join(t.TempDir(), "etc-perch")
	env := []string{"PERCH_BOOT_DIR=" + boot, "PERCH_ETC_DIR=" + etc, "PERCH_GROUP=nogroup-here"}
	firstboot := filepath.Join("..", "..", "cross", "firstboot")
	if out, err := run(env, "sh", firstboot); err != nil || !strings.Contains(out, "imported") {
		t.Fatalf("firstboot: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(etc, "perch.yaml"))
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("imported config: %v %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(etc, "perch.yaml")); string(b) != good {
		t.Fatal("imported config differs")
	}
	if _, err := os.Stat(filepath.Join(boot, "perch.yaml")); !os.IsNotExist(err) {
		t.Fatal("the config (with secrets) stayed on the boot partition")
	}
	if out, err := run(env, "sh", firstboot); err != nil || out != "" {
		t.Fatalf("second boot: %v %q", err, out)
	}
	// and the imported file is one perch serve accepts
	if out, err := run(nil, perchBin, "serve", "--config", filepath.Join(etc, "perch.yaml"), "--data-dir", t.TempDir(), "--print-config"); err != nil || !strings.Contains(out, "esp32-1") {
		t.Fatalf("print-config: %v\n%s", err, out)
	}
}
