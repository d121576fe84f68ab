// Command parley runs the Parley chat bot daemon.
//
//	parley [-config FILE] run           serve the enabled platforms (the console when none is enabled)
//	parley [-config FILE] chat          an interactive console session
//	parley [-config FILE] check-config  validate the config and print it with secrets redacted
//	parley version
//
// The config file defaults to ./config.toml, or $PARLEY_CONFIG when set.
// This package only wires the other packages together; signals are handled
// here and nowhere else, so the daemon can run whole inside tests.
package main
