package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// ApiVersions v0-v3. v3 (KIP-511) adds client software name/version to the
// request and a flexible request header; the response header is never
// flexible. An unsupported version is answered in v0 format (see conn.go).

func apiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	for _, a := range advertised {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey = a.key
		k.MinVersion = 0
		k.MaxVersion = a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}
