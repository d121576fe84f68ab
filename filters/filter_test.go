package filters

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parley-bot/parley/bot"
)

var quiet = slog.New(slog.DiscardHandler)

var chA = bot.ChannelKey{Platform: bot.PlatformConsole, Workspace: "local", Channel: "general"}

func mustNew(t testing.TB, opts Options) *Filter {
	t.Helper()
	f, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func withWords(words ...string) Options {
	o := DefaultOptions()
	o.Logger = quiet
	o.Words = words
	return o
}

func cfgOf(o Options) normConfig {
	return normConfig{width: o.NormalizeWidth, fold: o.CaseFold, invisible: o.StripInvisible, separators: o.StripSeparators}
}

// streamAll feeds text to a fresh output filter in the given chunks.
func streamAll(f *Filter, chunks []string) (string, bool, string) {
	o := f.NewOutput(chA)
	var sb strings.Builder
	for _, c := range chunks {
		v, stop, notice := o.Write(c)
		sb.WriteString(v)
		if stop {
			return sb.String(), true, notice
		}
	}
	sb.WriteString(o.Flush())
	return sb.String(), false, ""
}

func randomSplit(rng *rand.Rand, text string) []string {
	var chunks []string
	for len(text) > 0 {
		n := 1 + rng.IntN(min(len(text), 12))
		if rng.IntN(4) == 0 {
			n = 0 // empty deltas happen too
		}
		chunks = append(chunks, text[:n])
		text = text[n:]
	}
	return chunks
}

func TestEvasionsCaught(t *testing.T) {
	sep := withWords("bad", "暴力", "ass")
	sep.StripSeparators = true
	cases := []struct {
		name string
		opts Options
		text string
		want string
	}{
		{"plain", withWords("bad"), "a bad day", "a ＊＊＊ day"},
		{"mixed case", withWords("bad"), "a BaD day", "a ＊＊＊ day"},
		{"full-width", withWords("bad"), "a ｂａｄ day", "a ＊＊＊ day"},
		{"full-width upper", withWords("bad"), "ＢＡＤ!", "＊＊＊!"},
		{"zero-width joiner", withWords("bad"), "b\u200da\u200bd", "＊\u200d＊\u200b＊"},
		{"bidi and soft hyphen", withWords("bad"), "b\u202ea\u00add\u202c", "＊\u202e＊\u00ad＊\u202c"},
		{"entry written full-width", withWords("ＢＡＤ"), "bad", "＊＊＊"},
		{"chinese", withWords("暴力"), "这是暴力内容", "这是＊＊内容"},
		{"chinese with zwsp", withWords("暴力"), "暴\u200b力", "＊\u200b＊"},
		{"separators dots", sep, "so b.a.d!", "so ＊.＊.＊!"},
		{"separators spaces", sep, "b a d", "＊ ＊ ＊"},
		{"separators dashes", sep, "B-A-D", "＊-＊-＊"},
		{"separators in chinese", sep, "暴 力", "＊ ＊"},
		{"separators keep words apart", sep, "the bad man", "the ＊＊＊ man"},
		{"separators off", withWords("bad"), "b.a.d", "b.a.d"},
		{"star suffix", withWords("bad*"), "badly", "＊＊＊ly"},
		{"star prefix", withWords("*ass"), "class", "cl＊＊＊"},
		{"cyrillic", withWords("плохо"), "Очень ПЛОХО.", "Очень ＊＊＊＊＊."},
		{"combining composed", withWords("café"), "cafe\u0301 au lait", "caf＊ au lait"[:0] + "＊＊＊＊ au lait"},
		{"ligature", withWords("*fi*"), "ﬁne", "＊ne"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustNew(t, c.opts)
			if got := f.Mask(chA, c.text); got != c.want {
				t.Errorf("Mask(%q) = %q, want %q", c.text, got, c.want)
			}
			if ok, _ := f.CheckInput(chA, c.text); ok == (c.want != c.text) {
				t.Errorf("CheckInput(%q) ok = %v", c.text, ok)
			}
		})
	}
}

