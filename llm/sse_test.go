package llm

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEFilter(t *testing.T) {
	body := ": keep-alive\n\nevent: message\nid: 7\ndata: {\"a\":1}\r\n\r\n: OPENROUTER PROCESSING\n\ndata: [DONE]\n\n"
	f := &sseFilter{body: io.NopCloser(nil)}
	f.r = newReader(iotest.OneByteReader(strings.NewReader(body)))
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	want := "\ndata: {\"a\":1}\r\n\r\n\ndata: [DONE]\n\n"
	if string(got) != want {
		t.Errorf("filtered %q, want %q", got, want)
	}
	if !f.sawDone || f.dataEvents != 2 || f.comments != 2 || f.junk != 0 {
		t.Errorf("filter state %+v", f)
	}
}

func TestSSEFilterLastLineAndErrors(t *testing.T) {
	f := &sseFilter{body: io.NopCloser(nil)}
	f.r = newReader(strings.NewReader("data: {}\n\ndata: [DO"))
	got, err := io.ReadAll(f)
	if err != nil || string(got) != "data: {}\n\ndata: [DO" || f.sawDone {
		t.Errorf("got %q, %v, sawDone=%v", got, err, f.sawDone)
	}

	boom := errors.New("boom")
	f = &sseFilter{body: io.NopCloser(nil)}
	f.r = newReader(io.MultiReader(strings.NewReader("data: {}\n"), iotest.ErrReader(boom)))
	got, err = io.ReadAll(f)
	if !errors.Is(err, boom) || string(got) != "data: {}\n" {
		t.Errorf("got %q, %v; want the line, then the error", got, err)
	}

	f = &sseFilter{body: io.NopCloser(nil)}
	f.r = newReader(strings.NewReader("data: " + strings.Repeat("x", maxSSELine+10)))
	if _, err := io.ReadAll(f); !errors.Is(err, errLineTooLong) {
		t.Errorf("long line: %v", err)
	}
}

func TestToolNotice(t *testing.T) {
	for names, want := range map[string]string{
		"":        "The model tried to call a tool, which Parley does not offer.",
		"a":       "The model tried to call the tool `a`, which Parley does not offer.",
		"a,b,a,c": "The model tried to call the tools `a`, `b` and `c`, which Parley does not offer.",
		"x`y":     "The model tried to call the tool `xy`, which Parley does not offer.",
	} {
		var list []string
		if names != "" {
			list = strings.Split(names, ",")
		}
		if got := toolNotice(list); got != want {
			t.Errorf("toolNotice(%q) = %q, want %q", names, got, want)
		}
	}
}
