module github.com/mosipcrvs/bridge/services/packet

go 1.26.0

replace github.com/mosipcrvs/bridge/proto => ../../proto
replace github.com/mosipcrvs/bridge/pkg => ../../pkg
