package metrics

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/parley-bot/parley/bot"
)

// Namespace prefixes every Parley metric.
const Namespace = "parley"

// MaxLabelValues bounds the distinct values one free-form label (model,
// event kind, refusal reason, error class) may take; later values are
// reported as OtherLabel so that a misbehaving server or adapter cannot
// blow up the series count.
const MaxLabelValues = 32

// OtherLabel replaces label values beyond MaxLabelValues, and empty ones.
const OtherLabel = "other"

// Buckets for latencies a person waits for (first visible token) and for
// whole replies.
var (
	latencyBuckets  = []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60}
	durationBuckets = []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600}
	waitBuckets     = []float64{0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60}
)

// Metrics records Parley's metrics in its own registry. It implements
// bot.Observer; the other methods are hooks for the renderer, the gate, the
// model client and the adapters. All methods are safe for concurrent use
// and cheap (no I/O), and a nil *Metrics ignores every call.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	events          *prometheus.CounterVec
	accepted        *prometheus.CounterVec
	replies         *prometheus.CounterVec
	firstVisible    *prometheus.HistogramVec
	modelFirstToken prometheus.Histogram
	modelDuration   *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	replyModelErrs  *prometheus.CounterVec
	edits           *prometheus.CounterVec
	editWait        *prometheus.HistogramVec
	queueDepth      prometheus.Gauge
	queueWait       prometheus.Histogram
	refusals        *prometheus.CounterVec
	rateRefusals    *prometheus.CounterVec
	quotaRefusals   *prometheus.CounterVec
	filterHits      *prometheus.CounterVec
	upstreamErrs    *prometheus.CounterVec
	retries         *prometheus.CounterVec
	retryWait       *prometheus.CounterVec
	inFlight        prometheus.Gauge
	lastModelOK     prometheus.Gauge

	labels labelLimiter

	mu          sync.Mutex
	streaming   map[bot.ThreadKey]int // replies started and not yet finished, per thread
	lastSuccess time.Time             // the model last produced text
	lastFailure time.Time             // the model last failed
}

var _ bot.Observer = (*Metrics)(nil)

// New returns metrics registered in a fresh registry, with build info for
// version and the Go and process collectors.
func New(version string) *Metrics {
	return newMetrics(version, time.Now)
}

func newMetrics(version string, now func() time.Time) *Metrics {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		now:       now,
		streaming: make(map[bot.ThreadKey]int),
		labels:    labelLimiter{seen: make(map[string]map[string]struct{})},
	}
	f := factory{reg: m.reg}
	m.events = f.counterVec("events_received_total", "Platform events received, by platform and kind.", "platform", "kind")
	m.accepted = f.counterVec("messages_accepted_total", "Messages accepted for an answer (after de-duplication).", "platform")
	m.replies = f.counterVec("replies_total", "Replies finished, by platform and stored status (complete, partial, failed, filtered, refused).", "platform", "status")
	m.firstVisible = f.histogramVec("first_token_seconds", "Time from the platform event to the first model token shown.", latencyBuckets, "platform")
	m.modelFirstToken = f.histogram("model_first_token_seconds", "Time from the model request to its first token.", latencyBuckets)
	m.modelDuration = f.histogramVec("model_duration_seconds", "Time from the start of a reply that reached the model to its final state.", durationBuckets, "model")
	m.tokens = f.counterVec("model_tokens_total", "Tokens used, by model and kind (prompt, completion).", "model", "kind")
	m.replyModelErrs = f.counterVec("reply_model_errors_total", "Replies that ended on a model error, by error class.", "class")
	m.edits = f.counterVec("edits_total", "Message edits sent to a platform.", "platform")
	m.editWait = f.histogramVec("edit_wait_seconds", "Time an edit waited for the platform's rate-limit budget.", waitBuckets, "platform")
	m.queueDepth = f.gauge("queue_depth", "Messages waiting for admission to the model.")
	m.queueWait = f.histogram("queue_wait_seconds", "Time a message waited in the admission queue.", waitBuckets)
	m.refusals = f.counterVec("refusals_total", "Messages answered with a notice instead of the model, by platform and reason.", "platform", "reason")
	m.rateRefusals = f.counterVec("rate_limit_refusals_total", "Messages refused by a rate limit, by limit kind.", "kind")
	m.quotaRefusals = f.counterVec("quota_refusals_total", "Messages refused by a token quota, by quota kind.", "kind")
	m.filterHits = f.counterVec("filter_hits_total", "Word-filter hits, by direction (input, output).", "direction")
	m.upstreamErrs = f.counterVec("upstream_errors_total", "Failed model API calls, by error class.", "class")
	m.retries = f.counterVec("upstream_retries_total", "Model API calls retried, by model and error class.", "model", "class")
	m.retryWait = f.counterVec("upstream_retry_wait_seconds_total", "Time spent waiting before model API retries.", "model")
	m.inFlight = f.gauge("streams_in_flight", "Replies streaming now.")
	m.lastModelOK = f.gauge("model_last_success_timestamp_seconds", "Unix time the model last produced text (0: not yet).")

	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "Parley's version; the value is always 1.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	f.register(build)
	f.register(collectors.NewGoCollector())
	f.register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if f.err != nil {
		// Every name above is a constant: a clash is a programming error.
		panic(fmt.Sprintf("metrics: %v", f.err))
	}
	return m
}

