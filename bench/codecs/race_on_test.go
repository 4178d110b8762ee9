//go:build race

package codecs

// raceEnabled: the race detector slows pure-Go codecs far more than ones
// with assembly, so speed comparisons between codecs mean nothing.
const raceEnabled = true
