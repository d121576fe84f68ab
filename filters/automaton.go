package filters

import "sort"

// automaton is a byte-level Aho-Corasick automaton. It is written here
// rather than taken from a library because the streaming output filter
// needs three things the available libraries do not expose: stepping one
// byte at a time with the state carried across deltas, the depth of the
// current state (the exact amount of text that may still become a match,
// which bounds what is held back), and every overlapping match (word-
// boundary rules may reject the longest one while accepting a shorter one).
//
// Layout, tuned for scans that are bound by memory latency: nodes are
// numbered breadth-first so the shallow nodes where a scan spends most of
// its time sit together; the first nDense of them have complete
// transition rows over the patterns' byte classes (fail links already
// resolved), the rest keep sorted edge lists and fall back along fail
// links. A bitset marks nodes that complete a pattern, so the common
// no-match step touches no node.
type automaton struct {
	dense  []int32 // dense[s*stride+cls[c]] for s < nDense
	nDense int32
	stride int32 // number of byte classes
	// cls maps a byte to its column: 0 for bytes in no pattern, else
	// 1..stride-1. Patterns are valid UTF-8, which never uses 0xC0, 0xC1
	// or 0xF5..0xFF, so there are at most 244 columns and uint8 holds them.
	cls    [256]uint8
	nodes  []acNode
	hot    []uint64 // per node: edgeStart<<32 | edgeN, what a step reads, packed for the cache
	fail   []int32
	edges  []uint32 // target<<8 | label, sorted by label within a node
	outs   []int32  // pattern ids, indexed by acNode.outStart..outEnd
	hasOut []uint64 // bit s: reaching s completes a pattern (its own or via the dict chain)
	maxLen int      // longest pattern in bytes
}

// The dense part covers the first states (at least denseMinStates, as
// many as denseBudget transitions allow): about 256 KiB per automaton.
// Larger tables measured no faster: deep states are rarely visited, and
// then a big table misses the cache as surely as an edge list.
const (
	denseMinStates = 256
	denseBudget    = 1 << 16
)

type acNode struct {
	edgeStart int32
	edgeN     int32
	fail      int32
	dict      int32 // nearest node on the fail chain with outputs, or -1
	depth     int32
	outStart  int32
	outEnd    int32
}

// buildAutomaton compiles patterns (non-empty byte strings) reported as
// ids[i]. With trie set it builds a plain trie for anchored walks: dense
// rows then hold children (or -1) instead of fail-resolved transitions,
// and a node's outputs are only the patterns that end exactly there.
func buildAutomaton(patterns []string, ids []int32, trie bool) *automaton {
	type bnode struct {
		children map[byte]int32
		outs     []int32
	}
	b := []bnode{{children: map[byte]int32{}}}
	a := &automaton{}
	for id, p := range patterns {
		a.maxLen = max(a.maxLen, len(p))
		cur := int32(0)
		for i := 0; i < len(p); i++ {
			nx, ok := b[cur].children[p[i]]
			if !ok {
				nx = int32(len(b))
				b = append(b, bnode{children: map[byte]int32{}})
				b[cur].children[p[i]] = nx
			}
			cur = nx
		}
		b[cur].outs = append(b[cur].outs, ids[id])
	}

	// Renumber breadth-first, children in byte order.
	order := make([]int32, 0, len(b)) // new id -> build id
	newID := make([]int32, len(b))
	depth := make([]int32, len(b))
	order = append(order, 0)
	keys := make([]byte, 0, 256)
	for q := 0; q < len(order); q++ {
		u := order[q]
		keys = keys[:0]
		for c := range b[u].children {
			keys = append(keys, c)
		}
		sort.Slice(keys, func(x, y int) bool { return keys[x] < keys[y] })
		for _, c := range keys {
			v := b[u].children[c]
			newID[v] = int32(len(order))
			depth[v] = depth[u] + 1
			order = append(order, v)
		}
	}
	a.nodes = make([]acNode, len(b))
	for id, u := range order {
		keys = keys[:0]
		for c := range b[u].children {
			keys = append(keys, c)
		}
		sort.Slice(keys, func(x, y int) bool { return keys[x] < keys[y] })
		n := &a.nodes[id]
		n.edgeStart, n.edgeN = int32(len(a.edges)), int32(len(keys))
		n.depth, n.dict = depth[u], -1
		for _, c := range keys {
			a.edges = append(a.edges, uint32(newID[b[u].children[c]])<<8|uint32(c))
		}
		n.outStart = int32(len(a.outs))
		a.outs = append(a.outs, b[u].outs...)
		n.outEnd = int32(len(a.outs))
	}

	a.hot = make([]uint64, len(a.nodes))
	for i, n := range a.nodes {
		a.hot[i] = uint64(n.edgeStart)<<32 | uint64(n.edgeN)
	}

	// Fail links in breadth-first order: the fail target of a node is the
	// longest proper suffix of its string that is also in the trie, and
	// is always shallower, so it is final by the time it is needed.
	for u := range a.nodes {
		un := a.nodes[u]
		for e := un.edgeStart; e < un.edgeStart+un.edgeN; e++ {
			c, v := byte(a.edges[e]), int32(a.edges[e]>>8)
			f := int32(0)
			if u != 0 {
				f = a.stepSparse(un.fail, c)
			}
			a.nodes[v].fail = f
			if fn := &a.nodes[f]; fn.outEnd > fn.outStart {
				a.nodes[v].dict = f
			} else {
				a.nodes[v].dict = fn.dict
			}
		}
	}
	a.hasOut = make([]uint64, (len(a.nodes)+63)/64)
	for s := range a.nodes {
		if n := &a.nodes[s]; n.outEnd > n.outStart || (n.dict >= 0 && !trie) {
			a.hasOut[s>>6] |= 1 << (s & 63)
		}
	}
	a.fail = make([]int32, len(a.nodes))
	for i, n := range a.nodes {
		a.fail[i] = n.fail
	}
	// Bytes that occur in no pattern all behave alike, so they share
	// column 0 and a dense row is only as wide as the patterns' alphabet.
	for _, e := range a.edges {
		a.cls[byte(e)] = 1
	}
	a.stride = 1
	for c := range a.cls {
		if a.cls[c] != 0 {
			a.cls[c] = uint8(a.stride)
			a.stride++
		}
	}
	a.nDense = int32(min(len(a.nodes), max(denseMinStates, denseBudget/int(a.stride))))
	a.dense = make([]int32, int(a.nDense*a.stride))
	for s := int32(0); s < a.nDense; s++ {
		row := a.dense[s*a.stride : (s+1)*a.stride]
		switch {
		case trie:
			for c := range row {
				row[c] = -1
			}
		case s != 0:
			// Breadth-first numbering puts the fail target, which is
			// shallower, before s: its row is complete.
			f := a.fail[s]
			copy(row, a.dense[f*a.stride:(f+1)*a.stride])
		}
		n := a.nodes[s]
		for _, e := range a.edges[n.edgeStart : n.edgeStart+n.edgeN] {
			row[a.cls[byte(e)]] = int32(e >> 8)
		}
	}
	return a
}

