package filters

import (
	"math/bits"
	"unicode/utf8"
)

// The prefilter lets the scanner's fast path pass over text that cannot
// start a match without running the matchers over it. It only acts while
// the matchers are idle (automaton at its root, no trie walk, no pending
// candidate): then skipping a position at which no pattern starts is, as
// far as matches go, exactly what running them would do, since an
// automaton started from its root finds every occurrence that starts
// there or later, and none starts earlier. It only looks at characters
// whose normalisation fast knows (ASCII, basic Cyrillic, CJK ideographs,
// each followed by a character that cannot combine with it), so what it
// hashes is the normalised text; anything else means "may start".
//
// Two tests rule positions out:
//
//   - grams: every pattern of an automaton is at least q characters long
//     (q: the shortest pattern's length, at most maxGram); a set holds
//     hashes of the patterns' first q characters, and a position whose
//     next q characters hash outside it starts no pattern;
//   - words: a trie pattern starts with a word W (a run of spaced-script
//     word characters). If the pattern goes on after W, the text's word
//     must be exactly W for it to match; if it does not, its right word
//     boundary says the same (a single-word pattern without one, "kalo*",
//     turns this test off). So a word whose hash is not among the
//     patterns' first words starts no trie pattern and is passed whole;
//     one that is is looked up exactly, and the trie walk resumes after
//     it from the node the word leads to, so even the words of a match
//     are not stepped through one byte at a time.

const (
	maxGram  = 4
	gramBits = 16 // 64 Ki bits: 8 KiB per set
	wordBits = 18 // 256 Ki bits: 32 KiB
)

// gramSet is a bitset of hashes of the first q characters of patterns.
type gramSet struct {
	q    int
	bits []uint64
}

// wordSet is a Bloom filter (two bits per word) of hashes of the first
// words of trie patterns, over their bytes; ok is false when the test
// does not apply. Two bits cut the false positives, each a lookup in the
// table below that misses the cache, about tenfold for 10,000 words.
type wordSet struct {
	ok   bool
	bits []uint64
	// An open-addressing table from first word to the trie node it leads
	// to, keyed by the hash skipWord computes anyway: a lookup costs one
	// slot (usually) and one comparison with the word's bytes in keys,
	// where a map of strings would hash again and chase more pointers.
	slots []wordSlot // len is a power of two, at most half full
	shift uint       // slot(h) = (h*φ) >> shift: the top bits, the well-mixed ones
	keys  []byte     // the first words, concatenated
}

// wordSlot is one entry of wordSet's table; n == 0 marks an empty slot
// (first words are never empty).
type wordSlot struct {
	h      uint32
	node   int32
	off, n uint32 // the word is keys[off : off+n]
	// end is what the trie walk over the word finds when an inert
	// character follows it, kept here so that finishWord need not look
	// at the trie (which misses the cache): the walk ends, with the id of
	// the one pattern that ends at node, or endsNone if none does; or
	// endsUnknown (several patterns end at node, or the walk may go on).
	end int32
}

const (
	endsNone    = -1
	endsUnknown = -2
)

// mayHold reports whether a first word may have hash h (the Bloom test).
func (w *wordSet) mayHold(h uint32) bool {
	return has(w.bits, slot(h, wordBits)) && has(w.bits, h&(1<<wordBits-1))
}

// lookup returns the entry of first word w (normalised, with hash h as
// skipWord computes it), or nil if w is no first word.
func (w *wordSet) lookup(h uint32, word []byte) *wordSlot {
	mask := uint32(len(w.slots) - 1)
	for k := (h * 0x9E3779B1) >> w.shift; ; k = (k + 1) & mask {
		e := &w.slots[k]
		if e.n == 0 {
			return nil
		}
		if e.h == h && string(w.keys[e.off:e.off+e.n]) == string(word) {
			return e
		}
	}
}

// lookupStr is lookup for a word as it stands in the text: a word that
// is already normalised (most are) needs no folded copy.
func (w *wordSet) lookupStr(h uint32, word string) *wordSlot {
	mask := uint32(len(w.slots) - 1)
	for k := (h * 0x9E3779B1) >> w.shift; ; k = (k + 1) & mask {
		e := &w.slots[k]
		if e.n == 0 {
			return nil
		}
		if e.h == h && string(w.keys[e.off:e.off+e.n]) == word {
			return e
		}
	}
}

