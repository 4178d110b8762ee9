package selfbench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestScrape(t *testing.T) {
	body := `# HELP go_memstats_mallocs_total Total number of heap objects allocated.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.2345e+06
go_memstats_alloc_bytes_total 9.8e+07
go_memstats_alloc_bytes 123
kbench_broker_request_duration_seconds_count{api="Fetch"} 7
kbench_broker_request_duration_seconds_count{api="Produce"} 4321
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	c, err := scrape(context.Background(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if c.mallocs != 1234500 || c.bytes != 98e6 || c.produces != 4321 {
		t.Errorf("got %+v, want mallocs 1234500, bytes 98e6, produces 4321", c)
	}
	if _, err := scrape(context.Background(), srv.URL+"/nope"); err == nil {
		t.Error("404: got no error, want one")
	}
	body = "go_memstats_mallocs_total 1\n"
	if _, err := scrape(context.Background(), srv.URL+"/metrics"); err == nil {
		t.Error("missing series: got no error, want one")
	}
}

func TestPerRequest(t *testing.T) {
	a := counters{mallocs: 1000, bytes: 1e6, produces: 50}
	// Short run: 1000 requests, 2000 + 500 fixed allocations.
	b := counters{mallocs: 3500, bytes: 2e6, produces: 1050}
	// Long run: 2000 requests, 4000 + 500 fixed allocations.
	c := counters{mallocs: 8000, bytes: 4e6, produces: 3050}
	allocs, bytes, n, err := perRequest(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	// The fixed 500 cancel: (4500 - 2500) / (2000 - 1000).
	if math.Abs(allocs-2) > 1e-9 || math.Abs(bytes-1000) > 1e-9 || n != 1000 {
		t.Errorf("got %v allocs, %v bytes over %d requests; want 2, 1000, 1000", allocs, bytes, n)
	}
	// A longer run that made fewer requests (larger batches on a busy
	// machine) gives the same slope: 1000 requests, then 500 requests with
	// 1000 + 500 fixed allocations.
	if allocs, _, n, err := perRequest(a, b, counters{mallocs: 5000, bytes: 2.5e6, produces: 1550}); err != nil || math.Abs(allocs-2) > 1e-9 || n != 500 {
		t.Errorf("longer run with fewer requests: got %v allocs over %d requests, %v; want 2 over 500", allocs, n, err)
	}
	if _, _, _, err := perRequest(a, b, counters{mallocs: 9000, produces: 2050}); err == nil {
		t.Error("runs with equal request counts: got no error, want one")
	}
	// Noise larger than the slope clamps at 0 rather than going negative.
	if allocs, _, _, _ := perRequest(counters{}, counters{mallocs: 500, produces: 10}, counters{mallocs: 600, produces: 30}); allocs != 0 {
		t.Errorf("got %v allocs, want 0", allocs)
	}
}
