package filters

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"
)

func TestWatchReloadsChangedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(path, []byte("alpha\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Logger = quiet
	o.Files = []string{path}
	f := mustNew(t, o)

	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Watch(ctx, time.Second) }()

		// A broken file is refused and the old list stays.
		if err := os.WriteFile(path, []byte("alpha\n*\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.Mask(chA, "alpha beta"); got != "＊＊＊＊＊ beta" {
			t.Errorf("after broken file: %q", got)
		}

		// A fixed file is picked up.
		if err := os.WriteFile(path, []byte("beta\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.Mask(chA, "alpha beta"); got != "alpha ＊＊＊＊" {
			t.Errorf("after change: %q", got)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	if err := f.Watch(context.Background(), 0); err == nil {
		t.Error("zero interval accepted")
	}
}
