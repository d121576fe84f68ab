package discord

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/parley-bot/parley/adapters/discord/discordfake"
	"github.com/parley-bot/parley/bot"
)

// Sixty requests at once — twenty mentions' thread, typing and placeholder
// each — stay under Discord's global 50 requests/s.
func TestGlobalLimiterPreventsGlobal429(t *testing.T) {
	f := newFake(t, discordfake.Options{})
	h := start(t, f, testOptions(f), newRecorder())
	before := f.Stats().Requests

	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: chanID}
			var err error
			switch i % 3 {
			case 0:
				err = h.ad.Typing(context.Background(), key)
			case 1:
				_, err = h.ad.Post(context.Background(), key, "placeholder")
			default:
				_, err = h.ad.s.Channel(chanID)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("request failed: %v", err)
		}
	}
	st := f.Stats()
	if got := st.Requests - before; got != 60 {
		t.Errorf("fake served %d requests, want 60", got)
	}
	if rj := f.Rejected(); rj.Global != 0 {
		t.Errorf("global 429s = %d, want 0", rj.Global)
	}
	if st.PeakGlobal > 50 {
		t.Errorf("peak requests in one second = %d, over 50", st.PeakGlobal)
	}
	if n := h.ad.RateLimitRejections(); n != 0 {
		t.Errorf("adapter saw %d 429s", n)
	}
}

// Edits beyond the channel's bucket are refused locally with a
// RateLimitedError: the fake never has to answer 429.
func TestEditBucketRefusedLocally(t *testing.T) {
	f := newFake(t, discordfake.Options{EditLimit: 5, EditWindow: 2 * time.Second})
	h := start(t, f, testOptions(f), newRecorder())
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: chanID}
	id, err := h.ad.Post(context.Background(), key, "start")
	if err != nil {
		t.Fatal(err)
	}
	// Learn the bucket with one edit, then hammer it.
	if err := h.ad.Edit(context.Background(), key, id, "v0"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, limited := 0, 0
	for i := range 12 {
		wg.Go(func() {
			err := h.ad.Edit(context.Background(), key, id, "v"+string(rune('a'+i)))
			mu.Lock()
			defer mu.Unlock()
			if rl, isRL := bot.AsRateLimited(err); isRL {
				if rl.RetryAfter <= 0 || rl.RetryAfter > 2*time.Second {
					t.Errorf("RetryAfter = %v", rl.RetryAfter)
				}
				limited++
				return
			}
			if err != nil {
				t.Errorf("edit: %v", err)
				return
			}
			ok++
		})
	}
	wg.Wait()
	if ok != 4 || limited != 8 {
		t.Errorf("accepted %d refused %d, want 4 and 8 (bucket of 5, one spent)", ok, limited)
	}
	if rj := f.Rejected(); rj.Edit != 0 {
		t.Errorf("fake answered %d edit 429s, want 0", rj.Edit)
	}
}

// A 429 that does happen (the bucket spent by another process sharing the
// token) comes back as a *bot.RateLimitedError with Discord's retry_after.
func TestServer429MapsToRateLimitedError(t *testing.T) {
	f := newFake(t, discordfake.Options{EditLimit: 2, EditWindow: 3 * time.Second})
	h := start(t, f, testOptions(f), newRecorder())
	key := bot.ThreadKey{Platform: bot.PlatformDiscord, Workspace: guildID, Channel: chanID, Thread: chanID}
	id, err := h.ad.Post(context.Background(), key, "start")
	if err != nil {
		t.Fatal(err)
	}
	// Another client spends the bucket behind the adapter's back.
	for range 2 {
		req, _ := http.NewRequest(http.MethodPatch, f.URL+"/api/v9/channels/"+chanID+"/messages/"+id, strings.NewReader(`{"content":"other"}`))
		req.Header.Set("Authorization", "Bot "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	err = h.ad.Edit(context.Background(), key, id, "mine")
	rl, ok := bot.AsRateLimited(err)
	if !ok || rl.RetryAfter <= 0 || rl.RetryAfter > 3*time.Second || rl.Global {
		t.Fatalf("Edit = %v, want a per-route RateLimitedError", err)
	}
	if f.Rejected().Edit != 1 {
		t.Errorf("fake 429s = %d, want 1", f.Rejected().Edit)
	}
	// The adapter learnt the bucket: the next edit is refused without a request.
	err = h.ad.Edit(context.Background(), key, id, "mine again")
	if _, ok := bot.AsRateLimited(err); !ok || f.Rejected().Edit != 1 {
		t.Errorf("second edit = %v with %d fake 429s; want a local refusal", err, f.Rejected().Edit)
	}
	var rle *bot.RateLimitedError
	if !errors.As(err, &rle) {
		t.Fatal("not a RateLimitedError")
	}
}

func TestRouteTracker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newRouteTracker(time.Now)
		hdr := func(rem int, after string) http.Header {
			h := http.Header{}
			h.Set("X-RateLimit-Limit", "5")
			h.Set("X-RateLimit-Remaining", string(rune('0'+rem)))
			h.Set("X-RateLimit-Reset-After", after)
			return h
		}
		// Unknown bucket: requests go.
		rel, wait := rt.reserve("edit:1")
		if rel == nil || wait != 0 {
			t.Fatal("first reserve refused")
		}
		rt.observe("edit:1", hdr(1, "5.000"))
		rel()
		// One left: one reservation passes, the next waits for the reset.
		rel, _ = rt.reserve("edit:1")
		if rel == nil {
			t.Fatal("second reserve refused with one remaining")
		}
		if r2, wait := rt.reserve("edit:1"); r2 != nil || wait != 5*time.Second {
			t.Fatalf("third reserve = %v, %v; want refused for 5s", r2 != nil, wait)
		}
		rt.observe("edit:1", hdr(0, "4.500"))
		rel()
		time.Sleep(4 * time.Second)
		if _, wait := rt.reserve("edit:1"); wait != 500*time.Millisecond {
			t.Fatalf("wait = %v, want 500ms", wait)
		}
		time.Sleep(500 * time.Millisecond)
		// The window passed: a full bucket is assumed, five go, the sixth waits.
		for i := range 5 {
			if r, _ := rt.reserve("edit:1"); r == nil {
				t.Fatalf("reserve %d after reset refused", i)
			}
		}
		if r, _ := rt.reserve("edit:1"); r != nil {
			t.Fatal("sixth reserve after reset passed")
		}
		// A 429 closes the route for its retry_after.
		rt.exhausted("post:2", 750*time.Millisecond)
		if _, wait := rt.reserve("post:2"); wait != 750*time.Millisecond {
			t.Fatalf("after 429 wait = %v", wait)
		}
	})
}

func TestRouteOf(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/api/v9/channels/1/messages", "post:1"},
		{"PATCH", "/api/v9/channels/1/messages/2", "edit:1"},
		{"POST", "/api/v9/channels/1/typing", ""},
		{"POST", "/api/v9/channels/1/messages/2/threads", ""},
		{"GET", "/api/v9/channels/1/messages", ""},
		{"PUT", "/api/v9/applications/1/commands", ""},
	} {
		if got := routeOf(c.method, c.path); got != c.want {
			t.Errorf("routeOf(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
