// Package metrics records Parley's Prometheus metrics and serves them with
// the health endpoints.
//
// Metrics (New) keeps its own prometheus.Registry — never the global one —
// and implements bot.Observer; its other methods are hooks for the stream
// renderer (Edit), the admission gate (QueueDepth, QueueWait,
// RateLimitRefusal, QuotaRefusal), the model client (UpstreamError, Retry)
// and the adapters (EventReceived). Server serves, on one listener:
//
//	/metrics  the registry, in the Prometheus text or OpenMetrics format
//	/healthz  200 while the process serves HTTP (liveness)
//	/readyz   200 when every ReadinessCheck passes, else 503 listing the
//	          failing ones (store open, adapters connected, model answering)
//
// Labels are bounded: platform, status, reason, kind, direction, class and
// model only — never a channel, user or thread ID. Each free-form label
// keeps at most MaxLabelValues distinct values; later ones read "other".
//
// Metric names (all prefixed parley_; the dashboard in
// dashboards/parley.json is built on exactly these):
//
//	parley_events_received_total{platform,kind}          counter   platform events received
//	parley_messages_accepted_total{platform}             counter   messages accepted after de-duplication
//	parley_replies_total{platform,status}                counter   replies finished, by stored status (outcome)
//	parley_first_token_seconds{platform}                 histogram event → first model token shown
//	parley_model_first_token_seconds                     histogram model request → first token
//	parley_model_duration_seconds{model}                 histogram reply start → final state, replies that reached the model
//	parley_model_tokens_total{model,kind}                counter   kind = prompt | completion
//	parley_reply_model_errors_total{class}               counter   replies that ended on a model error
//	parley_edits_total{platform}                         counter   message edits sent
//	parley_edit_wait_seconds{platform}                   histogram time an edit waited for rate-limit budget
//	parley_queue_depth                                   gauge     messages waiting for admission
//	parley_queue_wait_seconds                            histogram time waited in the admission queue
//	parley_refusals_total{platform,reason}               counter   answered with a notice, not the model
//	parley_rate_limit_refusals_total{kind}               counter   refused by a rate limit
//	parley_quota_refusals_total{kind}                    counter   refused by a token quota
//	parley_filter_hits_total{direction}                  counter   word-filter hits (input, output)
//	parley_upstream_errors_total{class}                  counter   failed model API calls (each attempt)
//	parley_upstream_retries_total{model,class}           counter   model API calls retried
//	parley_upstream_retry_wait_seconds_total{model}      counter   time waited before retries
//	parley_streams_in_flight                             gauge     replies streaming now
//	parley_model_last_success_timestamp_seconds          gauge     when the model last produced text
//	parley_build_info{version,goversion}                 gauge     always 1
//	go_*, process_*                                      the Go and process collectors
package metrics
