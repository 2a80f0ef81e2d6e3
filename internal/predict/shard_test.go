package predict

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/1", Shard{0, 1}, true},
		{"3/4", Shard{3, 4}, true},
		{" 1 / 2 ", Shard{1, 2}, true},
		{"4/4", Shard{}, false},
		{"-1/4", Shard{}, false},
		{"0/0", Shard{}, false},
		{"1", Shard{}, false},
		{"$(JOB_COMPLETION_INDEX)/2", Shard{}, false},
	} {
		got, err := ParseShard(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Every item lands in exactly one shard, shard sizes differ by at most one, and
// the split does not depend on the order the items were listed in.
func TestShardSelect(t *testing.T) {
	var items []Item
	for i := 0; i < 23; i++ {
		items = append(items, Item{Name: fmt.Sprintf("case-%02d.png", i)})
	}
	shuffled := append([]Item(nil), items...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, n := range []int{1, 2, 3, 5, 23, 30} {
		seen := map[string]int{}
		minSize, maxSize := len(items), 0
		for i := 0; i < n; i++ {
			a := Shard{i, n}.Select(items)
			b := Shard{i, n}.Select(shuffled)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("shard %d/%d depends on the listing order", i, n)
			}
			for _, it := range a {
				seen[it.Name]++
			}
			minSize, maxSize = min(minSize, len(a)), max(maxSize, len(a))
		}
		if len(seen) != len(items) {
			t.Errorf("%d shards cover %d of %d items", n, len(seen), len(items))
		}
		for name, c := range seen {
			if c != 1 {
				t.Errorf("%d shards: %s in %d shards", n, name, c)
			}
		}
		if maxSize-minSize > 1 {
			t.Errorf("%d shards: sizes from %d to %d", n, minSize, maxSize)
		}
	}
}