// insert adds a first word; a word already present is kept.
func (w *wordSet) insert(h uint32, word string, node int32) {
	if w.lookup(h, []byte(word)) != nil {
		return
	}
	mask := uint32(len(w.slots) - 1)
	k := (h * 0x9E3779B1) >> w.shift
	for w.slots[k].n != 0 {
		k = (k + 1) & mask
	}
	w.slots[k] = wordSlot{h: h, node: node, off: uint32(len(w.keys)), n: uint32(len(word))}
	w.keys = append(w.keys, word...)
}

func mix(h, v uint32) uint32 { return (h ^ v) * 0x01000193 }

func slot(h uint32, bits uint) uint32 { return (h * 0x9E3779B1) >> (32 - bits) }

func has(set []uint64, s uint32) bool { return set[s>>6]&(1<<(s&63)) != 0 }

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
			h, k = mix(h, uint32(r)), k+1
		}
		s := slot(h, gramBits)
		g.bits[s>>6] |= 1 << (s & 63)
	}
	return g
}

func newWordSet(tr *automaton, pats []pattern, ids []int32) wordSet {
	size, shift := 16, uint(28)
	for size < 2*len(ids) {
		size, shift = size*2, shift-1
	}
	w := wordSet{ok: true, bits: make([]uint64, 1<<wordBits/64), slots: make([]wordSlot, size), shift: shift}
	for _, id := range ids {
		p := &pats[id]
		n := len(p.norm)
		for k, r := range p.norm {
			if !spacedWord(classOf(r)) {
				n = k
				break
			}
		}
		if n == len(p.norm) && !p.right {
			return wordSet{}
		}
		node := int32(0)
		for k := 0; k < n; k++ {
			node = tr.walk(node, p.norm[k])
		}
		h := hashWord(p.norm[:n])
		w.insert(h, p.norm[:n], node)
		for _, s := range [2]uint32{slot(h, wordBits), h & (1<<wordBits - 1)} {
			w.bits[s>>6] |= 1 << (s & 63)
		}
	}
	return w
}

// initPrefilter fills the matcher's prefilter tables; the automata must
// be built.
func (m *matcher) initPrefilter(acStrs, trStrs []string, trIDs []int32) {
	if m.ac != nil {
		m.acGram = newGramSet(acStrs)
		for c := range m.acStart {
			m.acStart[c] = m.ac.dense[m.ac.cls[c]] != 0
		}
	}
	m.acCyr = m.acStart[0xD0] || m.acStart[0xD1] // folding may change a Cyrillic lead byte
	m.acFirst = make([]uint64, (0xA000-0x4E00)/64)
	for _, p := range acStrs {
		if r, _ := utf8.DecodeRuneInString(p); r >= 0x4E00 && r < 0xA000 {
			m.acFirst[(r-0x4E00)>>6] |= 1 << ((r - 0x4E00) & 63)
		}
	}
	if m.trie != nil {
		m.trGram = newGramSet(trStrs)
		m.words = newWordSet(m.trie, m.pats, trIDs)
	}
	m.swar = true
	m.wordLead[0xD0], m.wordLead[0xD1] = true, true
	for c := 0; c < utf8.RuneSelf; c++ {
		f, cls := m.asciiFold[c], asciiClass[c]
		if spacedWord(cls) && !m.acStart[f] {
			m.plain[c] = f
		}
		if l := byte(c) | 0x20; 'a' <= l && l <= 'z' {
			// letterRun folds letters by setting bit 0x20.
			want := byte(c)
			if m.cfg.fold {
				want = l
			}
			m.swar = m.swar && m.plain[c] == want
		}
		m.wordLead[c] = m.plain[c] != 0
		m.inert[c] = cls&clsWord == 0 && !m.acStart[f] && (cls&clsSep == 0 || !m.cfg.separators)
	}
	for k := range m.words.slots {
		if e := &m.words.slots[k]; e.n != 0 {
			e.end = m.wordEnd(e.node)
		}
	}
}

// wordEnd is wordSlot.end for a first word that leads to trie node n.
func (m *matcher) wordEnd(n int32) int32 {
	tr := m.trie
	nd := &tr.nodes[n]
	for _, e := range tr.edges[nd.edgeStart : nd.edgeStart+nd.edgeN] {
		if m.inert[byte(e)] {
			return endsUnknown // inert bytes fold to themselves: the walk may go on
		}
	}
	switch nd.outEnd - nd.outStart {
	case 0:
		return endsNone
	case 1:
		return tr.outs[nd.outStart]
	}
	return endsUnknown
}

