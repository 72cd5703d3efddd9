module github.com/mosipcrvs/bridge/services/esignet-verify

go 1.26.0

replace github.com/mosipcrvs/bridge/proto => ../../proto
replace github.com/mosipcrvs/bridge/pkg => ../../pkg
