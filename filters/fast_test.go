package filters

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// fastPieces are the building blocks of the texts and lists in
// TestFastPathMatchesReference: mostly characters the scanner's fast path
// and prefilter handle (ASCII, basic Cyrillic, CJK ideographs, in both
// cases), mixed with ones that force it out (combining marks, full-width
// letters, invisible characters, separators, invalid UTF-8).
var fastPieces = []string{
	"ka", "lo", "mi", "ne", "KA", "Lo", "ing", "x", "7",
	"ка", "ло", "КА", "Ло", "щ", "Я", "я",
	"暴", "力", "内", "容", "一",
	" ", " ", " ", ". ", ",", "-", "_",
	"\u0301", "ｋａ", "\u200b", "ﬁ", "é", "e\u0301", "\xff",
}

func fastPhrase(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteString(fastPieces[rng.IntN(len(fastPieces))])
	}
	return sb.String()
}

// TestFastPathMatchesReference checks the fast path (skipping text the
// prefilter rules out, recording normalised text lazily, deciding
// boundaries ahead) against the naive reference on many random texts
// whose lists share most of their words, for every normalisation setting
// and for streamed output split at random.
func TestFastPathMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	rounds := 400
	if testing.Short() {
		rounds = 100
	}
	for round := range rounds {
		var words []string
		for range 1 + rng.IntN(12) {
			w := fastPhrase(rng, 1+rng.IntN(4))
			switch rng.IntN(8) {
			case 0:
				w = "*" + w
			case 1:
				w += "*"
			}
			words = append(words, w)
		}
		var sb strings.Builder
		for range 4 + rng.IntN(40) {
			if rng.IntN(5) == 0 {
				sb.WriteString(strings.Trim(words[rng.IntN(len(words))], "*"))
			} else {
				sb.WriteString(fastPhrase(rng, 1))
			}
		}
		text := sb.String()
		flags := uint8(round)
		o := Options{
			Logger:          quiet,
			NormalizeWidth:  flags&1 != 0,
			CaseFold:        flags&2 != 0,
			StripInvisible:  flags&4 != 0,
			StripSeparators: flags&8 != 0,
		}
		for _, w := range words {
			one := o
			one.Words = []string{w}
			if _, err := New(one); err == nil {
				o.Words = append(o.Words, w)
			}
		}
		f, err := New(o)
		if err != nil {
			t.Fatalf("New(%q): %v", o.Words, err)
		}
		got, want := f.Find(chA, text), refFind(cfgOf(o), o.Words, text)
		if len(got) == 0 && len(want) == 0 {
			got, want = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Find(%q) with %q, cfg %+v:\n got %v\nwant %v", text, o.Words, cfgOf(o), got, want)
		}
		whole := f.Mask(chA, text)
		if r := refMask(cfgOf(o), o.Words, text); whole != r {
			t.Fatalf("Mask(%q) with %q, cfg %+v = %q, reference %q", text, o.Words, cfgOf(o), whole, r)
		}
		chunks := randomSplit(rng, text)
		if v, _, _ := streamAll(f, chunks); v != whole {
			t.Fatalf("stream %q with %q, cfg %+v = %q, whole %q", chunks, o.Words, cfgOf(o), v, whole)
		}
	}
}

