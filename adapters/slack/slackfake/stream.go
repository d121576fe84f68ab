package slackfake

import (
	"net/http"
	"time"
	"unicode/utf8"
)

// maxMarkdownText is Slack's limit on markdown_text per streaming call.
const maxMarkdownText = 12000

// startStream serves chat.startStream: a reply in a thread, with
// recipient_user_id and recipient_team_id outside DMs, that starts a
// message whose text later calls grow. The refusal switch answers first,
// as a workspace that cannot stream does.
func (f *Fake) startStream(form map[string][]string) (map[string]any, *apiError) {
	get := formGetter(form)
	channel, thread, text := get("channel"), get("thread_ts"), get("markdown_text")
	f.mu.Lock()
	now := time.Now()
	call := StreamCall{At: now, Method: "chat.startStream", Channel: channel, Markdown: text}
	fail := func(code string) (map[string]any, *apiError) {
		call.Error = code
		f.streamCalls = append(f.streamCalls, call)
		f.mu.Unlock()
		return nil, &apiError{status: http.StatusOK, code: code}
	}
	switch {
	case f.streamErr != "":
		return fail(f.streamErr)
	case channel == "":
		return fail("channel_not_found")
	case thread == "":
		return fail("invalid_arguments") // streamed messages are always replies
	case channelType(channel) != "im" && get("recipient_user_id") == "":
		return fail("missing_recipient_user_id")
	case channelType(channel) != "im" && get("recipient_team_id") == "":
		return fail("missing_recipient_team_id")
	case text == "":
		return fail("no_text")
	case utf8.RuneCountInString(text) > maxMarkdownText:
		return fail("msg_too_long")
	}
	ts := f.nextTSLocked()
	call.TS = ts
	f.streamCalls = append(f.streamCalls, call)
	m := &Message{Channel: channel, TS: ts, ThreadTS: thread, Text: text, History: []string{text}, Times: []time.Time{now},
		Streamed: true, Streaming: true, Recipient: get("recipient_user_id")}
	f.messages[channel+"/"+ts] = m
	f.order = append(f.order, channel+"/"+ts)
	echo := f.opts.EchoBotMessages
	f.mu.Unlock()
	f.echoNew(echo, channel, ts, thread, text)
	return map[string]any{"channel": channel, "ts": ts}, nil
}

// growStream serves chat.appendStream and chat.stopStream: the text is
// appended to the message, within the same Tier 3 budget as chat.update
// (Parley's adapter spends its edit budget on them); a stopped stream
// answers message_not_in_streaming_state.
func (f *Fake) growStream(method string, form map[string][]string) (map[string]any, *apiError) {
	get := formGetter(form)
	channel, ts, text := get("channel"), get("ts"), get("markdown_text")
	f.mu.Lock()
	now := time.Now()
	call := StreamCall{At: now, Method: method, Channel: channel, TS: ts, Markdown: text}
	fail := func(aerr *apiError) (map[string]any, *apiError) {
		call.Error = aerr.code
		f.streamCalls = append(f.streamCalls, call)
		f.mu.Unlock()
		return nil, aerr
	}
	if aerr := f.admitUpdateLocked(now); aerr != nil {
		return fail(aerr)
	}
	m, ok := f.messages[channel+"/"+ts]
	switch {
	case !ok:
		return fail(&apiError{status: http.StatusOK, code: "message_not_found"})
	case !m.Streaming:
		return fail(&apiError{status: http.StatusOK, code: "message_not_in_streaming_state"})
	case method == "chat.appendStream" && text == "":
		return fail(&apiError{status: http.StatusOK, code: "no_text"})
	case utf8.RuneCountInString(text) > maxMarkdownText:
		return fail(&apiError{status: http.StatusOK, code: "msg_too_long"})
	}
	f.streamCalls = append(f.streamCalls, call)
	prev := m.Text
	m.Text += text
	if text != "" {
		m.History = append(m.History, m.Text)
		m.Times = append(m.Times, now)
	}
	if method == "chat.stopStream" {
		m.Streaming = false
	}
	thread, cur := m.ThreadTS, m.Text
	echo := f.opts.EchoBotMessages && text != ""
	f.mu.Unlock()
	if echo {
		f.echoChanged(channel, ts, thread, prev, cur)
	}
	return map[string]any{"channel": channel, "ts": ts}, nil
}

func formGetter(form map[string][]string) func(string) string {
	return func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
}