// Registry returns the registry holding every metric, for the /metrics
// handler and for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// EventReceived counts a platform event an adapter received, before any
// filtering (kind: "message", "app_mention", "message_changed", …).
func (m *Metrics) EventReceived(platform bot.Platform, kind string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(m.labels.value("platform", string(platform)), m.labels.value("kind", kind)).Inc()
}

// MessageAccepted implements bot.Observer.
func (m *Metrics) MessageAccepted(msg bot.Message) {
	if m == nil {
		return
	}
	m.accepted.WithLabelValues(m.labels.value("platform", string(msg.Platform))).Inc()
}

// ReplyStarted implements bot.Observer.
func (m *Metrics) ReplyStarted(key bot.ThreadKey) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.streaming[key]++
	m.mu.Unlock()
	m.inFlight.Inc()
}

// FirstToken implements bot.Observer.
func (m *Metrics) FirstToken(key bot.ThreadKey, sinceEvent, sinceRequest time.Duration) {
	if m == nil {
		return
	}
	m.firstVisible.WithLabelValues(m.labels.value("platform", string(key.Platform))).Observe(sinceEvent.Seconds())
	m.modelFirstToken.Observe(sinceRequest.Seconds())
	m.modelSucceeded()
}

// ReplyFinished implements bot.Observer.
func (m *Metrics) ReplyFinished(key bot.ThreadKey, status bot.Status, u bot.Usage, took time.Duration, modelErr bot.ModelErrorClass) {
	if m == nil {
		return
	}
	m.mu.Lock()
	// Notices (busy thread, filtered input, shutdown) finish without
	// having started; only a started reply leaves the in-flight gauge.
	started := m.streaming[key] > 0
	if started {
		if m.streaming[key]--; m.streaming[key] == 0 {
			delete(m.streaming, key)
		}
	}
	m.mu.Unlock()
	if started {
		m.inFlight.Dec()
	}

	m.replies.WithLabelValues(m.labels.value("platform", string(key.Platform)), m.labels.value("status", string(status))).Inc()
	if u.Model != "" {
		// Only replies that reached the model carry a model name.
		model := m.labels.value("model", u.Model)
		m.modelDuration.WithLabelValues(model).Observe(took.Seconds())
		if u.PromptTokens > 0 {
			m.tokens.WithLabelValues(model, "prompt").Add(float64(u.PromptTokens))
		}
		if u.CompletionTokens > 0 {
			m.tokens.WithLabelValues(model, "completion").Add(float64(u.CompletionTokens))
		}
	}
	switch {
	case modelErr != "":
		m.replyModelErrs.WithLabelValues(m.labels.value("class", string(modelErr))).Inc()
		m.modelFailed()
	case status == bot.StatusComplete && u.Model != "":
		m.modelSucceeded()
	}
}

// Refused implements bot.Observer.
func (m *Metrics) Refused(key bot.ThreadKey, reason string) {
	if m == nil {
		return
	}
	m.refusals.WithLabelValues(m.labels.value("platform", string(key.Platform)), m.labels.value("reason", reason)).Inc()
	switch reason {
	case "rate_limit", "queue_full":
		m.RateLimitRefusal(reason)
	case "quota":
		m.QuotaRefusal(reason)
	}
}

// Filtered implements bot.Observer: the word filter refused an input or
// stopped an output.
func (m *Metrics) Filtered(direction string) { m.FilterHit(direction) }

// FilterHit counts a word-filter hit outside the engine's own checks
// (e.g. masking). Do not report the same hit through both Filtered and
// FilterHit: they feed one counter.
func (m *Metrics) FilterHit(direction string) {
	if m == nil {
		return
	}
	m.filterHits.WithLabelValues(m.labels.value("direction", direction)).Inc()
}

