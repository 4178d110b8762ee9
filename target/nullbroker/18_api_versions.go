package nullbroker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions v0-3; v3 made the request flexible (the response header stays
// without tags). An unknown version is answered in v0 with
// UNSUPPORTED_VERSION and our own entry, so the client retries lower
// (KIP-511).

// versions is what the null broker advertises: only keys it implements, and
// for produce and fetch only the versions carrying v2 record batches (the
// only format it serves or counts).
var versions = [...]struct{ key, min, max int16 }{
	{kmsg.Produce.Int16(), 3, 9},
	{kmsg.Fetch.Int16(), 4, 12},
	{kmsg.ListOffsets.Int16(), 1, 6},
	{kmsg.Metadata.Int16(), 0, 9},
	{kmsg.ApiVersions.Int16(), 0, 3},
	{kmsg.CreateTopics.Int16(), 0, 5},
	{kmsg.DeleteTopics.Int16(), 0, 4},
	{kmsg.InitProducerID.Int16(), 0, 4},
}

func supported(key, version int16) bool {
	for _, v := range versions {
		if v.key == key {
			return version >= v.min && version <= v.max
		}
	}
	return false
}

func apiVersions(version int16, body []byte) (kmsg.Response, error) {
	resp := kmsg.NewPtrApiVersionsResponse()
	if !supported(kmsg.ApiVersions.Int16(), version) {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = kmsg.ApiVersions.Int16(), 0, 3
		resp.ApiKeys = append(resp.ApiKeys, k)
		return resp, nil
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = version
	if err := req.ReadFrom(body); err != nil {
		return nil, err
	}
	resp.Version = version
	for _, v := range versions {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = v.key, v.min, v.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp, nil
}
