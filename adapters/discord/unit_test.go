package discord

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

func wsFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

func closePayload(code int, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

func TestFrameScannerFindsCloseCode(t *testing.T) {
	var stream bytes.Buffer
	stream.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	stream.Write(wsFrame(0x1, []byte(`{"op":10,"d":{"heartbeat_interval":41250}}`)))
	stream.Write(wsFrame(0x1, bytes.Repeat([]byte("x"), 300)))    // 16-bit length
	stream.Write(wsFrame(0x2, bytes.Repeat([]byte{0x88}, 70000))) // 64-bit length, close-like bytes inside
	stream.Write(wsFrame(0x9, nil))                               // ping
	stream.Write(wsFrame(0x8, closePayload(4014, "Disallowed intent(s).")))
	data := stream.Bytes()
	// Whatever the read sizes, the same close frame is found.
	for _, chunk := range []int{1, 2, 7, 64, 4096, len(data)} {
		var s frameScanner
		var code int
		var reason string
		found := 0
		for off := 0; off < len(data); off += chunk {
			if c, r, ok := s.feed(data[off:min(off+chunk, len(data))]); ok {
				code, reason = c, r
				found++
			}
		}
		if found != 1 || code != 4014 || reason != "Disallowed intent(s)." {
			t.Errorf("chunk %d: found %d, code %d reason %q", chunk, found, code, reason)
		}
	}
	var s frameScanner
	if c, _, ok := s.feed(append([]byte("HTTP/1.1 101 OK\r\n\r\n"), wsFrame(0x8, nil)...)); !ok || c != 1005 {
		t.Errorf("empty close = %d, %v; want 1005", c, ok)
	}
}

func FuzzFrameScanner(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 OK\r\n\r\n\x88\x02\x0f\xae"), 3)
	f.Add([]byte("HTTP/1.1 101 OK\r\n\r\n\x81\x7e\x00\x05hello\x88\x00"), 1)
	f.Add([]byte("\r\n\r\n\x88\xff\x00\x00\x00\x00\x00\x00\x00\x01"), 5)
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk <= 0 || chunk > len(data)+1 {
			chunk = len(data) + 1
		}
		var whole, parts frameScanner
		c1, r1, ok1 := whole.feed(data)
		var c2 int
		var r2 string
		var ok2 bool
		for off := 0; off < len(data) && !ok2; off += chunk {
			c2, r2, ok2 = parts.feed(data[off:min(off+chunk, len(data))])
		}
		if ok1 != ok2 || c1 != c2 || r1 != r2 {
			t.Fatalf("whole (%d %q %v) != chunked (%d %q %v)", c1, r1, ok1, c2, r2, ok2)
		}
		if len(r1) > 123 {
			t.Fatalf("reason of %d bytes", len(r1))
		}
	})
}

func TestFatalCloseCodes(t *testing.T) {
	for code, want := range map[int]bool{1000: false, 1006: false, 4000: false, 4004: true, 4009: false, 4010: true, 4013: true, 4014: true, 4015: false} {
		if fatalCloseCode(code) != want {
			t.Errorf("fatalCloseCode(%d) = %v", code, !want)
		}
	}
	e := (&FatalCloseError{Code: 4004}).Error()
	if !strings.Contains(e, "authentication failed") || !strings.Contains(e, "discord.token") {
		t.Errorf("4004 error = %q", e)
	}
}

