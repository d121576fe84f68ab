package filters

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/parley-bot/parley/bot"
)

var _ bot.WordFilter = (*Filter)(nil)

// Actions on a match in the model's output.
const (
	ActionMask = "mask" // each matched character becomes ＊
	ActionStop = "stop" // the reply ends before the match, followed by OutputNotice
)

// Default notices.
const (
	DefaultInputNotice  = "Sorry, I can't respond to that message: it contains a word or phrase that is blocked here."
	DefaultOutputNotice = "[reply stopped: it contained blocked content]"
)

// ChannelRules adjusts the list for one channel.
type ChannelRules struct {
	Add    []string // extra entries
	Remove []string // entries (compared after normalisation) that do not apply here
}

// Options configures a Filter. Start from DefaultOptions: the zero value
// of the boolean fields turns the corresponding normalisation off.
type Options struct {
	Words []string // inline entries
	Files []string // list files: one entry per line, '#' starts a comment, UTF-8 (a BOM is tolerated)
	// Channels maps "platform/workspace/channel" to that channel's rules.
	Channels map[string]ChannelRules

	NormalizeWidth  bool // Unicode NFKC: full-width and compatibility forms become their plain equivalents
	CaseFold        bool // case-insensitive matching
	StripInvisible  bool // ignore zero-width, bidi-control and soft-hyphen characters
	StripSeparators bool // ignore runs of up to 3 spaces/punctuation/symbols between letters ("b.a.d", "b a d")

	Action       string // ActionMask (default) or ActionStop
	InputNotice  string // answer to a refused message; DefaultInputNotice if empty
	OutputNotice string // shown after a stopped reply; DefaultOutputNotice if empty

	LogText bool         // log the filtered text and matched entries (off: only the channel and a count)
	Logger  *slog.Logger // nil: slog.Default()
	// OnHit is called once per refused message ("input") and once per reply
	// in which a match was found ("output"); it may be nil.
	OnHit func(direction string)
}

// DefaultOptions returns the recommended settings: width, case and
// invisible-character normalisation on, separator removal off (it trades
// some false positives, e.g. "a s s", for catching "b.a.d").
func DefaultOptions() Options {
	return Options{NormalizeWidth: true, CaseFold: true, StripInvisible: true, Action: ActionMask}
}

// Match is one occurrence of an entry.
type Match struct {
	Start, End int    // byte offsets of the matched characters in the original text
	Entry      string // the entry as written in the list
}

// Filter is a word filter on input and streamed output; create it with
// New. It is safe for concurrent use; Reload swaps the lists atomically under running streams
// (a stream keeps the lists it started with).
type Filter struct {
	cur    atomic.Pointer[lists]
	reload sync.Mutex // serialises Reload and Watch's checks
}

// lists is one immutable generation of compiled lists.
type lists struct {
	opts    Options
	global  *matcher
	entries []entrySpec // global entries, in order
	files   map[string]fileStamp
	log     *slog.Logger

	mu       sync.Mutex
	channels map[string]*matcher // lazily built per-channel matchers
}

type entrySpec struct {
	raw   string
	where string // "file:line" or "words[i]", for error messages
	key   string // normalised form with star markers, for removal and de-duplication
	pat   pattern
}

type fileStamp struct {
	size int64
	mod  int64
	sum  [32]byte
}

// New compiles the lists in opts.
func New(opts Options) (*Filter, error) {
	l, err := compile(opts)
	if err != nil {
		return nil, err
	}
	f := &Filter{}
	f.cur.Store(l)
	return f, nil
}

// Reload compiles opts and swaps it in. On error the previous lists stay
// in force and the error says why (file and line of a bad entry).
func (f *Filter) Reload(opts Options) error {
	apply, err := f.Prepare(opts)
	if err != nil {
		return err
	}
	apply()
	return nil
}

// Prepare compiles opts without putting them in force; apply does. A
// caller reloading several parts checks all of them before changing any.
func (f *Filter) Prepare(opts Options) (apply func(), err error) {
	l, err := compile(opts)
	if err != nil {
		return nil, err
	}
	return func() {
		f.reload.Lock()
		defer f.reload.Unlock()
		f.cur.Store(l)
	}, nil
}