func TestFalsePositivesAvoided(t *testing.T) {
	f := mustNew(t, withWords("ass", "cunt", "bad", "hell"))
	for _, text := range []string{
		"a class act", "assess the passage", "Scunthorpe United", "badge badminton", "hello shell",
		"ＣＬＡＳＳ", "bad1", "Hellö",
	} {
		if ms := f.Find(chA, text); len(ms) != 0 {
			t.Errorf("Find(%q) = %v, want none", text, ms)
		}
	}
	// Boundaries are punctuation, spaces, text edges and other scripts.
	for _, text := range []string{"ass", "an ass.", "(bad)", "bad_idea", "中文bad"} {
		if ms := f.Find(chA, text); len(ms) == 0 {
			t.Errorf("Find(%q) found nothing", text)
		}
	}
}

func TestFindOffsetsAndOverlaps(t *testing.T) {
	f := mustNew(t, withWords("ab", "*b*", "暴力", "力量"))
	got := f.Find(chA, "ＡＢ 暴力量")
	want := []Match{
		{Start: 0, End: 6, Entry: "ab"},
		{Start: 3, End: 6, Entry: "*b*"},
		{Start: 7, End: 13, Entry: "暴力"},
		{Start: 10, End: 16, Entry: "力量"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %v\nwant %v", got, want)
	}
	if m := f.Mask(chA, "ＡＢ 暴力量"); m != "＊＊ ＊＊＊" {
		t.Errorf("Mask = %q", m)
	}
}

func TestCheckInputNoticeAndHooks(t *testing.T) {
	var hits []string
	o := withWords("secretword")
	o.InputNotice = "not allowed"
	o.OnHit = func(d string) { hits = append(hits, d) }
	f := mustNew(t, o)
	if ok, notice := f.CheckInput(chA, "my SecretWord here"); ok || notice != "not allowed" {
		t.Errorf("CheckInput = %v, %q", ok, notice)
	}
	if ok, notice := f.CheckInput(chA, "fine text"); !ok || notice != "" {
		t.Errorf("CheckInput(clean) = %v, %q", ok, notice)
	}
	d := mustNew(t, withWords("secretword"))
	if _, notice := d.CheckInput(chA, "secretword"); notice != DefaultInputNotice || strings.Contains(notice, "secretword") {
		t.Errorf("default notice %q", notice)
	}
	out := f.NewOutput(chA)
	out.Write("a secretw")
	out.Write("ord and secretword")
	out.Flush()
	if !reflect.DeepEqual(hits, []string{"input", "output"}) {
		t.Errorf("hits = %v", hits)
	}
}

func TestStopAction(t *testing.T) {
	o := withWords("bad")
	o.Action = ActionStop
	o.OutputNotice = "[stopped]"
	f := mustNew(t, o)
	out := f.NewOutput(chA)
	v1, stop, _ := out.Write("this is b")
	if stop {
		t.Fatal("stopped early")
	}
	v2, stop, notice := out.Write("ad news")
	if !stop || notice != "[stopped]" || v1+v2 != "this is " {
		t.Errorf("got %q+%q stop=%v notice=%q", v1, v2, stop, notice)
	}
	if v, stop, _ := out.Write("more"); v != "" || !stop {
		t.Errorf("after stop: %q %v", v, stop)
	}
	if out.Flush() != "" {
		t.Error("flush after stop returned text")
	}
	// "badge" is not a match, so nothing stops.
	if v, stop, _ := streamAll(f, []string{"a b", "adge"}); stop || v != "a badge" {
		t.Errorf("badge: %q %v", v, stop)
	}
}

func TestChannelRules(t *testing.T) {
	o := withWords("bad", "worse")
	o.Channels = map[string]ChannelRules{
		"console/local/general": {Add: []string{"meh"}, Remove: []string{"BAD"}},
	}
	f := mustNew(t, o)
	other := bot.ChannelKey{Platform: bot.PlatformSlack, Workspace: "T1", Channel: "C1"}
	if got := f.Mask(chA, "bad meh worse"); got != "bad ＊＊＊ ＊＊＊＊＊" {
		t.Errorf("channel mask = %q", got)
	}
	if got := f.Mask(other, "bad meh worse"); got != "＊＊＊ meh ＊＊＊＊＊" {
		t.Errorf("other mask = %q", got)
	}
	// Reload invalidates the per-channel cache.
	o.Words = []string{"worse", "good"}
	if err := f.Reload(o); err != nil {
		t.Fatal(err)
	}
	if got := f.Mask(chA, "bad meh good"); got != "bad ＊＊＊ ＊＊＊＊" {
		t.Errorf("after reload = %q", got)
	}
	o.Channels["x/y/z"] = ChannelRules{Add: []string{"*"}}
	if err := f.Reload(o); err == nil || !strings.Contains(err.Error(), `channels["x/y/z"].add[0]`) {
		t.Errorf("bad channel rule: %v", err)
	}
}

// Prepare compiles new lists without putting them in force until apply.
func TestPrepareAppliesOnlyOnApply(t *testing.T) {
	f := mustNew(t, withWords("bad"))
	apply, err := f.Prepare(withWords("good"))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Mask(chA, "bad good"); got != "＊＊＊ good" {
		t.Errorf("before apply = %q, want the old list in force", got)
	}
	apply()
	if got := f.Mask(chA, "bad good"); got != "bad ＊＊＊＊" {
		t.Errorf("after apply = %q, want the new list in force", got)
	}
	if _, err := f.Prepare(Options{Words: []string{"ok"}, Action: "shout"}); err == nil {
		t.Error("Prepare accepted a bad action")
	}
}

func TestListFilesAndReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("\uFEFF# blocked words\n\nbad\n  worse  \n# comment\n暴力\r\n")
	o := DefaultOptions()
	o.Logger = quiet
	o.Files = []string{path}
	f := mustNew(t, o)
	if got := f.Mask(chA, "bad worse 暴力 # comment"); got != "＊＊＊ ＊＊＊＊＊ ＊＊ # comment" {
		t.Errorf("Mask = %q", got)
	}
	write("ok\n\n*\n")
	err := f.Reload(o)
	if err == nil || !strings.Contains(err.Error(), path+":3") {
		t.Fatalf("Reload of a bad file: %v, want error naming %s:3", err, path)
	}
	if got := f.Mask(chA, "bad ok"); got != "＊＊＊ ok" {
		t.Errorf("old list not kept: %q", got)
	}
	write("ok\n\xff\xfe\n")
	if err := f.Reload(o); err == nil || !strings.Contains(err.Error(), path+":2") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(o); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := New(Options{Action: "explode"}); err == nil {
		t.Error("bad action accepted")
	}
}

