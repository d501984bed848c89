package kafka

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Logger passes franz-go's log lines to slog. franz-go logs every group
// join and every transaction at its info level, which is chatter next to a
// service's own info lines, so its info goes to slog's debug (franz-go's
// own slog plugin is a separate module and maps levels one to one).
func Logger(log *slog.Logger) kgo.Logger { return kgoLogger{log.With("component", "kafka")} }

type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case l.log.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case l.log.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	}
	return kgo.LogLevelError
}

func (l kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	lv := slog.LevelError
	switch level {
	case kgo.LogLevelDebug, kgo.LogLevelInfo:
		lv = slog.LevelDebug
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	l.log.Log(context.Background(), lv, msg, kv...)
}
