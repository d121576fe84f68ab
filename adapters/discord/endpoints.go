package discord

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/bwmarrin/discordgo"
)

var apiSuffix = regexp.MustCompile(`^/api(/v[0-9]+)?$`)

// apiRewrite sends the requests discordgo addresses to Discord (its
// endpoints are package-level variables, left untouched) to another API
// base, in the adapter's own transport: each adapter has its own base, and
// nothing process-wide changes. The gateway address then comes from that
// API's GET /gateway.
type apiRewrite struct {
	fromAPI, fromRoot string   // discordgo's own bases, e.g. "https://discord.com/api/v9/"
	toAPI, toRoot     *url.URL // where they go
}

// newAPIRewrite parses apiURL: either an API base
// ("https://proxy.internal/api/v10") or a bare root
// ("http://127.0.0.1:8080", to which "api/v<discordgo.APIVersion>/" is
// appended). The URL is not echoed in errors: it may hold credentials for
// a proxy.
func newAPIRewrite(apiURL string) (*apiRewrite, error) {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("discord api_url: not a URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("discord api_url: want an http(s) URL with a host, got scheme %q", u.Scheme)
	}
	u.RawQuery, u.Fragment = "", ""
	path := strings.TrimRight(u.Path, "/")
	base := func(p string) *url.URL { c := *u; c.Path = p; return &c }
	root, api := base(path+"/"), base(path+"/api/v"+discordgo.APIVersion+"/")
	if i := strings.LastIndex(path, "/api"); i >= 0 && apiSuffix.MatchString(path[i:]) {
		root = base(path[:i] + "/")
		if path[i:] == "/api" {
			api = base(path + "/v" + discordgo.APIVersion + "/")
		} else {
			api = base(path + "/")
		}
	}
	return &apiRewrite{fromAPI: discordgo.EndpointAPI, fromRoot: discordgo.EndpointDiscord, toAPI: api, toRoot: root}, nil
}

// target returns where a request for u goes: u itself when it is not
// addressed to Discord.
func (r *apiRewrite) target(u *url.URL) *url.URL {
	s := u.String()
	var to *url.URL
	var rest string
	switch {
	case strings.HasPrefix(s, r.fromAPI):
		to, rest = r.toAPI, s[len(r.fromAPI):]
	case strings.HasPrefix(s, r.fromRoot):
		to, rest = r.toRoot, s[len(r.fromRoot):]
	default:
		return u
	}
	ref, err := url.Parse(rest)
	if err != nil {
		return u
	}
	out := *to
	out.Path = to.Path + ref.Path
	out.RawPath = ""
	if ref.RawPath != "" {
		out.RawPath = to.EscapedPath() + ref.RawPath
	}
	out.RawQuery = ref.RawQuery
	return &out
}

// apply returns req, or a copy addressed to the new base.
func (r *apiRewrite) apply(req *http.Request) *http.Request {
	if r == nil {
		return req
	}
	to := r.target(req.URL)
	if to == req.URL {
		return req
	}
	out := req.Clone(req.Context())
	out.URL, out.Host = to, ""
	return out
}