// foldCyrillic folds the UTF-8 bytes of a basic Cyrillic letter.
func (m *matcher) foldCyrillic(b0, b1 byte) (byte, byte) {
	if m.cfg.fold && b0 == 0xD0 && b1 < 0xB0 { // capital: U+0410..U+042F
		if b1 < 0xA0 {
			return b0, b1 + 0x20
		}
		return 0xD1, b1 - 0x20
	}
	return b0, b1
}

// foldFast normalises, in place, a word skipWord passed: ASCII letters
// and digits and basic Cyrillic letters.
func (m *matcher) foldFast(b []byte) []byte {
	for k := 0; k < len(b); k++ {
		if c := b[k]; c < utf8.RuneSelf {
			b[k] = m.asciiFold[c]
		} else if k+1 < len(b) {
			b[k], b[k+1] = m.foldCyrillic(c, b[k+1])
			k++
		}
	}
	return b
}

// combinable reports whether the character at str[i:lim] might combine
// with the one before it (or is not there yet), so that the one before
// cannot be normalised on its own. It may answer true for characters that
// cannot (it is only a conservative test), and looks at bytes only: what
// follows ASCII, a basic Cyrillic letter or an ideograph is most often
// another one of these, none of which combines with what precedes it
// (Cyrillic combining marks start at U+0483, in lead byte 0xD2).
func (m *matcher) combinable(str string, i, lim int, atEOF bool) bool {
	if i < lim && str[i] < utf8.RuneSelf {
		return false // the common case, kept small enough to inline
	}
	return m.combinableSlow(str, i, lim, atEOF)
}

// settled is combinable's test for the common characters, small enough
// to inline into the hot loops before the full one: true when the
// character at str[i:lim] is ASCII, or a basic Cyrillic letter or an
// ideograph (by its first two bytes), none of which combines with the
// character before it.
func settled(str string, i, lim int) bool {
	return i+1 < lim && uint16(str[i+1]^0x80) < leadNeeds[str[i]]
}

// leadNeeds says, for the first byte of a character, what the byte after
// it must be for the character to be surely not combining: with x that
// byte, uint16(x^0x80) < leadNeeds[c]. For ASCII, anything (0x100); for
// the lead bytes of basic Cyrillic (U+0400..U+047F) and of U+4000..U+9FFF,
// a continuation byte (0x40); for all other bytes, nothing (0).
var leadNeeds = func() (t [256]uint16) {
	for c := range t {
		switch {
		case c < utf8.RuneSelf:
			t[c] = 0x100
		case stableLead(byte(c)):
			t[c] = 0x40
		}
	}
	return t
}()

func stableLead(c byte) bool { return c == 0xD0 || c == 0xD1 || c >= 0xE4 && c <= 0xE9 }

func (m *matcher) combinableSlow(str string, i, lim int, atEOF bool) bool {
	if !m.cfg.width {
		return false
	}
	if i == lim {
		return !atEOF
	}
	if str[i] < utf8.RuneSelf {
		return false
	}
	if i+1 < lim && str[i+1]&0xC0 == 0x80 && stableLead(str[i]) {
		return false
	}
	return !startsFast(str[i:lim])
}

// mayStart reports whether a pattern of g may start at str[i:lim]: false
// only when the next q characters are ones fast handles (the one after
// them cannot combine with them) and their gram is not in g.
func (m *matcher) mayStart(g *gramSet, str string, i, lim int, atEOF bool) bool {
	return m.mayStartAfter(g, str, i, lim, atEOF, 0, 0)
}

// mayStartAfter is mayStart for a position whose first k characters (0 or
// 1) the caller has decoded and hashed into h.
func (m *matcher) mayStartAfter(g *gramSet, str string, i, lim int, atEOF bool, k int, h uint32) bool {
	for ; k < g.q; k++ {
		if i >= lim {
			return true
		}
		c := str[i]
		var r rune
		if c < utf8.RuneSelf {
			if m.cfg.separators && asciiClass[c]&clsSep != 0 {
				return true // it might be removed
			}
			r = rune(m.asciiFold[c])
			i++
		} else {
			var n int
			if r, n, _ = fastRune(str[i:lim]); n == 0 {
				return true
			}
			if m.cfg.fold && r <= 0x42F && r >= 0x410 {
				r += 0x20
			}
			i += n
		}
		h = mix(h, uint32(r))
	}
	return m.combinable(str, i, lim, atEOF) || has(g.bits, slot(h, gramBits))
}

