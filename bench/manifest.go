package bench

import "time"

// Manifest says what produced a result, so results can be compared later.
type Manifest struct {
	Kbench     string    `json:"kbench_version"`
	Go         string    `json:"go_version"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	CPUModel   string    `json:"cpu_model"`
	CPUs       int       `json:"cpus"`
	GoMaxProcs int       `json:"gomaxprocs"`
	Hostname   string    `json:"hostname"`
	Started    time.Time `json:"started"`
	Target     string    `json:"target"`
	Bootstrap  []string  `json:"bootstrap"`
	ClusterID  string    `json:"cluster_id,omitempty"`
	Brokers    int       `json:"brokers,omitempty"`
	Controller int32     `json:"controller_id"`
	// BrokerVersionGuess is franz-go's guess of the Apache Kafka release
	// whose API versions match what the broker advertised in ApiVersions.
	// Non-Apache brokers (kbench's own included) advertise their own mix,
	// so read it with Target, which names the software when kbench knows it.
	BrokerVersionGuess string `json:"broker_version_guess"`
	// APIVersions is the max version per API key the broker advertised.
	APIVersions map[string]int16 `json:"api_versions,omitempty"`
}
