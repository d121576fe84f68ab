// Command bench is Parley's end-to-end benchmark harness: it runs the real
// engine, SQLite store, stream renderer and model client against the fake
// OpenAI server, with instrumented platform outboxes, and prints the
// measurements recorded in BENCHMARKS.md.
//
//	go run ./bench                 # every scenario
//	go run ./bench -scenario lag   # one of: lag, latency
package main
