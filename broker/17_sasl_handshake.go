package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslHandshake v0-v1 picks the mechanism. After v0 the SASL tokens follow
// as bare size-prefixed frames without a Kafka header (what kafka-python
// 2.0.2 sends); after v1 (KIP-152) they travel in SaslAuthenticate requests,
// which can carry an error. Listeners without SASL answer ILLEGAL_SASL_STATE;
// an unknown mechanism gets UNSUPPORTED_SASL_MECHANISM with the enabled list,
// and the connection closes after the answer, as in Kafka.

func (c *conn) handleSaslHandshake(r *kmsg.SASLHandshakeRequest) reply {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	a := c.auth
	if a == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return reply{msg: resp}
	}
	resp.SupportedMechanisms = c.b.sec.mechanisms
	if a.done || a.sess != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		a.failed = true
		return reply{msg: resp, closeAfter: true}
	}
	sess := c.b.sec.newSession(r.Mechanism)
	if sess == nil {
		c.b.cfg.Logf("conn %s: SASL mechanism %q not enabled (enabled: %v)", c.nc.RemoteAddr(), r.Mechanism, c.b.sec.mechanisms)
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		a.failed = true
		return reply{msg: resp, closeAfter: true}
	}
	a.sess, a.mech, a.raw = sess, r.Mechanism, r.Version == 0
	return reply{msg: resp}
}
