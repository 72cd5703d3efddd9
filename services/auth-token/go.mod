module github.com/mosipcrvs/bridge/services/auth-token

go 1.26.0

replace github.com/mosipcrvs/bridge/proto => ../../proto
replace github.com/mosipcrvs/bridge/pkg => ../../pkg
