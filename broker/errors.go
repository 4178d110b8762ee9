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

// answerEach makes a response entry per request entry, each from kmsg's
// defaults (as kmsg.NewX does) filled in by fill; nil for none.
func answerEach[In, Out any, P interface {
	*Out
	Default()
}](in []In, fill func(In, *Out)) []Out {
	if len(in) == 0 {
		return nil
	}
	out := make([]Out, len(in))
	for i := range in {
		P(&out[i]).Default()
		fill(in[i], &out[i])
	}
	return out
}
