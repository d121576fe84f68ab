package discord

import "sync"

// serialQueues runs functions one at a time per key, each key on its own
// goroutine that exits when the key's queue drains. Events about one
// conversation (create, edit, delete) keep their gateway order while
// different conversations proceed in parallel.
type serialQueues struct {
	mu     sync.Mutex
	q      map[string][]func()
	closed bool
	wg     sync.WaitGroup
}

func newSerialQueues() *serialQueues {
	return &serialQueues{q: make(map[string][]func())}
}

// do queues fn under key. It reports false, dropping fn, once closed.
func (s *serialQueues) do(key string, fn func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if pending, busy := s.q[key]; busy {
		s.q[key] = append(pending, fn)
		s.mu.Unlock()
		return true
	}
	s.q[key] = nil
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		for {
			fn()
			s.mu.Lock()
			next := s.q[key]
			if len(next) == 0 {
				delete(s.q, key)
				s.mu.Unlock()
				return
			}
			fn = next[0]
			next[0] = nil
			s.q[key] = next[1:]
			s.mu.Unlock()
		}
	}()
	return true
}

// spawn runs fn on its own goroutine, owned like the queues'.
func (s *serialQueues) spawn(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// open accepts work again (at the start of a Run).
func (s *serialQueues) open() {
	s.mu.Lock()
	s.closed = false
	s.mu.Unlock()
}

// closeAndWait refuses new work and waits for the running work to finish.
func (s *serialQueues) closeAndWait() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}