func compile(opts Options) (*lists, error) {
	if opts.Action == "" {
		opts.Action = ActionMask
	}
	if opts.Action != ActionMask && opts.Action != ActionStop {
		return nil, fmt.Errorf("word filter: action %q: want %q or %q", opts.Action, ActionMask, ActionStop)
	}
	if opts.InputNotice == "" {
		opts.InputNotice = DefaultInputNotice
	}
	if opts.OutputNotice == "" {
		opts.OutputNotice = DefaultOutputNotice
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := normConfig{width: opts.NormalizeWidth, fold: opts.CaseFold, invisible: opts.StripInvisible, separators: opts.StripSeparators}
	l := &lists{opts: opts, log: log, files: map[string]fileStamp{}, channels: map[string]*matcher{}}

	var raw []entrySpec
	for i, w := range opts.Words {
		raw = append(raw, entrySpec{raw: w, where: fmt.Sprintf("words[%d]", i)})
	}
	for _, path := range opts.Files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("word filter: read list %s: %w", path, err)
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("word filter: stat list %s: %w", path, err)
		}
		l.files[path] = fileStamp{size: st.Size(), mod: st.ModTime().UnixNano(), sum: sha256.Sum256(data)}
		es, err := parseList(path, data)
		if err != nil {
			return nil, err
		}
		raw = append(raw, es...)
	}
	entries, err := prepare(cfg, raw)
	if err != nil {
		return nil, err
	}
	l.entries = entries
	l.global = build(cfg, entries)
	for key, rules := range opts.Channels {
		// Validate channel rules now so a bad one fails the (re)load
		// instead of the first message in that channel.
		var add []entrySpec
		for i, w := range rules.Add {
			add = append(add, entrySpec{raw: w, where: fmt.Sprintf("channels[%q].add[%d]", key, i)})
		}
		if _, err := prepare(cfg, add); err != nil {
			return nil, err
		}
		var rm []entrySpec
		for i, w := range rules.Remove {
			rm = append(rm, entrySpec{raw: w, where: fmt.Sprintf("channels[%q].remove[%d]", key, i)})
		}
		if _, err := prepare(cfg, rm); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// parseList reads a list file: one entry per line, blank lines and lines
// starting with '#' ignored, surrounding spaces trimmed.
func parseList(path string, data []byte) ([]entrySpec, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		// Find the line for a useful message.
		for i, line := range bytes.Split(data, []byte("\n")) {
			if !utf8.Valid(line) {
				return nil, fmt.Errorf("word filter: %s:%d: not valid UTF-8", path, i+1)
			}
		}
	}
	var out []entrySpec
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, entrySpec{raw: line, where: fmt.Sprintf("%s:%d", path, n)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("word filter: read list %s: %w", path, err)
	}
	return out, nil
}