// skipWord decides, at the start of a word at str[i:], whether no trie
// pattern can start there (see the words test above), and returns the
// word's end. It answers only when the whole word and the character after
// it are ones fast knows and final, and none of the word's characters may
// start an automaton pattern. It goes one character at a time: the
// common words are skipCommon's, eight bytes at a time.
//
// h is the hash of the word's normalised bytes (wordSet.lookup's key).
func (m *matcher) skipWord(str string, i, lim int, atEOF bool) (end int, v verdict, h uint32) {
	if !m.words.ok {
		return i, undecided, 0
	}
	var wh wordHash
	for i < lim {
		c := str[i]
		if f := m.plain[c]; f != 0 { // the common case: a letter or digit
			wh = wh.push(f)
			i++
			continue
		}
		var cls uint8
		n := 1
		if c < utf8.RuneSelf {
			cls = asciiClass[c]
		} else {
			if c-0xD0 < 2 && i+1 < lim && str[i+1]&0xC0 == 0x80 {
				// A basic Cyrillic letter, folded by table: see cyrFold.
				if f := m.cyrFold[int(c&1)<<6|int(str[i+1]&0x3F)]; f != 0 {
					if m.acCyr && m.mayStart(m.acGram, str, i, lim, atEOF) {
						return i, undecided, 0
					}
					wh = wh.push2(f)
					i += 2
					continue
				}
			}
			if _, n, cls = fastRune(str[i:lim]); n == 0 {
				return i, undecided, 0
			}
		}
		if cls&(clsWord|clsNoSpace) == clsWord {
			// An ASCII letter or digit that may start an automaton
			// pattern: only passed if none starts here.
			if m.mayStart(m.acGram, str, i, lim, atEOF) {
				return i, undecided, 0
			}
			wh = wh.push(m.asciiFold[c])
			i++
			continue
		}
		// The character after the word (ASCII or an ideograph): it must
		// not be a separator that might be removed, nor be followed by a
		// character that might combine with it.
		if cls&clsSep != 0 && m.cfg.separators || !settled(str, i+n, lim) && m.combinable(str, i+n, lim, atEOF) {
			return i, undecided, 0
		}
		if h := wh.sum(); m.words.mayHold(h) {
			return i, firstWord, h
		}
		return i, noPattern, 0
	}
	return i, undecided, 0
}

