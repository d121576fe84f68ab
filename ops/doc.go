// Package ops holds what running Parley as a service needs beyond the
// engine: the systemd notify protocol and watchdog (Notify,
// StartWatchdog), the start-up repair of replies a crash left streaming
// (RecoverInterrupted), and a test helper that asserts no secret reached
// an output (AssertNoSecrets).
//
// Notify implements sd_notify itself (a datagram on $NOTIFY_SOCKET, ~30
// lines) rather than importing github.com/coreos/go-systemd: it is all
// Parley needs from that module, and a new dependency would be one more
// thing to vet and update.
//
// The hardened unit lives in systemd/parley.service; unit_test.go checks
// it with systemd-analyze where the machine has it.
package ops
