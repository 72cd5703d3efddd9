// Package e2e holds tests that drive the bridge's building blocks against
// the assembled sandbox, so that the bridge's MOSIP code and the emulators —
// written independently from MOSIP's documentation and sources — are checked
// against each other.
package e2e