// The API URL sends every endpoint discordgo addresses to Discord to the
// configured base, and leaves discordgo's package-level endpoints alone.
func TestAPIRewrite(t *testing.T) {
	before := discordgo.EndpointAPI
	for _, c := range []struct{ in, root, api string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/v9/"},
		{"https://proxy.internal/discord/", "https://proxy.internal/discord/", "https://proxy.internal/discord/api/v9/"},
		{"https://proxy.internal/api/v10", "https://proxy.internal/", "https://proxy.internal/api/v10/"},
		{"https://proxy.internal/x/api", "https://proxy.internal/x/", "https://proxy.internal/x/api/v9/"},
	} {
		r, err := newAPIRewrite(c.in)
		if err != nil {
			t.Fatalf("newAPIRewrite(%q): %v", c.in, err)
		}
		if r.toRoot.String() != c.root || r.toAPI.String() != c.api {
			t.Errorf("newAPIRewrite(%q): root %q api %q, want %q %q", c.in, r.toRoot, r.toAPI, c.root, c.api)
		}
		for name, ep := range map[string]string{
			"channel message": discordgo.EndpointChannelMessage("1", "2"),
			"thread":          discordgo.EndpointChannelMessageThread("1", "2"),
			"typing":          discordgo.EndpointChannelTyping("1"),
			"gateway bot":     discordgo.EndpointGatewayBot,
			"user":            discordgo.EndpointUser("@me"),
			"guild roles":     discordgo.EndpointGuildRoles("1"),
			"commands":        discordgo.EndpointApplicationGuildCommands("1", "2"),
			"global commands": discordgo.EndpointApplicationGlobalCommands("1"),
			"interaction":     discordgo.EndpointInteractionResponse("1", "t"),
			"webhook message": discordgo.EndpointInteractionResponseActions("1", "t") + "?wait=true",
		} {
			req, err := http.NewRequest(http.MethodGet, ep, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := r.apply(req).URL.String()
			if want := c.api + strings.TrimPrefix(ep, discordgo.EndpointAPI); got != want {
				t.Errorf("%q: %s endpoint goes to %q, want %q", c.in, name, got, want)
			}
		}
		other, _ := http.NewRequest(http.MethodGet, "https://cdn.example.com/x.png", nil)
		if got := r.apply(other); got != other {
			t.Errorf("%q: a request not for Discord was rewritten to %s", c.in, got.URL)
		}
	}
	if discordgo.EndpointAPI != before {
		t.Errorf("discordgo.EndpointAPI changed to %q", discordgo.EndpointAPI)
	}
	for _, bad := range []string{"", "not a url", "ftp://x", "http://", "http://[::1:SECRET@x"} {
		if _, err := newAPIRewrite(bad); err == nil {
			t.Errorf("newAPIRewrite(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("newAPIRewrite(%q): error shows the URL: %v", bad, err)
		}
	}
}

func TestToDiscordMarkdown(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "hello | world", "hello | world"},
		{"headings", "# One\n### Three\n#### Four\n###### Six ##\n####### seven", "# One\n### Three\n**Four**\n**Six**\n####### seven"},
		{"table", "Prices:\n\n| Item | Cost |\n|:-----|-----:|\n| tea | 2 |\n| coffee | 3.50 |\n\nDone.",
			"Prices:\n\n```\nItem   | Cost\n-------+-----\ntea    | 2\ncoffee | 3.50\n```\n\nDone."},
		{"table without outer pipes", "a | b\n--- | ---\n1 | 2", "```\na | b\n--+--\n1 | 2\n```"},
		{"escaped pipe and backticks", "| k | v |\n|---|---|\n| `a\\|b` | x |", "```\nk     | v\n------+--\n'a|b' | x\n```"},
		{"partial table stays", "| a | b |\n", "| a | b |\n"},
		{"in code", "```md\n| a | b |\n|---|---|\n#### h\n```", "```md\n| a | b |\n|---|---|\n#### h\n```"},
		{"column mismatch", "| a | b |\n|---|\n| 1 | 2 |", "| a | b |\n|---|\n| 1 | 2 |"},
		{"wide runes", "|名前 | x |\n|---|---|\n| é | y |", "```\n名前 | x\n---+--\né  | y\n```"},
	} {
		if got := ToDiscordMarkdown(c.in); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func fenceCount(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if fenceMarker(l) != "" {
			n++
		}
	}
	return n
}

func FuzzToDiscordMarkdown(f *testing.F) {
	for _, s := range []string{
		"| a | b |\n|---|---|\n| 1 | 2 |",
		"#### x\n```\n| a |\n|---|\n```\n| c |\n| - |",
		"~~~\n####### \n~~~~\n| |\n|-|",
		"|\n|-|\n|",
		"a|b\n-|-\n`|`",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := ToDiscordMarkdown(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of valid input")
		}
		if again := ToDiscordMarkdown(out); again != out {
			t.Fatalf("not a fixed point:\n in %q\nout %q\nagain %q", in, out, again)
		}
		if fenceCount(in)%2 == 0 && fenceCount(out)%2 != 0 {
			t.Fatalf("balanced fences became unbalanced: %q -> %q", in, out)
		}
	})
}

func TestThreadName(t *testing.T) {
	if got := threadName("  "); got != "Parley" {
		t.Errorf("empty = %q", got)
	}
	if got := threadName("what is\nthe answer"); got != "what is" {
		t.Errorf("first line = %q", got)
	}
	long := threadName(strings.Repeat("é", 200))
	if n := utf8.RuneCountInString(long); n != 90 || !strings.HasSuffix(long, "…") {
		t.Errorf("long = %d runes %q", n, long)
	}
}

func TestRenderKeepsLimit(t *testing.T) {
	a := &Adapter{opts: Options{MaxMessageChars: 40}}
	table := "| a | b |\n|---|---|\n| 1 | 2 |"
	if got := a.render(table); !strings.HasPrefix(got, "```") {
		t.Errorf("short table not converted: %q", got)
	}
	wide := "| aaaaaaaaaa | b |\n|---|---|\n| 1 | 2 |"
	if got := a.render(wide); got != wide {
		t.Errorf("conversion past the limit should send the raw text, got %q", got)
	}
	if got := a.render(" \n"); got == "" || strings.TrimSpace(got) == "" {
		t.Errorf("empty text rendered as %q", got)
	}
}

func TestInvite(t *testing.T) {
	if BotPermissions != 309237713920 {
		t.Errorf("BotPermissions = %d; update README.md", int64(BotPermissions))
	}
	want := "https://discord.com/oauth2/authorize?client_id=123&permissions=309237713920&scope=bot+applications.commands"
	if got := InviteURL("123"); got != want {
		t.Errorf("InviteURL = %q, want %q", got, want)
	}
}
