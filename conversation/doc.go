// Package conversation stores Parley's threads in SQLite and fits them to a
// model's context window.
//
// A Store implements bot.Conversations. Every user message is written before
// anything else happens to it; replies are written as streaming and finished
// with their final text and status, so a crash leaves a record that the next
// start repairs (InterruptedReplies).
//
// The context window is computed exactly with the model's tokenizer and the
// OpenAI chat overhead (3 tokens per message, +1 for a name, +3 to prime the
// reply). Token counts are stored with each message and kept, together with
// the recently used threads, in an in-memory LRU, so building a request costs
// time proportional to what is sent, not to the length of the thread. Older
// turns that no longer fit are either dropped (PolicyTruncate) or folded into a
// rolling summary written in the background by a model (PolicySummarize).
//
// The schema is created by embedded, versioned migrations; other packages can
// add their own tables through Options.Migrations and reach them with DB.
package conversation
