// Package bot holds Parley's domain: the platform-neutral Message, the
// ThreadKey that scopes every conversation, the interfaces the engine needs
// from its neighbours (platform adapters, the conversation store, the model
// client, the reply renderer) and the Engine that ties one incoming message
// to one streamed, stored reply.
//
// Adapters (adapters/slack, adapters/discord, adapters/console) import bot and
// translate their platform's events into Message values; bot imports none of
// them. Storage lives in conversation/, the model client in llm/, edit
// scheduling and message splitting in stream/.
package bot