// skipCommon is skip's loop for the most common text, which it passes as
// skip would: spaces and punctuation that are inert, whole words that
// skipWord would pass as noPattern (with an inert character after them),
// runs of ideographs. It calls nothing, so that its state stays in
// registers, and returns at the first thing it does not handle, for skip
// to deal with. It starts and stops after a character that is no
// spaced-script word character (skip's lastSW is false), and returns
// where it stopped and skip's lastWord there. When it stops at a word
// that may be the first word of a trie pattern, it returns the word's end
// and hash too (end > next), else end == next.
func (m *matcher) skipCommon(str string, i, lim int, lastWord bool) (next int, word bool, end int, h uint32) {
	str = str[:lim] // so that the compiler sees which indexes are in range
	for i+8 <= lim {
		c := str[i]
		if m.inert[c] {
			if !settled(str, i+1, lim) {
				break
			}
			i, lastWord = i+1, false
			continue
		}
		if m.wordLead[c] {
			if !m.words.ok {
				break
			}
			// A word, eight bytes at a time: most are short runs of
			// ASCII letters or of basic Cyrillic ones, and one load
			// finds the run's end.
			j := i
			var wh wordHash
			for {
				if j+8 > lim {
					return i, lastWord, i, 0
				}
				b := str[j : j+8]
				x := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
					uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
				var f uint64
				var n int
				if int64(x) >= 0 { // the first byte is ASCII (tested on x, so that the bytes load as one word)
					if !m.swar {
						return i, lastWord, i, 0
					}
					f, n = letterRun(x, m.cfg.fold)
				} else {
					if m.acCyr {
						return i, lastWord, i, 0 // each letter needs skipWord's automaton test
					}
					f, n = cyrillicRun(x, m.cfg.fold)
				}
				if n < 8 {
					// With n == 0 this adds nothing (a shift by 64
					// gives 0), which spares a branch on the length.
					wh.acc, wh.k = f>>(uint(56-8*n)&63)>>8, uint(n)
					j += n
					break
				}
				wh.h = (wh.h ^ f) * wordMul
				j += 8
			}
			// The word must end here, at ASCII that is no word
			// character (most often a space) and is inert, followed by
			// a character that cannot combine with it: skipWord's test
			// of the character after a word, in short.
			t := str[j]
			if j == i || !m.inert[t] || !settled(str, j+1, lim) {
				break
			}
			if h := wh.sum(); m.words.mayHold(h) {
				return i, lastWord, j, h
			}
			i, lastWord = j+1, false
			continue
		}
		if r, ok := ideograph(str, i, lim); ok && m.acStart[c] && m.acGram.q == 2 {
			// Ideographs that may start automaton patterns: the common
			// case in text without spaces, where each character is a
			// possible start. This is mayStartAfter's test for
			// two-character grams, inline, for a next character that is
			// an ideograph or inert ASCII (most often a space), not
			// followed by one that might combine with it.
			g := m.acGram
			for {
				var r2 rune
				n2 := 3
				if v, ok := ideograph(str, i+3, lim); ok {
					r2 = v
				} else if c2 := str[i+3]; m.inert[c2] {
					r2, n2 = rune(m.asciiFold[c2]), 1
				} else {
					return i, lastWord, i, 0
				}
				if !settled(str, i+3+n2, lim) {
					return i, lastWord, i, 0
				}
				// The test of r as a first character and that of the
				// gram, without a branch on either (on mixed text the
				// first is a coin toss). An ideograph whose lead byte
				// starts no pattern is no first character either, so
				// for one this is what skip would do.
				f, gs := uint32(r-0x4E00), slot(mix(mix(0, uint32(r)), uint32(r2)), gramBits)
				if m.acFirst[f>>6]>>(f&63)&(g.bits[gs>>6]>>(gs&63))&1 != 0 {
					return i, lastWord, i, 0
				}
				if n2 == 1 {
					i, lastWord = i+4, false // the ideograph and the inert character after it
					break
				}
				i, r, lastWord = i+3, r2, true
			}
			continue
		}
		break
	}
	return i, lastWord, i, 0
}

// wordHash hashes a word's normalised bytes eight at a time (big-endian),
// so that skipCommon can add a run of letters in one step and skipWord
// one byte at a time alike. Its methods take and return values rather
// than pointers, so that a wordHash stays in registers.
type wordHash struct {
	h, acc uint64 // acc: the last k bytes, not yet mixed into h
	k      uint
}

const wordMul = 0x9E3779B97F4A7C15

func (w wordHash) push(b byte) wordHash {
	w.acc = w.acc<<8 | uint64(b)
	if w.k++; w.k == 8 {
		w.h, w.acc, w.k = (w.h^w.acc)*wordMul, 0, 0
	}
	return w
}

// push2 is push(byte(v>>8)).push(byte(v)).
func (w wordHash) push2(v uint16) wordHash {
	return w.push(byte(v >> 8)).push(byte(v))
}

func (w wordHash) sum() uint32 {
	x := (w.h ^ w.acc ^ uint64(w.k)<<56) * wordMul // acc's top byte is free when k < 8
	x = (x ^ x>>29) * 0xBF58476D1CE4E5B9
	return uint32(x >> 32)
}

func hashWord(word string) uint32 {
	var w wordHash
	for k := 0; k < len(word); k++ {
		w = w.push(word[k])
	}
	return w.sum()
}

// letterRun returns how many of the eight bytes of x (big-endian: the
// first byte on top) from the top are ASCII letters, and x with every
// letter byte folded to lower case if fold is set.
func letterRun(x uint64, fold bool) (f uint64, n int) {
	const hi = 0x8080808080808080
	t := x | 0x2020202020202020 // letters to lower case (others may pass into a-z: 0x41..0x5A only come from A-Z)
	y := t &^ hi
	ge := (y + 0x1F1F1F1F1F1F1F1F) & hi // y >= 'a'; no carry between bytes, as y < 0x80
	gt := (y + 0x0505050505050505) & hi // y > 'z'
	letters := ge &^ gt &^ (x & hi)
	n = bits.LeadingZeros64(^letters&hi) / 8
	if fold {
		return t, n
	}
	return x, n
}

