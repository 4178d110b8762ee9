package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
)

// servePprof serves Go's runtime profiles (/debug/pprof/) on addr, which
// must be a loopback address: profiles expose the process's internals. In a
// cluster (nodeID > 0 with a fixed port) broker i uses port+i-1, like the
// client listeners. It returns the bound address.
func servePprof(addr string, nodeID int32, clustered bool) (string, error) {
	bind, err := pprofAddress(addr, nodeID, clustered)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return "", fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux) //nolint:errcheck // ends with the process
	return ln.Addr().String(), nil
}

// pprofAddress checks --pprof and returns the address this broker binds.
func pprofAddress(addr string, nodeID int32, clustered bool) (string, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--pprof %q: want host:port, e.g. 127.0.0.1:6060: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("--pprof %q: profiles are served on loopback only (127.0.0.0/8, ::1, localhost)", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", fmt.Errorf("--pprof %q: port must be 0..65535", addr)
	}
	if clustered && port != 0 {
		port += int(nodeID) - 1
		if port > 65535 {
			return "", fmt.Errorf("--pprof %q: broker %d's port %d is past 65535", addr, nodeID, port)
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}