// prepare normalises entries, rejecting unusable ones and dropping
// duplicates (the first spelling is kept).
func prepare(cfg normConfig, in []entrySpec) ([]entrySpec, error) {
	m := newMatcher(cfg)
	seen := make(map[string]bool, len(in))
	out := make([]entrySpec, 0, len(in))
	var errs []error
	for _, e := range in {
		p, err := compileEntry(m, e.raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("word filter: %s: entry %q: %w", e.where, e.raw, err))
			continue
		}
		e.pat = p
		e.key = fmt.Sprintf("%t%t%s", p.left, p.right, p.norm)
		if seen[e.key] {
			continue
		}
		seen[e.key] = true
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// compileEntry normalises one entry with the text's normalisation and
// works out its word-boundary needs.
func compileEntry(m *matcher, raw string) (pattern, error) {
	p := pattern{entry: raw}
	s := strings.TrimSpace(raw)
	if !utf8.ValidString(s) {
		return p, errors.New("not valid UTF-8")
	}
	starL, starR := strings.HasPrefix(s, "*"), strings.HasSuffix(s, "*")
	s = strings.TrimPrefix(s, "*")
	s = strings.TrimSuffix(s, "*")
	sc := newScanner(m, modeFind)
	sc.keepAll = true
	sc.write(s, true)
	p.norm = string(sc.nb)
	if p.norm == "" {
		return p, errors.New("empty after normalisation")
	}
	first, _ := utf8.DecodeRuneInString(p.norm)
	last, _ := utf8.DecodeLastRuneInString(p.norm)
	p.left = !starL && runeSpacedWord(first)
	p.right = !starR && runeSpacedWord(last)
	return p, nil
}

// build compiles entries: those that need a word boundary before them go
// into a trie walked only from word starts (most of a Latin list, and far
// cheaper than tracking them at every byte); the rest into an Aho-Corasick
// automaton run over every byte.
func build(cfg normConfig, entries []entrySpec) *matcher {
	m := newMatcher(cfg)
	m.pats = make([]pattern, len(entries))
	var acStrs, trStrs []string
	var acIDs, trIDs []int32
	for i, e := range entries {
		m.pats[i] = e.pat
		if e.pat.left {
			trStrs, trIDs = append(trStrs, e.pat.norm), append(trIDs, int32(i))
		} else {
			acStrs, acIDs = append(acStrs, e.pat.norm), append(acIDs, int32(i))
		}
	}
	if len(acStrs) > 0 {
		m.ac = buildAutomaton(acStrs, acIDs, false)
	}
	if len(trStrs) > 0 {
		m.trie = buildAutomaton(trStrs, trIDs, true)
		m.trieRight = make([]uint64, (len(m.trie.nodes)+63)/64)
		for n, nd := range m.trie.nodes {
			right := nd.outEnd > nd.outStart
			for _, id := range m.trie.outs[nd.outStart:nd.outEnd] {
				right = right && m.pats[id].right
			}
			if right {
				m.trieRight[n>>6] |= 1 << (n & 63)
			}
		}
	}
	m.initPrefilter(acStrs, trStrs, trIDs)
	return m
}

// matcherFor returns the matcher for a channel, building and caching it
// on first use when the channel has rules of its own.
func (l *lists) matcherFor(ch bot.ChannelKey) *matcher {
	if len(l.opts.Channels) == 0 {
		return l.global
	}
	key := channelKey(ch)
	rules, ok := l.opts.Channels[key]
	if !ok {
		return l.global
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.channels[key]; m != nil {
		return m
	}
	cfg := l.global.cfg
	var add []entrySpec
	for _, w := range rules.Add {
		add = append(add, entrySpec{raw: w})
	}
	var rm []entrySpec
	for _, w := range rules.Remove {
		rm = append(rm, entrySpec{raw: w})
	}
	// Validated in compile, so errors cannot occur here.
	addP, _ := prepare(cfg, add)
	rmP, _ := prepare(cfg, rm)
	removed := make(map[string]bool, len(rmP))
	for _, e := range rmP {
		removed[e.key] = true
		removed["norm:"+e.pat.norm] = true
	}
	var all []entrySpec
	seen := map[string]bool{}
	for _, e := range append(append([]entrySpec(nil), l.entries...), addP...) {
		if removed[e.key] || removed["norm:"+e.pat.norm] || seen[e.key] {
			continue
		}
		seen[e.key] = true
		all = append(all, e)
	}
	m := build(cfg, all)
	l.channels[key] = m
	return m
}

func channelKey(ch bot.ChannelKey) string {
	return string(ch.Platform) + "/" + ch.Workspace + "/" + ch.Channel
}

// Find returns every occurrence of every entry in text, overlapping ones
// included, ordered by Start, End and Entry.
func (f *Filter) Find(ch bot.ChannelKey, text string) []Match {
	return find(f.cur.Load().matcherFor(ch), text)
}

func find(m *matcher, text string) []Match {
	sc := newScanner(m, modeFind)
	sc.write(text, true)
	ms := sc.matches
	sort.Slice(ms, func(i, j int) bool {
		a, b := ms[i], ms[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Entry < b.Entry
	})
	return ms
}

// Mask returns text with every character that a match consumed replaced by
// one ＊ (a character is an NFKC segment: a full-width letter, or a letter
// with its combining marks). Characters that normalisation dropped inside
// a match (zero-width characters, removed separators) are kept, so
// "b.a.d" becomes "＊.＊.＊".
func (f *Filter) Mask(ch bot.ChannelKey, text string) string {
	sc := newScanner(f.cur.Load().matcherFor(ch), modeMask)
	sc.write(text, true)
	return sc.take()
}

// CheckInput implements bot.WordFilter: a message with any match is
// refused with the input notice, which does not echo the entry.
func (f *Filter) CheckInput(ch bot.ChannelKey, text string) (bool, string) {
	l := f.cur.Load()
	sc := newScanner(l.matcherFor(ch), modeStop)
	sc.write(text, true)
	if len(sc.matches) == 0 {
		return true, ""
	}
	l.hit("input", ch, text, sc.matches)
	return false, l.opts.InputNotice
}

func (l *lists) hit(direction string, ch bot.ChannelKey, text string, ms []Match) {
	if l.opts.OnHit != nil {
		l.opts.OnHit(direction)
	}
	attrs := []any{"direction", direction, "channel", channelKey(ch)}
	if l.opts.LogText {
		entries := make([]string, len(ms))
		for i, m := range ms {
			entries[i] = m.Entry
		}
		attrs = append(attrs, "entries", entries)
		if text != "" {
			attrs = append(attrs, "text", text)
		}
	}
	l.log.Info("word filter matched", attrs...)
}

// NewOutput implements bot.WordFilter.
func (f *Filter) NewOutput(ch bot.ChannelKey) bot.OutputFilter {
	l := f.cur.Load()
	mode := modeMask
	if l.opts.Action == ActionStop {
		mode = modeStop
	}
	return &outputFilter{l: l, ch: ch, sc: newScanner(l.matcherFor(ch), mode)}
}

// outputFilter filters one streamed reply. It is not safe for concurrent
// use (one reply streams from one goroutine).
type outputFilter struct {
	l        *lists
	ch       bot.ChannelKey
	sc       *scanner
	reported bool
	done     bool
}

// Write implements bot.OutputFilter. It holds back only text that may
// still turn out to be part of a match (at most the longest entry, in
// normalised terms) or whose normalisation depends on what follows.
func (o *outputFilter) Write(delta string) (string, bool, string) {
	if o.done {
		return "", true, ""
	}
	o.sc.write(delta, false)
	return o.result()
}

// Flush implements bot.OutputFilter.
func (o *outputFilter) Flush() string {
	if o.done {
		return ""
	}
	o.sc.write("", true)
	visible, _, _ := o.result()
	o.done = true
	return visible
}

func (o *outputFilter) result() (string, bool, string) {
	visible := o.sc.take()
	if len(o.sc.matches) > 0 && !o.reported {
		o.reported = true
		o.l.hit("output", o.ch, "", o.sc.matches[:1])
	}
	if o.sc.stopped {
		o.done = true
		return visible, true, o.l.opts.OutputNotice
	}
	return visible, false, ""
}