// cyrillicRun is letterRun for basic Cyrillic letters (U+0410..U+044F,
// two bytes each): how many bytes of x from the top are such letters (0,
// 2, 4, 6 or 8), and x with every letter folded as cyrFold folds it if
// fold is set. It works on the four 16-bit lanes of x at once, and is
// written to stay within the compiler's inlining budget.
func cyrillicRun(x uint64, fold bool) (uint64, int) {
	const (
		lanes = 0x0001000100010001
		top   = 0x8000 * lanes
	)
	// t: the letter's offset from U+0400 (the lead byte's bit 0, then the
	// trail byte's six bits), 0..127 in every lane; u = t + 0x30 has bit
	// 6 set and bit 7 clear just for U+0410..U+044F.
	t := x>>2&(0x40*lanes) | x&(0x3F*lanes)
	u := t + 0x30*lanes
	in := u &^ (u >> 1) & (0x40 * lanes)
	if fold {
		t += (in &^ (u << 1)) >> 1 // + 0x20 for a capital (u's bit 5 clear): its small letter
	}
	// The bytes again, from t (unchanged unless folded); and the letters
	// in range whose lead byte is 0xD0 or 0xD1 and whose second byte is a
	// continuation byte: z = x&0xFEC0 ^ 0xD080 is 0, so bit 15 of
	// z>>1 + 0x7FFF is clear. z's bit 0 is clear, so z>>1 takes in
	// nothing from the lane above, and no addition here carries into
	// another lane.
	return 0xD080*lanes | t&(0x40*lanes)<<2 | t&(0x3F*lanes),
		bits.LeadingZeros64(^(in<<9&^((x&(0xFEC0*lanes)^(0xD080*lanes))>>1+0x7FFF*lanes))&top) / 8
}

// lookupWord looks up word (skipWord passed it, with hash h): as it
// stands if it is already normalised, else a folded copy.
func (s *scanner) lookupWord(h uint32, word string) *wordSlot {
	m := s.m
	if e := m.words.lookupStr(h, word); e != nil {
		// A first word is normalised, so the text's word equals its
		// normalised form.
		return e
	}
	s.wordBuf = m.foldFast(append(s.wordBuf[:0], word...))
	if string(s.wordBuf) == word {
		return nil // already normalised: the lookup above was exact
	}
	return m.words.lookup(h, s.wordBuf)
}

// verdict is what skipWord found out about a word.
type verdict int

const (
	undecided verdict = iota // the word must go through the matchers
	noPattern                // no pattern starts with the word
	firstWord                // the word may be the first word of a trie pattern
)