// child returns the node reached from s by byte c, or -1.
func (a *automaton) child(s int32, c byte) int32 {
	h := a.hot[s]
	lo := uint32(h >> 32)
	edges := a.edges[lo : lo+uint32(h)]
	if len(edges) <= 8 {
		for _, e := range edges {
			if byte(e) == c {
				return int32(e >> 8)
			}
		}
		return -1
	}
	i, j := 0, len(edges)
	for i < j {
		h := int(uint(i+j) >> 1)
		if byte(edges[h]) < c {
			i = h + 1
		} else {
			j = h
		}
	}
	if i < len(edges) && byte(edges[i]) == c {
		return int32(edges[i] >> 8)
	}
	return -1
}

// stepSparse is the transition function without the dense rows (used to
// build them).
func (a *automaton) stepSparse(s int32, c byte) int32 {
	for {
		if nx := a.child(s, c); nx >= 0 {
			return nx
		}
		if s == 0 {
			return 0
		}
		s = a.nodes[s].fail
	}
}

// step is the automaton's transition function.
func (a *automaton) step(s int32, c byte) int32 {
	for s >= a.nDense {
		if nx := a.child(s, c); nx >= 0 {
			return nx
		}
		s = a.fail[s]
	}
	return a.dense[s*a.stride+int32(a.cls[c])]
}

// walk is the trie transition: the child of s by c, or -1.
func (a *automaton) walk(s int32, c byte) int32 {
	if s < a.nDense {
		return a.dense[s*a.stride+int32(a.cls[c])]
	}
	return a.child(s, c)
}

// output reports whether reaching s completes at least one pattern.
func (a *automaton) output(s int32) bool { return a.hasOut[s>>6]&(1<<(s&63)) != 0 }

// advance steps trie walks over byte c, dropping those that leave the
// trie, and reports whether one of them completed a pattern.
func (a *automaton) advance(walks []walk, c byte) ([]walk, bool) {
	hit := false
	w := walks[:0]
	col := int32(a.cls[c])
	for _, x := range walks {
		if x.node < a.nDense {
			x.node = a.dense[x.node*a.stride+col]
		} else {
			x.node = a.child(x.node, c)
		}
		if x.node >= 0 {
			w = append(w, x)
			hit = hit || a.output(x.node)
		}
	}
	return w, hit
}
