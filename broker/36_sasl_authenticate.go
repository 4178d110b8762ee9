package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SaslAuthenticate v0-v2 carries one SASL token each way (KIP-152). v1 adds
// session_lifetime_ms (KIP-368 re-authentication): we answer 0, no expiry.
// v2 is flexible. A failed authentication is answered with
// SASL_AUTHENTICATION_FAILED and a message, then the connection closes, so
// clients report the error at once instead of retrying on a dead session.

func (c *conn) handleSaslAuthenticate(r *kmsg.SASLAuthenticateRequest) reply {
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	a := c.auth
	if a == nil || a.done {
		// No SASL on this listener, or a re-authentication we do not offer.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return reply{msg: resp}
	}
	mech := a.mech
	out, err := c.authStep(r.SASLAuthBytes)
	if err != nil {
		c.b.cfg.Logf("conn %s: SASL %s authentication failed: %v", c.nc.RemoteAddr(), mech, err)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = strp(fmt.Sprintf("Authentication failed during authentication due to invalid credentials with SASL mechanism %s", mech))
		return reply{msg: resp, closeAfter: true}
	}
	resp.SASLAuthBytes = out
	return reply{msg: resp}
}
