package conversation

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLookupModel(t *testing.T) {
	over := map[string]ModelInfo{
		"gpt-4o":     {ContextWindow: 64000},
		"local-llm":  {ContextWindow: 8192, MaxOutput: 2048, Encoding: EncodingCl100k},
		"ft:custom":  {ContextWindow: 1000},
		"gpt-4-TINY": {ContextWindow: 2048, MaxOutput: 9999},
	}
	for name, want := range map[string]ModelInfo{
		"gpt-4o":                   {64000, 16384, EncodingO200k},
		"gpt-4o-2024-08-06":        {64000, 16384, EncodingO200k},
		"gpt-4o-2024-05-13":        {128000, 4096, EncodingO200k}, // the specific built-in entry wins
		"gpt-4o-mini":              {128000, 16384, EncodingO200k},
		"gpt-4o-mini-2024-07-18":   {128000, 16384, EncodingO200k},
		"gpt-4.1":                  {1047576, 32768, EncodingO200k},
		"gpt-4.1-mini-2025-04-14":  {1047576, 32768, EncodingO200k},
		"gpt-5":                    {400000, 128000, EncodingO200k},
		"gpt-5-nano":               {400000, 128000, EncodingO200k},
		"o1":                       {200000, 100000, EncodingO200k},
		"o3-mini":                  {200000, 100000, EncodingO200k},
		"o4-mini-2025-04-16":       {200000, 100000, EncodingO200k},
		"gpt-4-turbo-2024-04-09":   {128000, 4096, EncodingCl100k},
		"gpt-4-1106-preview":       {128000, 4096, EncodingCl100k},
		"gpt-4":                    {8192, 8192, EncodingCl100k},
		"gpt-4-0613":               {8192, 8192, EncodingCl100k},
		"GPT-3.5-Turbo":            {16385, 4096, EncodingCl100k},
		"gpt-3.5-turbo-0125":       {16385, 4096, EncodingCl100k},
		"ft:gpt-4o-mini:acme::abc": {128000, 16384, EncodingO200k},
		"local-llm":                {8192, 2048, EncodingCl100k},
		"mistral-large":            {128000, 16384, EncodingO200k},
		"gpt-4-tiny":               {2048, 2048, EncodingCl100k},
		"gpt-4oops":                {128000, 16384, EncodingO200k}, // not a gpt-4o variant
	} {
		if got := LookupModel(name, over); got != want {
			t.Errorf("LookupModel(%q) = %+v, want %+v", name, got, want)
		}
	}
}

func FuzzDecodeIDs(f *testing.F) {
	for _, s := range []string{"", "[]", `["1.2","3.4"]`, "null", `[1]`, `{"a":1}`, `["\u00e9"]`, "[", "  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ids, err := DecodeIDs(in)
		if err != nil {
			return
		}
		enc, err := encodeIDs(ids)
		if err != nil {
			t.Fatalf("re-encode %q: %v", ids, err)
		}
		again, err := DecodeIDs(enc)
		if err != nil || len(again) != len(ids) {
			t.Fatalf("round trip of %q: %q, %v", ids, again, err)
		}
		for i := range ids {
			if utf8.ValidString(ids[i]) && again[i] != ids[i] {
				t.Fatalf("round trip changed %q to %q", ids[i], again[i])
			}
		}
	})
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "12_x.sql", "0000_zero.sql", "abc.sql", "0001.sql", "99999999999999999999_x.sql", "1_a.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, name, err := ParseMigrationName(in)
		if err != nil {
			return
		}
		if v <= 0 || !strings.HasSuffix(in, ".sql") || !strings.Contains(in, name) {
			t.Fatalf("ParseMigrationName(%q) = %d, %q", in, v, name)
		}
	})
}

func FuzzCountTokens(f *testing.F) {
	s := openStore(f, Options{})
	for _, in := range []string{"hello world", "", "\xff\xfe\xfd", "   \n\n\t", strings.Repeat("a", 1000), "👩‍👩‍👧"} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, m := range []string{"gpt-4o", "gpt-4"} {
			n := s.CountTokens(m, in)
			if n < 0 || n > len(in) || (in != "" && n == 0) {
				t.Fatalf("CountTokens(%s, %q) = %d", m, in, n)
			}
		}
	})
}
