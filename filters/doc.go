// Package filters keeps listed words and phrases out of what users send to
// the model and out of what the model streams back.
//
// # Lists
//
// Entries come inline (Options.Words) and from list files (one entry per
// line, '#' comments, UTF-8 with an optional BOM); per-channel rules add
// and remove entries. Reload swaps all lists atomically; a bad entry or
// file fails the reload with its file and line, and the old lists stay.
// Watch polls the files and reloads on change.
//
// # Normalisation
//
// Text and entries are normalised the same way before matching, each step
// configurable: Unicode NFKC (full-width letters and compatibility forms
// become plain ones), simple case folding, removal of invisible characters
// (zero-width space/joiners, word joiner, BOM, bidi controls, soft hyphen,
// variation selectors), and optionally removal of short runs (up to three)
// of spaces, punctuation and symbols between two letters, so "b.a.d" and
// "b a d" read as "bad". Every normalised byte remembers the original
// character it came from, so matches report and mask exactly the original
// characters, at character (NFKC segment) granularity.
//
// # Matching
//
// The normalised text is scanned in a single pass. Entries that need a
// word boundary before them are looked up in a trie walked only from word
// starts; the rest (other scripts, '*' prefixes) run through an
// Aho-Corasick automaton at every byte, reporting overlapping matches.
// Both are built per list (and lazily per channel with its own rules).
// Plain text (ASCII, basic Cyrillic, CJK ideographs) takes a fast path:
// while no match is in progress, a prefilter passes over positions where
// no entry can start (hashes of each entry's first characters, and of
// the first word of word-bounded entries, so most words are passed whole),
// and the normalised text and its offsets are recorded only around
// matches. An
// entry that starts (ends) with a letter or digit of a
// script written with spaces (Latin, Cyrillic, Greek, ...) only matches at
// a word boundary at that end, so "ass" does not hit "class"; a '*' at
// that end lifts the rule ("*ass" does). Entries in scripts written
// without spaces (Chinese, Japanese, Thai, ...) match anywhere. A removed
// separator run counts as a word boundary.
//
// # Streaming
//
// The output filter runs the same scanner incrementally: it releases text
// as soon as nothing after it can change how it is shown, holding back at
// most the text the automaton may still extend into a match (the longest
// entry) plus a character whose normalisation depends on the next one.
// Any split of a reply into deltas gives exactly the output of filtering
// the whole reply at once.
package filters
