package filters

import (
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file is a deliberately simple, independent reference: it
// normalises the whole text in batch passes (norm.Iter segments, a list of
// units, a separate separator pass) and finds entries with a naive
// strings.HasPrefix at every offset. The fuzz target compares the real,
// incremental scanner and automaton against it.

type refUnit struct {
	bytes []byte
	a, b  int
	cls   uint8
	sep   bool // a removed separator run precedes it
}

func refNormalize(cfg normConfig, text string) []refUnit {
	var units []refUnit
	addSeg := func(out string, a, b int) {
		for j := 0; j < len(out); {
			r, n := utf8.DecodeRuneInString(out[j:])
			if r == utf8.RuneError && n == 1 {
				units = append(units, refUnit{bytes: []byte{out[j]}, a: a, b: b})
				j++
				continue
			}
			j += n
			if cfg.fold {
				r = fold(r)
			}
			cls := classOfSlow(r)
			if cls&clsInvisible != 0 && cfg.invisible {
				continue
			}
			units = append(units, refUnit{bytes: []byte(string(r)), a: a, b: b, cls: cls})
		}
	}
	if cfg.width {
		var it norm.Iter
		it.InitString(norm.NFKC, text)
		// Next may return one segment's output in parts, without
		// advancing Pos until the last part.
		a, acc := 0, ""
		for !it.Done() {
			acc += string(it.Next())
			if it.Pos() > a {
				addSeg(acc, a, it.Pos())
				a, acc = it.Pos(), ""
			}
		}
	} else {
		for i := 0; i < len(text); {
			_, n := utf8.DecodeRuneInString(text[i:])
			addSeg(text[i:i+n], i, i+n)
			i += n
		}
	}
	if !cfg.separators {
		return units
	}
	var kept []refUnit
	for i := 0; i < len(units); {
		if units[i].cls&clsSep == 0 {
			kept = append(kept, units[i])
			i++
			continue
		}
		j := i
		for j < len(units) && units[j].cls&clsSep != 0 {
			j++
		}
		between := i > 0 && units[i-1].cls&clsWord != 0 && j < len(units) && units[j].cls&clsWord != 0
		if between && j-i <= maxSepRun {
			units[j].sep = true
		} else {
			kept = append(kept, units[i:j]...)
		}
		i = j
	}
	return kept
}

type refText struct {
	nb     []byte
	ns, ne []int
	sep    []bool
}

func refFlatten(units []refUnit) refText {
	var t refText
	for _, u := range units {
		for k, c := range u.bytes {
			t.nb = append(t.nb, c)
			t.ns = append(t.ns, u.a)
			t.ne = append(t.ne, u.b)
			t.sep = append(t.sep, k == 0 && u.sep)
		}
	}
	return t
}

type refPattern struct {
	norm        string
	entry       string
	left, right bool
}

func refPatterns(cfg normConfig, entries []string) []refPattern {
	var out []refPattern
	seen := map[refPattern]bool{}
	for _, e := range entries {
		s := strings.TrimSpace(e)
		l, r := strings.HasPrefix(s, "*"), strings.HasSuffix(s, "*")
		s = strings.TrimSuffix(strings.TrimPrefix(s, "*"), "*")
		n := string(refFlatten(refNormalize(cfg, s)).nb)
		if n == "" {
			continue
		}
		first, _ := utf8.DecodeRuneInString(n)
		last, _ := utf8.DecodeLastRuneInString(n)
		p := refPattern{norm: n, left: !l && refSpaced(first), right: !r && refSpaced(last)}
		if seen[p] {
			continue
		}
		seen[p] = true
		p.entry = e
		out = append(out, p)
	}
	return out
}

func refSpaced(r rune) bool {
	if r == utf8.RuneError {
		return false
	}
	c := classOfSlow(r)
	return c&clsWord != 0 && c&clsNoSpace == 0
}

func refFind(cfg normConfig, entries []string, text string) []Match {
	t := refFlatten(refNormalize(cfg, text))
	var out []Match
	for _, p := range refPatterns(cfg, entries) {
		for i := 0; i+len(p.norm) <= len(t.nb); i++ {
			if !strings.HasPrefix(string(t.nb[i:]), p.norm) {
				continue
			}
			e := i + len(p.norm)
			if p.left && i > 0 && !t.sep[i] {
				r, _ := utf8.DecodeLastRune(t.nb[:i])
				if refSpaced(r) {
					continue
				}
			}
			if p.right && e < len(t.nb) && !t.sep[e] {
				r, _ := utf8.DecodeRune(t.nb[e:])
				if refSpaced(r) {
					continue
				}
			}
			out = append(out, Match{Start: t.ns[i], End: t.ne[e-1], Entry: p.entry})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Entry < b.Entry
	})
	return out
}

// refMask masks whole text the reference way: every original segment that
// produced a matched normalised byte becomes one mask character.
func refMask(cfg normConfig, entries []string, text string) string {
	t := refFlatten(refNormalize(cfg, text))
	masked := map[int]bool{} // by segment start
	for _, p := range refPatterns(cfg, entries) {
		for i := 0; i+len(p.norm) <= len(t.nb); i++ {
			if !strings.HasPrefix(string(t.nb[i:]), p.norm) {
				continue
			}
			e := i + len(p.norm)
			if p.left && i > 0 && !t.sep[i] {
				if r, _ := utf8.DecodeLastRune(t.nb[:i]); refSpaced(r) {
					continue
				}
			}
			if p.right && e < len(t.nb) && !t.sep[e] {
				if r, _ := utf8.DecodeRune(t.nb[e:]); refSpaced(r) {
					continue
				}
			}
			for k := i; k < e; k++ {
				masked[t.ns[k]] = true
			}
		}
	}
	var sb strings.Builder
	pos := 0
	for k := 0; k < len(t.nb); k++ {
		a, b := t.ns[k], t.ne[k]
		if a < pos || !masked[a] {
			continue
		}
		sb.WriteString(text[pos:a])
		sb.WriteString(maskRune)
		pos = b
	}
	sb.WriteString(text[pos:])
	return sb.String()
}
