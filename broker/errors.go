package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// errorCode maps a registry error to its Kafka error code.
func errorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, errInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, errInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, errInvalidParts):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, errUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, errInvalidReplication):
		return kerr.InvalidReplicationFactor.Code
	case errors.Is(err, errInvalidAssignment):
		return kerr.InvalidReplicaAssignment.Code
	}
	return kerr.UnknownServerError.Code
}

var (
	errInvalidReplication = errors.New("invalid replication factor")
	errInvalidAssignment  = errors.New("invalid replica assignment")
)

func strp(s string) *string { return &s }

func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	return strp(err.Error())
}
