package e2e

import "github.com/mosipcrvs/bridge/sandbox/opencrvs"

func opencrvsRecordOptions(eventID, actionID string) opencrvs.RecordTokenOptions {
	return opencrvs.RecordTokenOptions{EventID: eventID, ActionID: actionID, Generation: opencrvs.Generation20}
}
