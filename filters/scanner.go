package filters

import (
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// maxSepRun is the longest run of separator characters (e.g. " . ")
// removed between two letters; longer runs are ordinary text.
const maxSepRun = 3

// releaseEvery bounds the normalised buffer during long scans.
const releaseEvery = 4096

// maskRune replaces each matched character in mask mode.
const maskRune = "＊"

// Flags on normalised bytes.
const (
	flSepBefore uint8 = 1 << iota // a separator run was removed right before this rune: a word boundary
	flMasked                      // part of a confirmed match
)

// Scanner modes: what the caller wants from the matches.
const (
	modeFind = iota // collect every match
	modeMask        // produce the text with matched characters masked
	modeStop        // stop at the first match
)

// normConfig selects the normalisation steps.
type normConfig struct {
	width      bool // NFKC
	fold       bool
	invisible  bool // drop invisible characters
	separators bool // drop separator runs between word characters
}

// pattern is one compiled entry.
type pattern struct {
	norm  string // normalised text, without the '*' markers
	entry string // as written in the list
	left  bool   // needs a word boundary before it
	right bool   // needs a word boundary after it
}

// matcher is an immutable compiled list: the automaton plus what a match
// of each pattern means.
type matcher struct {
	cfg  normConfig
	ac   *automaton // unanchored patterns, run at every byte; nil if none
	trie *automaton // patterns that need a word boundary before them, walked from word starts; nil if none
	pats []pattern
	// asciiFold maps an ASCII byte to its normalised form (lower case when
	// folding); other bytes map to themselves.
	asciiFold [256]byte
	// Prefilter (see prefilter.go). acStart[c]: byte c leads the
	// unanchored automaton out of its root; acCyr: so may a Cyrillic
	// letter. plain[c]: for ASCII letters and digits that do not, their
	// normalised byte (0 for all other bytes).
	acStart        [256]bool
	acCyr          bool
	acFirst        []uint64 // bit r-0x4E00: a CJK ideograph r (fastRune's) starts an automaton pattern
	plain          [256]byte
	acGram, trGram *gramSet
	words          wordSet
	// cyrFold[(b0&1)<<6 | b1&0x3F]: the normalised UTF-8 bytes (b0<<8 | b1)
	// of the basic Cyrillic letter (U+0410..U+044F) encoded b0 b1, 0 for
	// the other characters with lead byte 0xD0 or 0xD1.
	cyrFold [128]uint16
	// inert[c]: ASCII byte c is no word character, starts no automaton
	// pattern and is never removed as a separator, so while the
	// matchers are idle it only ends a word.
	inert [256]bool
	// swar: skipWord may pass runs of ASCII letters eight bytes at a
	// time (see letterRun): no letter may start an automaton pattern.
	swar bool
	// wordLead[c]: byte c may start a word that skipWord passes: a plain
	// ASCII letter or digit, or the lead byte of a basic Cyrillic letter.
	wordLead  [256]bool
	trieRight []uint64 // bit n: every pattern ending at trie node n needs a right word boundary
}

// nbInfo is what the scanner knows about one normalised byte. Offsets are
// int32 to halve the per-byte bookkeeping: one text (or one streamed
// reply) is limited to 2 GiB.
type nbInfo struct {
	a, b int32 // the original segment [a, b) that produced the byte
	fl   uint8
}

// heldRune is a separator held back until the next rune decides whether
// it sits between two word characters (and is removed).
type heldRune struct {
	r    rune
	a, b int // original segment
}

// walk is a walk of the anchored trie that started at a word start.
type walk struct {
	node  int32
	start int // absolute normalised offset
}

// candidate is a match waiting for the next rune to decide its right-hand
// word boundary.
type candidate struct {
	start, end int // absolute normalised offsets
	id         int32
}

// scanner runs normalisation and matching incrementally over text that
// arrives in pieces. Its decisions depend only on the text, never on how
// the text was split, so streaming and whole-text filtering agree; and it
// keeps only what could still be part of a match, so memory stays bounded
// by the longest entry however long the text.
type scanner struct {
	m    *matcher
	mode int

	orig  string // original text from absolute offset base
	base  int
	inPos int // absolute offset of the first original byte not yet normalised

	// Normalised text from absolute normalised offset nbase; per byte, the
	// original segment [ns, ne) that produced it and flags.
	nb     []byte
	info   []nbInfo
	nbase  int
	nEnd   int   // absolute normalised offset of the end of nb
	prevSW bool  // the rune just before nbase is a spaced word character
	state  int32 // automaton state

	held     []heldRune
	lastWord bool // the last emitted rune is a word character
	lastSW   bool // the last emitted rune is a spaced-script word character
	walks    []walk
	deferred []candidate

	outPos  int // absolute original offset of the first byte not yet released
	out     strings.Builder
	matches []Match
	stopped bool
	stopAt  int // original offset of the first match in modeStop
	segBuf  []byte
	wordBuf []byte // scratch for skip's word lookups
	lazy    int    // during fast: absolute original offset of the text passed but not yet recorded in nb
	eof     bool   // all text has been written and decided
	keepAll bool   // keep the whole normalised text (for compiling entries)
}

func newScanner(m *matcher, mode int) *scanner {
	return &scanner{m: m, mode: mode}
}

// write adds original text and processes what can be decided.
func (s *scanner) write(text string, atEOF bool) {
	if s.stopped {
		return
	}
	if len(s.orig) == 0 {
		s.orig = text
	} else if text != "" {
		s.orig += text
	}
	if s.mode == modeMask {
		// Most of the text is released now: size the output once
		// rather than growing it piece by piece.
		s.out.Grow(len(s.orig))
	}
	s.process(atEOF)
	if atEOF && !s.stopped {
		s.flushHeld()
		for _, c := range s.deferred {
			s.confirm(c)
			if s.stopped {
				break
			}
		}
		s.deferred = s.deferred[:0]
		s.eof = true
	}
	s.release()
}

// process normalises and scans the unprocessed original text.
func (s *scanner) process(atEOF bool) {
	cfg := s.m.cfg
	end := s.base + len(s.orig)
	if !atEOF {
		// A character cut by the end of a delta must not look like
		// invalid UTF-8 (which would end a segment early): wait for it.
		for k := 1; k <= utf8.UTFMax && k <= len(s.orig); k++ {
			if c := s.orig[len(s.orig)-k]; utf8.RuneStart(c) {
				if !utf8.FullRuneInString(s.orig[len(s.orig)-k:]) {
					end -= k
				}
				break
			}
		}
	}
	for s.inPos < end && !s.stopped {
		i, lim := s.inPos-s.base, end-s.base
		if len(s.held) == 0 && len(s.deferred) == 0 {
			i = s.fast(i, lim, atEOF)
			s.inPos = s.base + i
			lim = end - s.base // fast may have released (moved base)
			if i >= lim || s.stopped {
				break
			}
		}
		c := s.orig[i]
		if c < utf8.RuneSelf {
			// ASCII is NFKC-stable unless a combining mark follows, so it
			// only needs the next byte to be ASCII too.
			if !cfg.width || (i+1 < lim && s.orig[i+1] < utf8.RuneSelf) || (i+1 == len(s.orig) && atEOF) {
				r := rune(c)
				if cfg.fold && 'A' <= c && c <= 'Z' {
					r += 'a' - 'A'
				}
				s.inPos++
				s.rune(r, asciiClass[r], s.inPos-1, s.inPos)
				if len(s.nb) >= releaseEvery {
					s.release()
				}
				continue
			}
		}
		var seg string
		if cfg.width {
			n := norm.NFKC.NextBoundaryInString(s.orig[i:lim], atEOF)
			if n < 0 || (!atEOF && i+n == lim) {
				// Without the next character it is unknown whether a
				// combining mark extends this character.
				return
			}
			seg = s.orig[i : i+n]
			if norm.NFKC.QuickSpanString(seg) != len(seg) {
				s.segBuf = norm.NFKC.AppendString(s.segBuf[:0], seg)
				s.segment(string(s.segBuf), s.inPos, s.inPos+n)
				s.inPos += n
				continue
			}
		} else {
			if !atEOF && !utf8.FullRuneInString(s.orig[i:lim]) {
				return
			}
			_, n := utf8.DecodeRuneInString(s.orig[i:lim])
			seg = s.orig[i : i+n]
		}
		s.segment(seg, s.inPos, s.inPos+len(seg))
		s.inPos += len(seg)
		if len(s.nb) >= releaseEvery {
			s.release()
		}
	}
}

// fast handles the common characters (ASCII, CJK ideographs, basic
// Cyrillic) whose normalisation is known without consulting the Unicode
// tables, as long as nothing is held back; it returns where it stopped.
//
// It does not record the normalised text as it goes. Every character it
// handles normalises to as many bytes as it has in the original (ASCII to
// ASCII, an ideograph to itself, a Cyrillic capital to its small letter:
// two bytes each), so the normalised text it has passed is implied by the
// original: original offset s.lazy+d is normalised offset s.nEnd+d, and
// each normalised byte comes from the original character containing it.
// Only when something needs the recorded form (a pattern completed, or
// fast returns) does materialise write it out, and then only the tail
// that may still be part of a match; the rest is released unrecorded.
func (s *scanner) fast(i, lim int, atEOF bool) int {
	cfg := s.m.cfg
	ac, tr := s.m.ac, s.m.trie
	fold := &s.m.asciiFold
	str, base := s.orig, s.base
	s.lazy = base + i
	// The hot loop keeps the scanner's state in locals and writes it back
	// before anything that reads it.
	st := s.state
	lastSW, lastWord := s.lastSW, s.lastWord
	walks := s.walks
	for i < lim {
		if st == 0 && len(walks) == 0 && len(s.deferred) == 0 {
			var from int
			var node int32
			i, lastSW, lastWord, from, node = s.skip(i, lim, atEOF, lastSW, lastWord)
			if node >= 0 {
				// skip passed a whole word that is the first word of
				// trie patterns: the walk from its start is at node.
				walks = append(walks, walk{node: node, start: s.nEnd + base + from - s.lazy})
				if tr.output(node) {
					walks = s.hitAt(base+i, st, lastSW, lastWord, walks)
					d := s.base - base
					str, base, i, lim = s.orig, s.base, i-d, lim-d
					if s.stopped {
						break
					}
				}
				continue
			}
		}
		c := str[i]
		var enc [utf8.UTFMax]byte
		var k, n int
		var cls uint8
		if c < utf8.RuneSelf {
			if i+1 < lim {
				if str[i+1] >= utf8.RuneSelf && cfg.width && !startsFast(str[i+1:lim]) {
					break // the next character might combine with this one
				}
			} else if cfg.width && !atEOF {
				break
			}
			cls = asciiClass[c]
			if cls&clsSep != 0 && lastWord && cfg.separators {
				break
			}
			enc[0], k, n = fold[c], 1, 1
		} else {
			var r rune
			r, n, cls = fastRune(str[i:lim])
			if n == 0 {
				break
			}
			if cfg.width {
				if i+n == lim {
					if !atEOF {
						break
					}
				} else if str[i+n] >= utf8.RuneSelf && !startsFast(str[i+n:lim]) {
					break // the next character might combine with this one
				}
			}
			if n == 3 {
				enc[0], enc[1], enc[2], k = str[i], str[i+1], str[i+2], 3
			} else {
				if cfg.fold && r <= 0x42F {
					r += 0x20
				}
				enc[0], enc[1], k = byte(0xC0|r>>6), byte(0x80|r&0x3F), 2
			}
		}
		sw := cls&(clsWord|clsNoSpace) == clsWord
		if len(s.deferred) > 0 {
			// Candidates waiting for this character: decide them as
			// begin would (no separator was removed before it).
			s.resolveDeferred(cls, 0)
			if s.stopped {
				break
			}
		}
		if sw && !lastSW && tr != nil && s.m.mayStart(s.m.trGram, str, i, lim, atEOF) {
			walks = append(walks, walk{start: s.nEnd + base + i - s.lazy})
		}
		lastSW, lastWord = sw, cls&clsWord != 0
		i += n
		hit := false   // a pattern ended at this character
		trHit := false // a trie walk completed a pattern here
		for _, cj := range enc[:k] {
			if ac != nil {
				// The state stays at the root on bytes that start no
				// pattern: skip the lookup.
				if cc := int32(ac.cls[cj]); st != 0 || cc != 0 {
					if st < ac.nDense {
						st = ac.dense[st*ac.stride+cc]
					} else {
						st = ac.step(st, cj)
					}
					hit = hit || ac.output(st)
				}
			}
			if len(walks) > 0 {
				var h bool
				walks, h = tr.advance(walks, cj)
				trHit = trHit || h
			}
		}
		if trHit && !s.rejectedNext(walks, str[i:lim], atEOF) {
			hit = true
		}
		if hit {
			// Patterns are valid UTF-8, so they can only end where a
			// character ends: here, never inside enc.
			walks = s.hitAt(base+i, st, lastSW, lastWord, walks)
			d := s.base - base
			str, base, i, lim = s.orig, s.base, i-d, lim-d
			if s.stopped {
				break
			}
		}
	}
	s.state, s.lastSW, s.lastWord, s.walks = st, lastSW, lastWord, walks
	s.materialise(base + i)
	return i - (s.base - base)
}

// rejectedNext reports whether the trie patterns completed by walks all
// need a word boundary after them and next, the text that follows, surely
// begins with a spaced-script word character, so none of them can match:
// most completed walks are words that merely begin with an entry
// ("kalo" in "kalota"), and this spares recording them. It only looks at
// a character whose normalisation fast itself would know (one not
// followed by a possibly combining character), so it agrees with the
// slow path.
func (s *scanner) rejectedNext(walks []walk, next string, atEOF bool) bool {
	if len(next) == 0 {
		return false
	}
	var cls uint8
	n := 1
	if next[0] < utf8.RuneSelf {
		cls = asciiClass[next[0]]
	} else if _, n, cls = fastRune(next); n == 0 {
		return false
	}
	if !spacedWord(cls) {
		return false
	}
	if s.m.cfg.width {
		if n == len(next) {
			if !atEOF {
				return false
			}
		} else if next[n] >= utf8.RuneSelf && !startsFast(next[n:]) {
			return false
		}
	}
	tr := s.m.trie
	for _, w := range walks {
		if tr.output(w.node) && !s.m.rightOnly(w.node) {
			return false
		}
	}
	return true
}

// rightOnly reports whether every pattern that ends at trie node n needs
// a word boundary after it.
func (m *matcher) rightOnly(n int32) bool { return m.trieRight[n>>6]&(1<<(n&63)) != 0 }

// hitAt stores fast's state, records the text up to pos and reports the
// patterns that end there; it returns the trie walks, which may have
// changed, and may release text (moving s.base).
func (s *scanner) hitAt(pos int, st int32, lastSW, lastWord bool, walks []walk) []walk {
	s.state, s.lastSW, s.lastWord, s.walks = st, lastSW, lastWord, walks
	s.materialise(pos)
	s.matchesAt(st)
	return s.walks
}

// matchesAt reports the patterns that end at the current position: the
// automaton's outputs at state st and the trie walks that complete one.
func (s *scanner) matchesAt(st int32) {
	if ac := s.m.ac; ac != nil && ac.output(st) {
		s.outputs(st)
	}
	tr := s.m.trie
	for _, w := range s.walks {
		if s.stopped {
			return
		}
		if !tr.output(w.node) {
			continue
		}
		nd := &tr.nodes[w.node]
		for _, id := range tr.outs[nd.outStart:nd.outEnd] {
			s.candidate(id)
			if s.stopped {
				return
			}
		}
	}
}

// materialise records the normalised text fast has passed over, original
// [s.lazy, pos), first releasing what no match can include any more
// (before the automaton state's depth, the trie walks and the pending
// candidates). pos and s.lazy are character boundaries.
func (s *scanner) materialise(pos int) {
	if pos == s.lazy || s.stopped {
		// Nothing passed, or nothing after the stop matters (and
		// releasing here would show text past it).
		return
	}
	vEnd := s.nEnd + pos - s.lazy // normalised end of the text passed
	need := vEnd
	if ac := s.m.ac; ac != nil {
		need = vEnd - int(ac.nodes[s.state].depth)
	}
	for _, w := range s.walks {
		need = min(need, w.start)
	}
	for _, d := range s.deferred {
		need = min(need, d.start)
	}
	if !s.keepAll && need > s.nEnd {
		// Everything recorded and part of the unrecorded text is final.
		cut := s.lazy + need - s.nEnd
		r, _ := utf8.DecodeLastRuneInString(s.orig[:cut-s.base])
		s.releaseTo(cut)
		s.nbase += cut - s.lazy
		s.nEnd = s.nbase
		s.prevSW = runeSpacedWord(r) // fast's characters keep their class when folded
		s.lazy = cut
	}
	cfg := s.m.cfg
	for p := s.lazy; p < pos; {
		r, n := utf8.DecodeRuneInString(s.orig[p-s.base:])
		if cfg.fold && ('A' <= r && r <= 'Z' || r >= 0x410 && r <= 0x42F) {
			r += 0x20 // 'a'-'A' == 0x430-0x410
		}
		var enc [utf8.UTFMax]byte
		k := utf8.EncodeRune(enc[:], r)
		for _, c := range enc[:k] {
			s.nb = append(s.nb, c)
			s.info = append(s.info, nbInfo{int32(p), int32(p + n), 0})
		}
		p += n
	}
	s.nEnd = s.nbase + len(s.nb)
	s.lazy = pos
}

// fastRune decodes a CJK unified ideograph or a basic Cyrillic letter at
// the start of str: characters that are NFKC-stable starters that never
// combine with a preceding character. n is 0 for anything else. The
// ideograph case is tried first and inlined (see ideograph): it is the
// common one in text without spaces.
func fastRune(str string) (r rune, n int, cls uint8) {
	if r, ok := ideograph(str, 0, len(str)); ok {
		return r, 3, clsWord | clsNoSpace
	}
	return fastRune2(str)
}

// ideograph decodes a CJK unified ideograph (U+4E00..U+9FFF) at
// str[i:lim]; it is small enough to inline into the hot loops.
func ideograph(str string, i, lim int) (rune, bool) {
	if i+2 < lim {
		c0, c1, c2 := str[i], str[i+1], str[i+2]
		if c0-0xE4 < 6 && c1&0xC0 == 0x80 && c2&0xC0 == 0x80 {
			r := rune(c0&0x0F)<<12 | rune(c1&0x3F)<<6 | rune(c2&0x3F)
			return r, r >= 0x4E00
		}
	}
	return 0, false
}

// fastRune2 is fastRune for a basic Cyrillic letter.
func fastRune2(str string) (r rune, n int, cls uint8) {
	if len(str) >= 2 && (str[0] == 0xD0 || str[0] == 0xD1) && str[1]&0xC0 == 0x80 {
		r = rune(str[0]&0x1F)<<6 | rune(str[1]&0x3F)
		if r >= 0x410 && r <= 0x44F {
			return r, 2, clsWord
		}
	}
	return 0, 0, 0
}

// startsFast reports whether str starts with a character fastRune knows:
// no such character combines with the one before it.
func startsFast(str string) bool {
	_, n, _ := fastRune(str)
	return n > 0
}

// put appends one normalised byte and steps the matchers over it.
func (s *scanner) put(c byte, a, b int, flag uint8) {
	s.nb = append(s.nb, c)
	s.info = append(s.info, nbInfo{int32(a), int32(b), flag})
	s.nEnd++
	if ac := s.m.ac; ac != nil {
		st := s.state
		if st < ac.nDense {
			st = ac.dense[st*ac.stride+int32(ac.cls[c])]
		} else {
			st = ac.step(st, c)
		}
		s.state = st
		if ac.output(st) {
			s.outputs(st)
		}
	}
	if len(s.walks) > 0 {
		s.stepWalks(c)
	}
}

// stepWalks advances the trie walks; a walk ends where the trie does.
func (s *scanner) stepWalks(c byte) {
	tr := s.m.trie
	n := 0
	for _, w := range s.walks {
		if w.node = tr.walk(w.node, c); w.node >= 0 {
			s.walks[n] = w
			n++
		}
	}
	s.walks = s.walks[:n]
	for _, w := range s.walks {
		if !tr.output(w.node) {
			continue
		}
		nd := &tr.nodes[w.node]
		for _, id := range tr.outs[nd.outStart:nd.outEnd] {
			s.candidate(id)
			if s.stopped {
				return
			}
		}
	}
}

// segment processes the normalised form out of original bytes [a, b).
func (s *scanner) segment(out string, a, b int) {
	for j := 0; j < len(out) && !s.stopped; {
		r, n := utf8.DecodeRuneInString(out[j:])
		if r == utf8.RuneError && n == 1 {
			// Invalid UTF-8 passes through as a raw byte of no class.
			s.emitRaw(out[j], a, b)
			j++
			continue
		}
		j += n
		if s.m.cfg.fold {
			r = fold(r)
		}
		s.rune(r, classOf(r), a, b)
	}
}

// rune applies invisible and separator removal to one normalised rune.
func (s *scanner) rune(r rune, cls uint8, a, b int) {
	cfg := s.m.cfg
	if cls&clsInvisible != 0 && cfg.invisible {
		return
	}
	if cfg.separators {
		if cls&clsSep != 0 {
			if len(s.held) >= maxSepRun {
				// Too long to be an evasion: keep it, and bound what
				// is held back.
				s.flushHeld()
			} else if s.lastWord || len(s.held) > 0 {
				s.held = append(s.held, heldRune{r, a, b})
				return
			}
		} else if len(s.held) > 0 {
			if cls&clsWord != 0 {
				s.held = s.held[:0]
				s.emit(r, cls, a, b, flSepBefore)
				return
			}
			s.flushHeld()
		}
	}
	s.emit(r, cls, a, b, 0)
}

// flushHeld emits held separators: they did not end up between two word
// characters.
func (s *scanner) flushHeld() {
	held := s.held
	s.held = s.held[:0]
	for _, h := range held {
		if s.stopped {
			return
		}
		s.emit(h.r, clsSep, h.a, h.b, 0)
	}
}

func (s *scanner) emitRaw(c byte, a, b int) {
	if len(s.held) > 0 {
		s.flushHeld()
	}
	s.begin(0, 0)
	if !s.stopped {
		s.put(c, a, b, 0)
	}
}

// emit appends one normalised rune and runs the matchers over it.
func (s *scanner) emit(r rune, cls uint8, a, b int, flag uint8) {
	s.begin(cls, flag)
	if s.stopped {
		return
	}
	if r < utf8.RuneSelf {
		s.put(byte(r), a, b, flag)
		return
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for k := 0; k < n && !s.stopped; k++ {
		s.put(buf[k], a, b, flag)
		flag = 0
	}
}

// begin is called before a normalised rune of class cls (flag: whether a
// separator run was removed before it) is appended: it decides the
// candidates waiting for it, and starts a trie walk at a word start.
func (s *scanner) begin(cls uint8, flag uint8) {
	if len(s.deferred) > 0 {
		s.resolveDeferred(cls, flag)
	}
	sw := spacedWord(cls)
	if sw && s.m.trie != nil && (!s.lastSW || flag&flSepBefore != 0) {
		s.walks = append(s.walks, walk{start: s.nEnd})
	}
	s.lastSW = sw
	s.lastWord = cls&clsWord != 0
}

// resolveDeferred decides the candidates waiting for the rune of class cls
// (with flag) that is about to follow them.
func (s *scanner) resolveDeferred(cls uint8, flag uint8) {
	if len(s.deferred) == 0 {
		return
	}
	ok := flag&flSepBefore != 0 || !spacedWord(cls)
	d := s.deferred
	s.deferred = s.deferred[:0]
	if !ok {
		return
	}
	for _, c := range d {
		s.confirm(c)
		if s.stopped {
			return
		}
	}
}

// outputs checks every pattern that ends at state st.
func (s *scanner) outputs(st int32) {
	ac := s.m.ac
	for n := st; n >= 0 && !s.stopped; n = ac.nodes[n].dict {
		nd := &ac.nodes[n]
		for _, id := range ac.outs[nd.outStart:nd.outEnd] {
			s.candidate(id)
			if s.stopped {
				return
			}
		}
	}
}

// candidate checks a pattern that ends at the current position.
func (s *scanner) candidate(id int32) {
	p := &s.m.pats[id]
	end := s.nEnd
	start := end - len(p.norm)
	if p.left && start > 0 {
		k := start - s.nbase
		if s.info[k].fl&flSepBefore == 0 {
			var prev bool
			if k == 0 {
				prev = s.prevSW
			} else {
				r, _ := utf8.DecodeLastRune(s.nb[:k])
				prev = runeSpacedWord(r)
			}
			if prev {
				return
			}
		}
	}
	c := candidate{start: start, end: end, id: id}
	if p.right {
		s.deferred = append(s.deferred, c)
		return
	}
	s.confirm(c)
}

func runeSpacedWord(r rune) bool {
	if r == utf8.RuneError {
		return false
	}
	return spacedWord(classOf(r))
}

// confirm records a match.
func (s *scanner) confirm(c candidate) {
	ks, ke := c.start-s.nbase, c.end-s.nbase
	switch s.mode {
	case modeFind:
		s.addMatch(s.match(ks, ke, c.id))
	case modeMask:
		if len(s.matches) == 0 {
			s.matches = append(s.matches, s.match(ks, ke, c.id))
		}
		for k := ks; k < ke; k++ {
			s.info[k].fl |= flMasked
		}
	case modeStop:
		s.matches = append(s.matches, s.match(ks, ke, c.id))
		s.stopped = true
		s.stopAt = int(s.info[ks].a)
	}
}

// addMatch records a match in modeFind. It doubles the list when it is
// full: append grows a long slice by a quarter, which copies (and clears)
// a long list of matches several times over.
func (s *scanner) addMatch(m Match) {
	if len(s.matches) == cap(s.matches) {
		s.matches = slices.Grow(s.matches, len(s.matches)+1)
	}
	s.matches = append(s.matches, m)
}

func (s *scanner) match(ks, ke int, id int32) Match {
	return Match{Start: int(s.info[ks].a), End: int(s.info[ke-1].b), Entry: s.m.pats[id].entry}
}

// safePoint is the original offset before which nothing can change any
// more: text the normaliser still holds and text that may yet be part of
// a match (the automaton state's depth) lie after it.
func (s *scanner) safePoint() int {
	c := s.inPos
	if s.eof {
		return c
	}
	if len(s.held) > 0 && s.held[0].a < c {
		c = s.held[0].a
	}
	if s.m.ac != nil && s.state != 0 {
		c = s.before(c, s.nEnd-int(s.m.ac.nodes[s.state].depth))
	}
	for _, w := range s.walks {
		c = s.before(c, w.start)
	}
	for _, d := range s.deferred {
		c = s.before(c, d.start)
	}
	return c
}

// before returns the smaller of c and the original offset of the
// normalised byte at absolute offset n.
func (s *scanner) before(c, n int) int {
	if k := n - s.nbase; k < len(s.info) && int(s.info[k].a) < c {
		return int(s.info[k].a)
	}
	return c
}

// release emits (in modeMask) the original text that is final and drops
// the buffers in front of it.
func (s *scanner) release() {
	if s.keepAll {
		return
	}
	c := s.safePoint()
	if s.stopped {
		c = s.stopAt
	}
	s.releaseTo(c)
}

// releaseTo emits (in modeMask) the original text before c and drops the
// buffers in front of it; c must be final.
func (s *scanner) releaseTo(c int) {
	k := 0
	if s.mode == modeMask {
		k = s.emitMasked(c)
	} else {
		// Nothing to show per segment: find the cut by bisection.
		k = sort.Search(len(s.info), func(i int) bool { return int(s.info[i].a) >= c })
		if s.mode == modeStop && c > s.outPos {
			s.out.WriteString(s.orig[s.outPos-s.base : c-s.base])
		}
		s.outPos = max(s.outPos, c)
	}
	if k > 0 {
		r, _ := utf8.DecodeLastRune(s.nb[:k])
		s.prevSW = runeSpacedWord(r)
		n := copy(s.nb, s.nb[k:])
		s.nb = s.nb[:n]
		copy(s.info, s.info[k:])
		s.info = s.info[:n]
		s.nbase += k
	}
	if c > s.base {
		s.orig = s.orig[c-s.base:]
		s.base = c
	}
}

// emitMasked writes the original text before c, each segment that
// produced a masked byte replaced by the mask, and returns how many
// normalised bytes that consumed.
func (s *scanner) emitMasked(c int) int {
	k := 0
	for k < len(s.info) && int(s.info[k].a) < c {
		a, b := int(s.info[k].a), int(s.info[k].b)
		masked := false
		for k < len(s.info) && int(s.info[k].a) == a {
			masked = masked || s.info[k].fl&flMasked != 0
			k++
		}
		s.out.WriteString(s.orig[s.outPos-s.base : a-s.base])
		if masked {
			s.out.WriteString(maskRune)
		} else {
			s.out.WriteString(s.orig[a-s.base : b-s.base])
		}
		s.outPos = b
	}
	if c > s.outPos {
		s.out.WriteString(s.orig[s.outPos-s.base : c-s.base])
		s.outPos = c
	}
	return k
}

// take returns and resets the released output.
func (s *scanner) take() string {
	out := s.out.String()
	s.out.Reset()
	return out
}

// newMatcher returns a matcher without patterns; build adds them.
func newMatcher(cfg normConfig) *matcher {
	m := &matcher{cfg: cfg}
	for c := range m.asciiFold {
		m.asciiFold[c] = byte(c)
		if cfg.fold && 'A' <= c && c <= 'Z' {
			m.asciiFold[c] += 'a' - 'A'
		}
	}
	for r := rune(0x410); r <= 0x44F; r++ {
		var enc [2]byte
		utf8.EncodeRune(enc[:], r)
		b0, b1 := m.foldCyrillic(enc[0], enc[1])
		m.cyrFold[int(enc[0]&1)<<6|int(enc[1]&0x3F)] = uint16(b0)<<8 | uint16(b1)
	}
	return m
}
