package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kbench/kbench/broker/controller"
)

// AdminAddrFile is the name, inside the cluster dir, of the file holding the
// admin endpoint's host:port.
const AdminAddrFile = "admin.addr"

// Status is the cluster's state as GET /status returns it.
type Status struct {
	Dir        string        `json:"dir"`
	Controller string        `json:"controller"`
	Admin      string        `json:"admin"`
	Brokers    []BrokerInfo  `json:"brokers"`
	Topics     []TopicStatus `json:"topics"`
}

// TopicStatus is one topic in the controller's view.
type TopicStatus struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions []PartitionStatus `json:"partitions"`
}

// PartitionStatus is one partition's leadership; Offline lists replicas that
// are not registered or are fenced.
type PartitionStatus struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	Offline     []int32 `json:"offline,omitempty"`
}

// Status describes the brokers and, from the controller, every partition.
func (c *Cluster) Status() Status {
	s := Status{Dir: c.cfg.Dir, Controller: c.ctrl.Addr(), Brokers: c.Brokers()}
	if c.admin != nil {
		s.Admin = c.admin.addr()
	}
	snap := c.ctrl.Snapshot()
	live := func(id int32) bool {
		return slices.ContainsFunc(snap.Brokers, func(b controller.Broker) bool { return b.ID == id && !b.Fenced })
	}
	for name, t := range snap.Topics {
		ts := TopicStatus{Name: name, ID: t.ID}
		for i, p := range t.Partitions {
			ps := PartitionStatus{Partition: int32(i), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Replicas: p.Replicas, ISR: p.ISR}
			for _, r := range p.Replicas {
				if !live(r) {
					ps.Offline = append(ps.Offline, r)
				}
			}
			ts.Partitions = append(ts.Partitions, ps)
		}
		s.Topics = append(s.Topics, ts)
	}
	sort.Slice(s.Topics, func(i, j int) bool { return s.Topics[i].Name < s.Topics[j].Name })
	return s
}

type adminServer struct {
	ln  net.Listener
	srv *http.Server
}

func (a *adminServer) addr() string { return a.ln.Addr().String() }

// startAdmin serves the admin endpoint and writes its address to
// Dir/admin.addr, where `kbench cluster` finds it.
func startAdmin(c *Cluster) (*adminServer, error) {
	ln, err := net.Listen("tcp", c.cfg.AdminListen)
	if err != nil {
		return nil, fmt.Errorf("cluster: admin endpoint: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	})
	mux.HandleFunc("POST /brokers/{id}/{action}", c.handleBrokerAction)
	a := &adminServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go a.srv.Serve(ln)
	tmp := c.AdminAddrFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(a.addr()+"\n"), 0o644); err != nil {
		a.close()
		return nil, fmt.Errorf("cluster: write admin address: %w", err)
	}
	if err := os.Rename(tmp, c.AdminAddrFile()); err != nil {
		a.close()
		return nil, fmt.Errorf("cluster: write admin address: %w", err)
	}
	return a, nil
}

func (a *adminServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		return a.srv.Close()
	}
	return nil
}

func (c *Cluster) handleBrokerAction(w http.ResponseWriter, r *http.Request) {
	id64, err := strconv.ParseInt(r.PathValue("id"), 10, 32)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("broker id %q: %w", r.PathValue("id"), err))
		return
	}
	id := int32(id64)
	q := r.URL.Query()
	switch action := r.PathValue("action"); action {
	case "kill":
		err = c.Kill(id)
	case "stop":
		err = c.Stop(id)
	case "pause":
		err = c.Pause(id)
	case "resume":
		err = c.Resume(id)
	case "restart":
		err = c.Restart(id)
	case "delay":
		var d time.Duration
		if d, err = time.ParseDuration(q.Get("d")); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("delay: parameter d: %w", err))
			return
		}
		err = c.Delay(id, d)
	case "bandwidth":
		var bps int64
		if bps, err = strconv.ParseInt(q.Get("bps"), 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("bandwidth: parameter bps: %w", err))
			return
		}
		err = c.Bandwidth(id, bps)
	case "drop-produce":
		var f float64
		if f, err = strconv.ParseFloat(q.Get("fraction"), 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("drop-produce: parameter fraction: %w", err))
			return
		}
		err = c.DropProduce(id, f)
	default:
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown action %q: want kill, stop, pause, resume, restart, delay, bandwidth or drop-produce", action))
		return
	}
	switch {
	case errors.Is(err, ErrUnknownBroker):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, ErrNotRunning), errors.Is(err, ErrClosed):
		writeError(w, http.StatusConflict, err)
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, c.Brokers()[id-1])
	}
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ReadAdminAddr reads the admin endpoint's address from a cluster dir.
func ReadAdminAddr(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, AdminAddrFile))
	if err != nil {
		return "", fmt.Errorf("admin address of cluster %s: %w", dir, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

// AdminClient talks to a cluster's admin endpoint.
type AdminClient struct {
	// Addr is the endpoint's host:port.
	Addr string
	// HTTP is the client to use; default one with a 2-minute timeout, as a
	// restart waits for the broker to register.
	HTTP *http.Client
}

// Status fetches GET /status.
func (a *AdminClient) Status(ctx context.Context) (Status, error) {
	var s Status
	err := a.do(ctx, http.MethodGet, "/status", &s)
	return s, err
}

// Broker runs an action (kill, stop, pause, resume, restart, delay,
// bandwidth, drop-produce) on broker id with params (d, bps, fraction) and
// returns the broker afterwards.
func (a *AdminClient) Broker(ctx context.Context, id int32, action string, params url.Values) (BrokerInfo, error) {
	var bi BrokerInfo
	path := "/brokers/" + strconv.Itoa(int(id)) + "/" + url.PathEscape(action)
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	err := a.do(ctx, http.MethodPost, path, &bi)
	return bi, err
}

func (a *AdminClient) do(ctx context.Context, method, path string, out any) error {
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.Addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("cluster admin endpoint %s: %w", a.Addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("cluster admin endpoint %s: %w", a.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s", method, path, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}