// TestBenchCorpusMatchesReference runs the benchmark's kind of list and
// text (many entries in three scripts, text full of near misses) through
// Find, Mask and 64-byte streaming and compares with the reference.
func TestBenchCorpusMatchesReference(t *testing.T) {
	// Small: the reference is quadratic in the text's length.
	entries, text := benchCorpus(1 << 10)
	entries = entries[:300]
	for _, e := range entries[:20] {
		// Make sure the text contains some of these entries, in upper case too.
		text += " " + e + " " + strings.ToUpper(e) + "."
	}
	o := withWords(entries...)
	f := mustNew(t, o)
	got, want := f.Find(chA, text), refFind(cfgOf(o), o.Words, text)
	if len(want) < 20 {
		t.Fatalf("only %d reference matches: the test text should contain entries", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Find: %d matches, reference %d", len(got), len(want))
	}
	whole := f.Mask(chA, text)
	if r := refMask(cfgOf(o), o.Words, text); whole != r {
		t.Fatal("Mask differs from the reference")
	}
	var chunks []string
	for i := 0; i < len(text); i += 64 {
		chunks = append(chunks, text[i:min(i+64, len(text))])
	}
	if v, _, _ := streamAll(f, chunks); v != whole {
		t.Fatal("streamed output differs from Mask")
	}
}

// TestLetterRun checks skipCommon's eight-bytes-at-a-time letter test
// and hash against their one-byte-at-a-time definitions.
func TestLetterRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	isLetter := func(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
	for range 20000 {
		var b [8]byte
		for k := range b {
			switch rng.IntN(4) {
			case 0:
				b[k] = byte(rng.IntN(256))
			case 1:
				b[k] = byte('A' + rng.IntN(26))
			default:
				b[k] = byte('a' + rng.IntN(26))
			}
		}
		x := uint64(0)
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
		want := 0
		for want < 8 && isLetter(b[want]) {
			want++
		}
		for _, fold := range []bool{false, true} {
			f, n := letterRun(x, fold)
			if n != want {
				t.Fatalf("letterRun(%q) = %d letters, want %d", b[:], n, want)
			}
			for k := range n {
				c := b[k]
				if fold {
					c |= 0x20
				}
				if got := byte(f >> (56 - 8*k)); got != c {
					t.Fatalf("letterRun(%q, %v): byte %d is %q, want %q", b[:], fold, k, got, c)
				}
			}
			// A word hashed a chunk at a time, as skipCommon does, hashes
			// as hashWord does byte by byte.
			if n == 8 {
				w := wordHash{h: f * wordMul}
				w = w.push2('x'<<8 | 'y')
				word := string(b[:]) + "xy"
				if fold {
					word = strings.ToLower(word)
				}
				if w.sum() != hashWord(word) {
					t.Fatalf("hash of %q+xy differs chunked and byte by byte", b[:])
				}
			}
		}
	}
}

// TestCyrillicRun checks skipCommon's eight-bytes-at-a-time test and
// fold of basic Cyrillic letters against cyrFold, two bytes at a time.
func TestCyrillicRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, fold := range []bool{false, true} {
		m := newMatcher(normConfig{fold: fold})
		for range 50000 {
			var b [8]byte
			for k := 0; k < 8; k += 2 {
				switch rng.IntN(6) {
				case 0:
					b[k], b[k+1] = byte(rng.IntN(256)), byte(rng.IntN(256))
				case 1:
					b[k], b[k+1] = byte(0xD0+rng.IntN(2)), byte(rng.IntN(256))
				default:
					r := 0x400 + rng.IntN(0x80)
					b[k], b[k+1] = byte(0xC0|r>>6), byte(0x80|r&0x3F)
				}
			}
			x := uint64(0)
			for _, c := range b {
				x = x<<8 | uint64(c)
			}
			want := 0
			var folded []byte
			for want < 8 && b[want]-0xD0 < 2 && b[want+1]&0xC0 == 0x80 {
				v := m.cyrFold[int(b[want]&1)<<6|int(b[want+1]&0x3F)]
				if v == 0 {
					break
				}
				folded = append(folded, byte(v>>8), byte(v))
				want += 2
			}
			f, n := cyrillicRun(x, fold)
			if n != want {
				t.Fatalf("cyrillicRun(% x, %v) = %d bytes, want %d", b[:], fold, n, want)
			}
			for k, c := range folded {
				if got := byte(f >> (56 - 8*k)); got != c {
					t.Fatalf("cyrillicRun(% x, %v): byte %d is %#x, want %#x", b[:], fold, k, got, c)
				}
			}
		}
	}
}