// Edit is stream.Options.OnEdit: an edit went out after waiting wait for
// the platform's budget.
func (m *Metrics) Edit(platform bot.Platform, wait time.Duration) {
	if m == nil {
		return
	}
	p := m.labels.value("platform", string(platform))
	m.edits.WithLabelValues(p).Inc()
	m.editWait.WithLabelValues(p).Observe(wait.Seconds())
}

// UpstreamError counts a failed model API call (each attempt, including
// those retried).
func (m *Metrics) UpstreamError(class bot.ModelErrorClass) {
	if m == nil {
		return
	}
	m.upstreamErrs.WithLabelValues(m.labels.value("class", string(class))).Inc()
	m.modelFailed()
}

// Retry counts a model API call about to be retried after wait.
func (m *Metrics) Retry(model string, class bot.ModelErrorClass, wait time.Duration) {
	if m == nil {
		return
	}
	ml := m.labels.value("model", model)
	m.retries.WithLabelValues(ml, m.labels.value("class", string(class))).Inc()
	m.retryWait.WithLabelValues(ml).Add(wait.Seconds())
}

// QueueDepth sets the number of messages waiting for admission.
func (m *Metrics) QueueDepth(n int) {
	if m == nil {
		return
	}
	m.queueDepth.Set(float64(n))
}

// QueueWait records how long an admitted (or abandoned) message waited.
func (m *Metrics) QueueWait(d time.Duration) {
	if m == nil {
		return
	}
	m.queueWait.Observe(d.Seconds())
}

// RateLimitRefusal counts a message refused by a rate limit (kind: "user",
// "channel", "global", "queue_full", …).
func (m *Metrics) RateLimitRefusal(kind string) {
	if m == nil {
		return
	}
	m.rateRefusals.WithLabelValues(m.labels.value("rate_kind", kind)).Inc()
}

// QuotaRefusal counts a message refused by a token quota (kind: "user",
// "channel", "workspace", …).
func (m *Metrics) QuotaRefusal(kind string) {
	if m == nil {
		return
	}
	m.quotaRefusals.WithLabelValues(m.labels.value("quota_kind", kind)).Inc()
}

func (m *Metrics) modelSucceeded() {
	now := m.now()
	m.mu.Lock()
	m.lastSuccess = now
	m.mu.Unlock()
	m.lastModelOK.Set(float64(now.UnixNano()) / 1e9)
}

func (m *Metrics) modelFailed() {
	now := m.now()
	m.mu.Lock()
	m.lastFailure = now
	m.mu.Unlock()
}

// ModelCheck is the readiness check "the model answered within window":
// it fails only when the model failed since it last produced text and that
// success (if any) is older than window. A model that has not been asked
// yet, or whose last call succeeded, counts as ready, so an idle daemon
// does not turn unready.
func (m *Metrics) ModelCheck(window time.Duration) ReadinessCheck {
	return ReadinessCheck{Name: "model", Check: func(context.Context) error {
		m.mu.Lock()
		success, failure := m.lastSuccess, m.lastFailure
		m.mu.Unlock()
		if failure.IsZero() || !success.Before(failure) {
			return nil
		}
		if !success.IsZero() && m.now().Sub(success) <= window {
			return nil
		}
		if success.IsZero() {
			return errors.New("the model has failed and has not answered since start")
		}
		return fmt.Errorf("the model has failed and last answered %s ago (window %s)",
			m.now().Sub(success).Round(time.Second), window)
	}}
}

// factory creates collectors and registers them, keeping the first error.
type factory struct {
	reg *prometheus.Registry
	err error
}

func (f *factory) register(c prometheus.Collector) {
	if err := f.reg.Register(c); err != nil && f.err == nil {
		f.err = err
	}
}

func (f *factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.register(c)
	return c
}

func (f *factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.register(h)
	return h
}

func (f *factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets})
	f.register(h)
	return h
}

func (f *factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	f.register(g)
	return g
}

// labelLimiter caps the distinct values of each label (by name).
type labelLimiter struct {
	mu   sync.Mutex
	seen map[string]map[string]struct{}
}

func (l *labelLimiter) value(label, v string) string {
	if v == "" {
		return OtherLabel
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	vals := l.seen[label]
	if vals == nil {
		vals = make(map[string]struct{})
		l.seen[label] = vals
	}
	if _, ok := vals[v]; ok {
		return v
	}
	if len(vals) >= MaxLabelValues {
		return OtherLabel
	}
	vals[v] = struct{}{}
	return v
}