// TestStreamingEqualsWhole checks the core streaming property: any split
// of a text into deltas gives the same output as masking it whole.
func TestStreamingEqualsWhole(t *testing.T) {
	pieces := []string{"bad", "BAD", "ｂａｄ", "b.a.d", "b a d", "class", "ass", " ", ".", "-", "\u200b", "\u200d",
		"暴力", "暴", "力", "量", "e", "\u0301", "é", "x", "badly", "ﬁ", "плохо", "Ꮳ", "\xff", "\xe6\x9a", "ß", "_", "1", "  ", "..."}
	words := []string{"bad", "ass", "暴力", "力量", "плохо", "*fi*", "a b", "x*", "*e", "café", "ss"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sepOn := range []bool{false, true} {
		for _, action := range []string{ActionMask, ActionStop} {
			o := withWords(words...)
			o.StripSeparators = sepOn
			o.Action = action
			f := mustNew(t, o)
			for n := 0; n < 3000; n++ {
				var sb strings.Builder
				for k := rng.IntN(25); k > 0; k-- {
					sb.WriteString(pieces[rng.IntN(len(pieces))])
				}
				text := sb.String()
				wantV, wantStop, wantN := streamAll(f, []string{text})
				if action == ActionMask {
					if m := f.Mask(chA, text); m != wantV {
						t.Fatalf("Mask(%q) = %q, single-delta stream = %q", text, m, wantV)
					}
					if r := refMask(cfgOf(o), words, text); r != wantV {
						t.Fatalf("sep=%v: Mask(%q) = %q, reference %q", sepOn, text, wantV, r)
					}
				}
				chunks := randomSplit(rng, text)
				v, stop, notice := streamAll(f, chunks)
				if v != wantV || stop != wantStop || notice != wantN {
					t.Fatalf("sep=%v action=%s text %q chunks %q:\n got %q %v %q\nwant %q %v %q",
						sepOn, action, text, chunks, v, stop, notice, wantV, wantStop, wantN)
				}
			}
		}
	}
}

// TestStreamingHoldsBackLittle checks that text which cannot become part
// of a match is released promptly.
func TestStreamingHoldsBackLittle(t *testing.T) {
	f := mustNew(t, withWords("abcdefgh", "暴力"))
	out := f.NewOutput(chA)
	total, shown := 0, 0
	for i := 0; i < 200; i++ {
		d := "lorem ipsum abcdefg "
		if i%2 == 1 {
			d = "中文内容暴"
		}
		v, _, _ := out.Write(d)
		total += len(d)
		shown += len(v)
		// The tail that can still extend into a match is at most the
		// longest entry (8 bytes) plus one character awaiting its successor.
		if held := total - shown; held > 8+utf8.UTFMax {
			t.Fatalf("after %d deltas holding back %d bytes", i+1, held)
		}
	}
	shown += len(out.Flush())
	if shown != total {
		t.Errorf("shown %d of %d bytes", shown, total)
	}
}

func TestMaskLongText(t *testing.T) {
	f := mustNew(t, withWords("needle"))
	text := strings.Repeat("hay ", 5000) + "needle" + strings.Repeat(" hay", 5000)
	want := strings.Repeat("hay ", 5000) + strings.Repeat(maskRune, 6) + strings.Repeat(" hay", 5000)
	if got := f.Mask(chA, text); got != want {
		t.Error("long text mask differs")
	}
	if ms := f.Find(chA, text); len(ms) != 1 || ms[0].Start != 20000 {
		t.Errorf("Find = %v", ms)
	}
}

func fuzzEntries(list string) []string {
	var entries []string
	for _, e := range strings.Split(list, "\n") {
		if len(entries) == 16 {
			break
		}
		if _, err := New(Options{Words: []string{e}}); err == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// FuzzMatchesNaive compares Find and streaming Mask with the naive
// reference on random texts, lists and normalisation settings.
func FuzzMatchesNaive(f *testing.F) {
	f.Add("a bad day", "bad", uint8(0x0f), uint64(1))
	f.Add("ＣＬＡＳＳ ass b.a.d", "ass\nclass\n*a*", uint8(0x0f), uint64(7))
	f.Add("这是暴力内容 暴 力", "暴力\n力", uint8(0x07), uint64(3))
	f.Add("b\u200da\u200bd ﬁ café", "bad\n*fi\ncafé", uint8(0x05), uint64(9))
	f.Add("x\u0301\u0301 q\xff s", "x\nq*\n*s", uint8(0x0b), uint64(2))
	f.Add("Straße STRASSE ς Σ", "straße\nσ", uint8(0x03), uint64(5))
	f.Fuzz(func(t *testing.T, text, list string, flags uint8, seed uint64) {
		if len(text) > 512 || len(list) > 512 {
			return
		}
		o := Options{
			Logger:          quiet,
			NormalizeWidth:  flags&1 != 0,
			CaseFold:        flags&2 != 0,
			StripInvisible:  flags&4 != 0,
			StripSeparators: flags&8 != 0,
		}
		o.Words = fuzzEntries(list)
		fl, err := New(o)
		if err != nil {
			t.Fatalf("New(%q): %v", o.Words, err)
		}
		got := fl.Find(chA, text)
		want := refFind(cfgOf(o), o.Words, text)
		if len(got) == 0 && len(want) == 0 {
			got, want = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Find(%q) with %q, cfg %+v:\n got %v\nwant %v", text, o.Words, cfgOf(o), got, want)
		}
		whole := fl.Mask(chA, text)
		if r := refMask(cfgOf(o), o.Words, text); whole != r {
			t.Fatalf("Mask(%q) with %q = %q, reference %q", text, o.Words, whole, r)
		}
		chunks := randomSplit(rand.New(rand.NewPCG(seed, 0)), text)
		if v, _, _ := streamAll(fl, chunks); v != whole {
			t.Fatalf("stream %q = %q, whole %q", chunks, v, whole)
		}
	})
}

func ExampleFilter_Mask() {
	o := DefaultOptions()
	o.Words = []string{"bad", "暴力"}
	f, _ := New(o)
	fmt.Println(f.Mask(bot.ChannelKey{}, "A ＢＡＤ idea, not a badge: 暴力."))
	// Output: A ＊＊＊ idea, not a badge: ＊＊.
}
