// Package rpc holds the gRPC plumbing every service of the bridge shares: a
// server with tracing, panic recovery, request logging, keepalive, health,
// reflection and optional (m)TLS; a client with tracing, keepalive, a default
// per-call deadline and retries of UNAVAILABLE; and helpers that build rich
// error statuses at RPC boundaries.
//
// Payloads are never logged: requests and responses carry tokens and personal
// data. Only the method, status code, duration and, for failures, the status
// message are.
package rpc
