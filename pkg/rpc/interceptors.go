package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errInternal is what clients see for a panic; the details stay in the log.
var errInternal = status.Error(codes.Internal, "internal error")

func recovered(ctx context.Context, log *slog.Logger, method string, p any, err *error) {
	log.LogAttrs(ctx, slog.LevelError, "grpc handler panicked",
		slog.String("method", method),
		slog.String("panic", fmt.Sprint(p)),
		slog.String("stack", string(debug.Stack())))
	*err = errInternal
}

func unaryRecovery(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				resp = nil
				recovered(ctx, log, info.FullMethod, p, &err)
			}
		}()
		return handler(ctx, req)
	}
}

func streamRecovery(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				recovered(ss.Context(), log, info.FullMethod, p, &err)
			}
		}()
		return handler(srv, ss)
	}
}

func unaryLogging(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		logRequest(ctx, log, info.FullMethod, start, err)
		return resp, err
	}
}

func streamLogging(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		logRequest(ss.Context(), log, info.FullMethod, start, err)
		return err
	}
}

// logRequest logs one finished RPC. It deliberately takes no request or
// response: payloads carry tokens and personal data and must never be logged.
func logRequest(ctx context.Context, log *slog.Logger, method string, start time.Time, err error) {
	st := status.Convert(err)
	level := codeLevel(st.Code())
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", st.Code().String()),
		slog.Duration("duration", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", st.Message()))
	}
	log.LogAttrs(ctx, level, "grpc request", attrs...)
}

// codeLevel logs successes at debug (they are traced and counted anyway),
// server faults at error and everything else, mostly the caller's doing, at
// warn.
func codeLevel(c codes.Code) slog.Level {
	switch c {
	case codes.OK:
		return slog.LevelDebug
	case codes.Unknown, codes.Internal, codes.Unimplemented, codes.DataLoss:
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}
