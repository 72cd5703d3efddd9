module github.com/mosipcrvs/bridge/sandbox

go 1.26.0

replace github.com/mosipcrvs/bridge/proto => ../proto

replace github.com/mosipcrvs/bridge/pkg => ../pkg

replace github.com/mosipcrvs/bridge/gateway => ../gateway

replace github.com/mosipcrvs/bridge/services/auth-token => ../services/auth-token

replace github.com/mosipcrvs/bridge/services/packet => ../services/packet

replace github.com/mosipcrvs/bridge/services/esignet-verify => ../services/esignet-verify

replace github.com/mosipcrvs/bridge/services/notification => ../services/notification

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/mosipcrvs/bridge/gateway v0.0.0-00010101000000-000000000000
	github.com/mosipcrvs/bridge/pkg v0.0.0-00010101000000-000000000000
	github.com/mosipcrvs/bridge/proto v0.0.0-00010101000000-000000000000
	github.com/mosipcrvs/bridge/services/auth-token v0.0.0-00010101000000-000000000000
	github.com/mosipcrvs/bridge/services/esignet-verify v0.0.0-00010101000000-000000000000
	github.com/mosipcrvs/bridge/services/notification v0.0.0-00010101000000-000000000000
	github.com/mosipcrvs/bridge/services/packet v0.0.0-00010101000000-000000000000
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/sdk v1.47.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/felixge/httpsnoop v1.1.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.33.0 // indirect
	github.com/piprate/json-gold v0.9.1 // indirect
	github.com/redis/go-redis/extra/rediscmd/v9 v9.23.0 // indirect
	github.com/redis/go-redis/extra/redisotel/v9 v9.23.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc v0.72.0 // indirect
	go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.72.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261026165753-2ffab32bce7e // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261019180522-ce908d29299b // indirect
)
