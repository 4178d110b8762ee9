package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kbench/kbench/broker"
)

// securityOptions are kbench broker's listener security, limits and metrics
// flags, and its two one-shot helpers (--gen-certs, --add-scram-user).
type securityOptions struct {
	genCerts   string
	certHosts  []string
	addUser    string
	iterations int
}

func addSecurityFlags(f *pflag.FlagSet, o *brokerOptions) {
	s := &o.cfg.Security
	d := broker.DefaultLimits()
	f.StringVar(&s.Protocol, "listener-security", "plaintext", "listener security protocol: plaintext, ssl, sasl_plaintext or sasl_ssl (listener.security.protocol.map); single broker only")
	f.StringVar(&s.TLSCert, "tls-cert", "", "PEM certificate of the broker for ssl and sasl_ssl (ssl.keystore)")
	f.StringVar(&s.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&s.TLSClientCA, "tls-client-ca", "", "PEM CA bundle: require client certificates signed by it (ssl.client.auth=required)")
	f.StringSliceVar(&s.SASLMechanisms, "sasl-mechanisms", nil, "enabled SASL mechanisms, comma-separated: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (sasl.enabled.mechanisms); default all three")
	f.StringVar(&s.SASLCredentials, "sasl-credentials", "", "SASL credentials file (salted SCRAM hashes; PLAIN logins are checked against them); write it with --add-scram-user")
	f.StringVar(&o.sec.genCerts, "gen-certs", "", "write a throwaway CA (ca.pem), broker (broker.pem, broker.key) and client (client.pem, client.key) certificate into DIR, then exit")
	f.StringSliceVar(&o.sec.certHosts, "gen-certs-host", nil, "extra host names or IPs for the --gen-certs broker certificate (localhost, 127.0.0.1 and ::1 are always included)")
	f.StringVar(&o.sec.addUser, "add-scram-user", "", "add or replace USER in --sasl-credentials with SCRAM-SHA-256 and SCRAM-SHA-512 credentials for the password read from the first line of stdin, then exit")
	f.IntVar(&o.sec.iterations, "scram-iterations", broker.DefaultSCRAMIterations, "PBKDF2 iterations for --add-scram-user")
	f.IntVar(&o.cfg.Limits.MaxConnections, "max-connections", d.MaxConnections, "refuse client connections beyond this many (max.connections); 0 = no cap")
	f.IntVar(&o.cfg.Limits.MaxConnectionsPerIP, "max-connections-per-ip", d.MaxConnectionsPerIP, "refuse connections beyond this many from one client IP (max.connections.per.ip); 0 = no cap")
	f.Int64Var(&o.cfg.Limits.MaxInflightBytesPerConn, "max-inflight-bytes-per-connection", d.MaxInflightBytesPerConn, "stop reading a connection while this many of its request bytes await answers (backpressure); 0 = no cap")
	f.Int64Var(&o.cfg.MaxInflightBytes, "max-inflight-bytes", broker.DefaultConfig().MaxInflightBytes, "the same cap over all connections (queued.max.request.bytes)")
	f.StringVar(&o.cfg.MetricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address, e.g. 127.0.0.1:9404; single broker only")
}

// runSecurityTool runs --gen-certs or --add-scram-user; ran reports whether
// one was asked for (the broker then does not start).
func runSecurityTool(o *brokerOptions, stdin io.Reader) (ran bool, err error) {
	switch {
	case o.sec.genCerts != "" && o.sec.addUser != "":
		return true, errors.New("--gen-certs and --add-scram-user are separate steps: run them one at a time")
	case o.sec.genCerts != "":
		if err := broker.GenerateCerts(o.sec.genCerts, o.sec.certHosts...); err != nil {
			return true, err
		}
		fmt.Fprintf(o.stdout, "wrote ca.pem, broker.pem, broker.key, client.pem, client.key to %s (throwaway, valid 30 days)\n", o.sec.genCerts)
		fmt.Fprintf(o.stdout, "broker:  kbench broker --listener-security ssl --tls-cert %[1]s/broker.pem --tls-key %[1]s/broker.key\n", o.sec.genCerts)
		fmt.Fprintf(o.stdout, "clients: security.protocol=SSL and ssl.ca.location=%s/ca.pem (librdkafka) or ssl.truststore.location (Java)\n", o.sec.genCerts)
		return true, nil
	case o.sec.addUser != "":
		if o.cfg.Security.SASLCredentials == "" {
			return true, errors.New("--add-scram-user needs --sasl-credentials FILE")
		}
		pass, err := readPasswordLine(stdin)
		if err != nil {
			return true, err
		}
		if err := broker.AddSCRAMUser(o.cfg.Security.SASLCredentials, o.sec.addUser, pass, o.sec.iterations); err != nil {
			return true, err
		}
		fmt.Fprintf(o.stdout, "added %s (SCRAM-SHA-256, SCRAM-SHA-512, %d iterations) to %s\n", o.sec.addUser, o.sec.iterations, o.cfg.Security.SASLCredentials)
		return true, nil
	}
	return false, nil
}

func readPasswordLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("--add-scram-user reads the password from stdin, which is not available")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("--add-scram-user: empty password on stdin (pipe it in: echo \"$PASS\" | kbench broker --add-scram-user NAME --sasl-credentials FILE)")
	}
	return line, nil
}

// checkClusterSecurity rejects what cluster mode does not support.
func checkClusterSecurity(o *brokerOptions) error {
	if p := strings.ToUpper(o.cfg.Security.Protocol); p != "" && p != broker.ProtocolPlaintext {
		return fmt.Errorf("--listener-security %s: --brokers > 1 runs PLAINTEXT only (replication and the controller use the client listener without credentials)", o.cfg.Security.Protocol)
	}
	if o.cfg.MetricsListen != "" {
		return errors.New("--metrics-listen: not supported with --brokers > 1 (each broker process would need its own port)")
	}
	return nil
}
