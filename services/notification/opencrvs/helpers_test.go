package opencrvs

import (
	"encoding/base64"
	"io"
	"log/slog"
	"sync"
)

func b64(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }

// lockedWriter serialises writes so tests can read the log while the race
// detector watches.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newLockedLogger(w io.Writer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{w: w, mu: mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
