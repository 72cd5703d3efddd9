module github.com/mosipcrvs/bridge/sandbox

go 1.26.0

replace github.com/mosipcrvs/bridge/proto => ../proto

replace github.com/mosipcrvs/bridge/pkg => ../pkg

replace github.com/mosipcrvs/bridge/gateway => ../gateway

replace github.com/mosipcrvs/bridge/services/auth-token => ../services/auth-token

replace github.com/mosipcrvs/bridge/services/packet => ../services/packet

replace github.com/mosipcrvs/bridge/services/esignet-verify => ../services/esignet-verify

replace github.com/mosipcrvs/bridge/services/notification => ../services/notification

require github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