// skip passes over characters at which no pattern can start while the
// matchers are idle (the caller checks that), keeping track of the word
// state; it stops at the first character that needs the matchers or that
// fast must look at itself, and returns where it stopped.
//
// When it passes a whole word that begins trie patterns, it stops after
// it and returns the word's start and the trie node that a walk over the
// word reaches (node is -1 otherwise). No automaton pattern starts inside
// such a word (skipWord checks), and any trie pattern that ends inside it
// needs a word boundary there (or the word test would be off), so the
// walk's outcome is the node alone. When the walk cannot go on past the
// word, finishWord settles it here instead, and skip goes on.
//
// The most common text goes through skipCommon; the rest of the loop is
// for what it leaves.
func (s *scanner) skip(i, lim int, atEOF bool, lastSW, lastWord bool) (end int, sw, word bool, from int, node int32) {
	m := s.m
	str := s.orig
	for i+1 < lim {
		if !lastSW {
			var j int
			var h uint32
			if i, lastWord, j, h = m.skipCommon(str, i, lim, lastWord); j > i {
				// A word that skipCommon passed whole and that may be
				// the first word of trie patterns: look it up.
				if e := s.lookupWord(h, str[i:j]); e != nil && !s.finishWord(i, j, e) {
					return j, true, true, i, e.node
				}
				// skipCommon checked that an inert character follows.
				i, lastSW, lastWord = j+1, false, false
				continue
			}
			if i+1 >= lim {
				break
			}
		}
		c := str[i]
		if lastSW && m.plain[c] != 0 {
			// Inside a word: letters on which the automaton stays at its
			// root change nothing.
			j := i + 1
			for j+1 < lim && m.plain[str[j]] != 0 {
				j++
			}
			if m.combinable(str, j, lim, atEOF) {
				j-- // the last letter might combine with what follows
			}
			if j > i {
				i = j
				continue
			}
		}
		if !lastSW && m.wordLead[c] && m.trie != nil {
			// The start of a Latin or Cyrillic word that skipCommon
			// left (near the end of the text, or not all letters it
			// knows): the word test first. Whatever it passes is known
			// not to combine, so this is what the general case below
			// would do.
			j, v, h := m.skipWord(str, i, lim, atEOF)
			if v == firstWord {
				if e := s.lookupWord(h, str[i:j]); e != nil && !s.finishWord(i, j, e) {
					return j, true, true, i, e.node
				}
				v = noPattern
			}
			if v == noPattern {
				i, lastSW, lastWord = j, true, true
				if j+1 < lim && m.inert[str[j]] {
					// The space after the word: skipWord has checked
					// that what follows it does not combine with it.
					i, lastSW, lastWord = j+1, false, false
				}
				continue
			}
		}
		var cls uint8
		n := 1
		acMay := false
		if c < utf8.RuneSelf {
			if m.inert[c] && settled(str, i+1, lim) {
				// A space or punctuation between words: what the
				// general case below would do, in short.
				lastSW, lastWord = false, false
				i++
				continue
			}
			cls = asciiClass[c]
			if cls&clsSep != 0 && lastWord && m.cfg.separators {
				break
			}
			acMay = m.acStart[m.asciiFold[c]]
		} else if r, ok := ideograph(str, i, lim); ok && i+3 < lim && m.acStart[c] {
			// An ideograph that may start automaton patterns, which
			// skipCommon left: hash it here rather than decode it
			// again.
			if !settled(str, i+3, lim) && m.combinable(str, i+3, lim, atEOF) {
				break
			}
			if has(m.acFirst, uint32(r-0x4E00)) && m.mayStartAfter(m.acGram, str, i+3, lim, atEOF, 1, mix(0, uint32(r))) {
				break
			}
			lastSW, lastWord = false, true
			i += 3
			continue
		} else {
			if _, n, cls = fastRune(str[i:lim]); n == 0 || i+n >= lim {
				break
			}
			if n == 2 {
				acMay = m.acCyr
			}
		}
		if !settled(str, i+n, lim) && m.combinable(str, i+n, lim, atEOF) {
			break
		}
		isSW := cls&(clsWord|clsNoSpace) == clsWord
		if isSW && !lastSW && m.trie != nil {
			j, v, h := m.skipWord(str, i, lim, atEOF)
			if v == firstWord {
				// Look the word up exactly: the trie node its walk
				// reaches, or none (the hash set only says "maybe").
				if e := s.lookupWord(h, str[i:j]); e != nil && !s.finishWord(i, j, e) {
					return j, true, true, i, e.node
				}
				v = noPattern
			}
			if v == noPattern {
				i, lastSW, lastWord = j, true, true
				continue
			}
			if m.mayStart(m.trGram, str, i, lim, atEOF) {
				break
			}
		}
		if acMay && m.mayStart(m.acGram, str, i, lim, atEOF) {
			break
		}
		lastSW, lastWord = isSW, cls&clsWord != 0
		i += n
	}
	return i, lastSW, lastWord, 0, -1
}

// finishWord ends, where it can, the trie walk over a first word that
// skip passed (str[i:j], with entry e) without handing it to fast: when
// the byte after the word leaves the trie, the walk ends with the word,
// and the patterns ending at its node are exactly matches. They all need
// word boundaries (or the word test would be off), and the word has
// them: skip passed its start after a character that is no spaced-script
// word character, and skipWord checked the character after it. Recording
// a match this way needs no normalised text, so it is done in modeFind
// only; it reports whether it ended the walk.
func (s *scanner) finishWord(i, j int, e *wordSlot) bool {
	m := s.m
	id := e.end
	if c := s.orig[j]; !m.inert[c] || id == endsUnknown {
		tr := m.trie
		if tr.walk(e.node, m.asciiFold[c]) >= 0 {
			return false
		}
		if !tr.output(e.node) {
			return true
		}
		if s.mode != modeFind {
			return false
		}
		nd := &tr.nodes[e.node]
		for _, id := range tr.outs[nd.outStart:nd.outEnd] {
			s.addMatch(Match{Start: s.base + i, End: s.base + j, Entry: m.pats[id].entry})
		}
		return true
	}
	if id == endsNone {
		return true
	}
	if s.mode != modeFind {
		return false
	}
	s.addMatch(Match{Start: s.base + i, End: s.base + j, Entry: m.pats[id].entry})
	return true
}
