package config

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.toml")
	files = append(files, "../config.toml")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a.b.c = 1\n[a]\n"))
	f.Add([]byte("[[slack]]\nenabled = true\n"))
	f.Add([]byte("llm = { models = { x = { context_window = -1 } } }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data, noEnv)
		if err != nil {
			if cfg != nil {
				t.Error("config returned with an error")
			}
			es, ok := err.(Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("error %T is not a non-empty Errors", err)
			}
			for _, e := range es {
				if e.Err == nil || e.Error() == "" || e.File != "fuzz.toml" {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		// A valid config renders to TOML that parses back to itself, given
		// its secrets through the environment.
		env := map[string]string{}
		for _, v := range secretVars() {
			env[v.env] = v.field(cfg).Value()
		}
		again, err := Parse("again.toml", []byte(cfg.Redacted()), envMap(env))
		if err != nil {
			t.Fatalf("Redacted output does not parse: %v\n%s", err, cfg.Redacted())
		}
		if again.Redacted() != cfg.Redacted() {
			t.Fatalf("Redacted round trip differs")
		}
	})
}

func BenchmarkParseRepoConfig(b *testing.B) {
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("config.toml", data, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFull(b *testing.B) {
	data, err := os.ReadFile("testdata/good/full.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("full.toml", data, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}
