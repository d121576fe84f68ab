package filters

import "unicode/utf8"

// The prefilter lets the scanner's fast path pass over text that cannot
// start a match without running the matchers over it.
//
// Every pattern of an automaton is at least q characters long (q is the
// shortest pattern's length in characters, at most maxGram). A gram is a
// hash of the first q normalised characters at a position; gramSet holds
// the grams of all patterns' first q characters. Where the text's gram is
// not in the set, no pattern starts there. With the automaton idle (at
// its root, no trie walk, nothing pending), skipping such a position is
// exactly what running the automaton would have done as far as matches
// go: an automaton started from the root at the next position that may
// start a pattern finds every occurrence starting there or later, and
// none starts earlier. Grams are only computed over characters whose
// normalisation fast knows, so the text's gram is the gram of its
// normalised form; anything else makes the position "may start".

const (
	maxGram  = 4
	gramBits = 16 // 64 Ki bits: 8 KiB per set
)

// gramSet is a bitset of gram hashes.
type gramSet struct {
	q    int
	bits []uint64
}

func gramHash(h uint32, r rune) uint32 { return (h ^ uint32(r)) * 0x01000193 }

func gramSlot(h uint32) uint32 { return (h * 0x9E3779B1) >> (32 - gramBits) }

func newGramSet(patterns []string) *gramSet {
	g := &gramSet{q: maxGram, bits: make([]uint64, 1<<gramBits/64)}
	for _, p := range patterns {
		g.q = min(g.q, utf8.RuneCountInString(p))
	}
	for _, p := range patterns {
		h, k := uint32(0), 0
		for _, r := range p {
			if k == g.q {
				break
			}
			h, k = gramHash(h, r), k+1
		}
		slot := gramSlot(h)
		g.bits[slot>>6] |= 1 << (slot & 63)
	}
	return g
}

// mayStart reports whether a pattern of the set may start at str[i:lim]:
// false only when the next q characters are all ones fast handles (and
// the one after them cannot combine with them) and their gram is not in
// the set.
func (m *matcher) mayStart(g *gramSet, str string, i, lim int, atEOF bool) bool {
	cfg := m.cfg
	h := uint32(0)
	for k := 0; k < g.q; k++ {
		if i >= lim {
			return true
		}
		c := str[i]
		var r rune
		if c < utf8.RuneSelf {
			if cfg.separators && asciiClass[c]&clsSep != 0 {
				return true // it might be removed
			}
			r = rune(m.asciiFold[c])
			i++
		} else {
			var n int
			if r, n, _ = fastRune(str[i:lim]); n == 0 {
				return true
			}
			if cfg.fold && r <= 0x42F && r >= 0x410 {
				r += 0x20
			}
			i += n
		}
		h = gramHash(h, r)
	}
	if cfg.width {
		if i == lim {
			if !atEOF {
				return true
			}
		} else if str[i] >= utf8.RuneSelf && !startsFast(str[i:lim]) {
			return true
		}
	}
	slot := gramSlot(h)
	return g.bits[slot>>6]&(1<<(slot&63)) != 0
}

// skip passes over characters at which no pattern can start while the
// matchers are idle (the caller checks that), keeping track of the word
// state; it stops at the first character that needs the matchers or that
// fast must look at itself, and returns where it stopped.
func (s *scanner) skip(i, lim int, atEOF bool, lastSW, lastWord bool) (int, bool, bool) {
	m := s.m
	cfg := m.cfg
	str := s.orig
	for i+1 < lim {
		c := str[i]
		var cls uint8
		n := 1
		acMay := false
		if c < utf8.RuneSelf {
			cls = asciiClass[c]
			if cls&clsSep != 0 && lastWord && cfg.separators {
				break
			}
			acMay = m.acStart[m.asciiFold[c]]
		} else {
			if _, n, cls = fastRune(str[i:lim]); n == 0 || i+n >= lim {
				break
			}
			if n == 2 {
				acMay = m.acStart[0xD0] || m.acStart[0xD1] // folding may change the lead byte
			} else {
				acMay = m.acStart[c]
			}
		}
		if cfg.width && str[i+n] >= utf8.RuneSelf && !startsFast(str[i+n:lim]) {
			break // the next character might combine with this one
		}
		sw := cls&(clsWord|clsNoSpace) == clsWord
		if sw && !lastSW && m.trie != nil && m.mayStart(m.trGram, str, i, lim, atEOF) {
			break
		}
		if acMay && m.mayStart(m.acGram, str, i, lim, atEOF) {
			break
		}
		lastSW, lastWord = sw, cls&clsWord != 0
		i += n
	}
	return i, lastSW, lastWord
}
