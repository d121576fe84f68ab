package filters

import (
	"unicode"
	"unicode/utf8"
)

// Rune classes used by normalisation and word-boundary decisions.
const (
	clsWord      uint8 = 1 << iota // letter, number or mark
	clsNoSpace                     // a script written without spaces between words
	clsSep                         // space, punctuation or symbol (removable between letters)
	clsInvisible                   // zero-width, bidi control, soft hyphen, variation selector
)

// asciiClass is the class of every ASCII byte, so the common case costs
// one table load.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		t[c] = classOfSlow(rune(c))
	}
	return t
}()

// noSpaceScripts are matched anywhere: their words are not separated by
// spaces, so a word boundary means nothing inside them.
var noSpaceScripts = []*unicode.RangeTable{
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Bopomofo,
	unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar,
}

func classOf(r rune) uint8 {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	if r >= 0x4E00 && r <= 0x9FFF { // CJK unified ideographs, by far the most common non-Latin case
		return clsWord | clsNoSpace
	}
	return classOfSlow(r)
}

func classOfSlow(r rune) uint8 {
	switch {
	case isInvisible(r):
		return clsInvisible
	case unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
		if r == 0x30FC || unicode.IsOneOf(noSpaceScripts, r) { // 0x30FC: katakana-hiragana prolonged sound mark (script Common)
			return clsWord | clsNoSpace
		}
		return clsWord
	case unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r):
		return clsSep
	}
	return 0
}

// isInvisible reports characters that render as nothing (or only steer
// layout) and so can be slipped inside a word to defeat a plain match.
func isInvisible(r rune) bool {
	switch {
	case r == 0x00AD, // soft hyphen
		r == 0x034F,                  // combining grapheme joiner
		r == 0x061C,                  // arabic letter mark
		r == 0x180E,                  // mongolian vowel separator
		r >= 0x200B && r <= 0x200F,   // ZWSP, ZWNJ, ZWJ, LRM, RLM
		r >= 0x202A && r <= 0x202E,   // LRE, RLE, PDF, LRO, RLO
		r >= 0x2060 && r <= 0x2064,   // word joiner, invisible operators
		r >= 0x2066 && r <= 0x2069,   // LRI, RLI, FSI, PDI
		r == 0xFEFF,                  // BOM / zero-width no-break space
		r >= 0xFE00 && r <= 0xFE0F,   // variation selectors
		r >= 0xE0000 && r <= 0xE007F, // tag characters
		r >= 0xE0100 && r <= 0xE01EF: // variation selectors supplement
		return true
	}
	return false
}

// fold maps r to its case-folded form: simple (one-rune) folding, so that
// offsets stay per character; ToUpper then ToLower also unifies forms such
// as final sigma and dotless i that lower-casing alone keeps apart.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if r >= 0x3000 && r < 0xA640 { // CJK, kana, Hangul syllables start later but nothing here has case
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
}

// spacedWord reports a word character of a script that separates words
// with spaces: only between two of these is there no word boundary.
func spacedWord(cls uint8) bool { return cls&(clsWord|clsNoSpace) == clsWord }
