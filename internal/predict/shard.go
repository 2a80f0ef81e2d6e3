package predict

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Shard is one part of a cohort split between several runs (the pods of a
// Kubernetes Indexed Job): Index of Count.
type Shard struct{ Index, Count int }

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	cnt, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// Select returns the items of shard s: with the items ordered by name (the
// order does not depend on how the folder was listed), every Count-th one
// starting at Index. Every item is in exactly one shard, and shards differ in
// size by at most one. The same cohort gives the same split on every run, so
// a rerun of a shard skips what it did before; a cohort changed between runs
// moves items between shards.
func (s Shard) Select(items []Item) []Item {
	sorted := append([]Item(nil), items...)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].Name < sorted[b].Name })
	var out []Item
	for i := s.Index; i < len(sorted) && s.Count > 0; i += s.Count {
		out = append(out, sorted[i])
	}
	return out
}
