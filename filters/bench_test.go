package filters

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// benchCorpus builds a deterministic list of 10,000 entries in mixed
// scripts (Latin pseudo-words, Chinese phrases, Cyrillic words) and about
// size bytes of mixed text that contains some of them.
func benchCorpus(size int) (entries []string, text string) {
	rng := rand.New(rand.NewPCG(42, 42))
	latin := []string{"ka", "lo", "mi", "ne", "ru", "ta", "vo", "se", "pi", "da", "gr", "st", "an", "el", "or", "ul", "qu", "ix", "ba", "ze"}
	cyr := []string{"ка", "ло", "ми", "не", "ру", "та", "во", "се", "пи", "да", "гр", "ст", "ан", "ел", "ор", "ул"}
	textLatin := append([]string{"th", "he", "in", "er", "wa", "yo", "bu", "ch", "sh", "ou", "ea", "ly", "ing", "ed", "re", "co", "me", "wi", "fo", "pe"}, latin...)
	textCyr := append([]string{"пр", "ви", "ет", "мо", "ще", "жи", "зы", "бу"}, cyr...)
	word := func(syl []string) string {
		var sb strings.Builder
		for n := 1 + rng.IntN(4); n > 0; n-- {
			sb.WriteString(syl[rng.IntN(len(syl))])
		}
		return sb.String()
	}
	han := func() string {
		var sb strings.Builder
		for n := 2 + rng.IntN(3); n > 0; n-- {
			sb.WriteRune(rune(0x4E00 + rng.IntN(3000)))
		}
		return sb.String()
	}
	seen := map[string]bool{}
	for len(entries) < 10000 {
		var e string
		switch k := rng.IntN(10); {
		case k < 6:
			e = word(latin) + word(latin)
		case k < 8:
			e = han()
		default:
			e = word(cyr) + word(cyr)
		}
		if !seen[e] {
			seen[e] = true
			entries = append(entries, e)
		}
	}
	var sb strings.Builder
	for sb.Len() < size {
		switch k := rng.IntN(100); {
		case k < 1:
			sb.WriteString(entries[rng.IntN(len(entries))])
		case k < 60:
			sb.WriteString(word(textLatin))
		case k < 80:
			sb.WriteString(han())
		default:
			sb.WriteString(word(textCyr))
		}
		if rng.IntN(8) == 0 {
			sb.WriteString(". ")
		} else {
			sb.WriteByte(' ')
		}
	}
	return entries, sb.String()
}

func naiveCount(entries []string, text string) int {
	n := 0
	for _, e := range entries {
		if strings.Contains(text, e) {
			n++
		}
	}
	return n
}

// BenchmarkFilter measures the normalised Aho-Corasick path (Find, Mask,
// streamed output in 64-byte deltas) and a naive strings.Contains loop
// over the same 10,000 entries and 2 MB of text.
func BenchmarkFilter(b *testing.B) {
	entries, text := benchCorpus(2 << 20)
	o := withWords(entries...)
	f := mustNew(b, o)
	b.Run("find", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			f.Find(chA, text)
		}
	})
	b.Run("mask", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			f.Mask(chA, text)
		}
	})
	b.Run("stream64", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			out := f.NewOutput(chA)
			for i := 0; i < len(text); i += 64 {
				out.Write(text[i:min(i+64, len(text))])
			}
			out.Flush()
		}
	})
	// floor is the least any byte-at-a-time scanner does: classify each
	// byte and record it with its offsets. It bounds what the filter can
	// reach on this machine.
	b.Run("floor", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		nb := make([]byte, 0, len(text))
		info := make([]nbInfo, 0, len(text))
		for b.Loop() {
			nb, info = nb[:0], info[:0]
			for i := 0; i < len(text); {
				n := 1
				if c := text[i]; c < 0x80 {
					nb = append(nb, c|asciiClass[c]&clsWord)
				} else if _, n, _ = fastRune(text[i:]); n == 0 {
					n = 1
				} else {
					nb = append(nb, text[i:i+n]...)
				}
				info = append(info, nbInfo{int32(i), int32(i + n), 0})
				i += n
			}
		}
	})
	b.Run("naive", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			naiveCount(entries, text)
		}
	})
}

// BenchmarkSpeedup times both paths on the same input in the same run and
// reports how many times faster the filter is than the naive loop.
func BenchmarkSpeedup(b *testing.B) {
	entries, text := benchCorpus(2 << 20)
	f := mustNew(b, withWords(entries...))
	var tf, tn time.Duration
	for b.Loop() {
		t0 := time.Now()
		f.Find(chA, text)
		tf += time.Since(t0)
		t0 = time.Now()
		naiveCount(entries, text)
		tn += time.Since(t0)
	}
	mb := float64(len(text)) * float64(b.N) / (1 << 20)
	b.ReportMetric(mb/tf.Seconds(), "filter-MB/s")
	b.ReportMetric(mb/tn.Seconds(), "naive-MB/s")
	b.ReportMetric(float64(tn)/float64(tf), "speedup-x")
}

func BenchmarkBuild(b *testing.B) {
	entries, _ := benchCorpus(1)
	b.ReportAllocs()
	for b.Loop() {
		mustNew(b, withWords(entries...))
	}
}

func TestBenchCorpusIsMostlyClean(t *testing.T) {
	entries, text := benchCorpus(256 << 10)
	f := mustNew(t, withWords(entries...))
	ms := f.Find(chA, text)
	if len(ms) == 0 || len(ms) > len(text)/100 {
		t.Errorf("%d matches in %d bytes: the benchmark text should be mostly clean", len(ms), len(text))
	}
	t.Logf("%d matches in %d bytes", len(ms), len(text))
}
