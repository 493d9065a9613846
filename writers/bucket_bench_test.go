package writers

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchBatch returns 1,000 placements' files (about 600 bytes each) under
// root/<destination>/resources/…, each placement owning its directory.
func benchBatch(root string, ownPrefixes bool) Batch {
	var b Batch
	body := strings.Repeat("# padding to a typical manifest size\n", 15)
	for i := range 1000 {
		dir := fmt.Sprintf("%s/dev/resources/default/request-%04d/instance-configure/", root, i)
		content := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: request-%04d\n%s", i, body)
		b.Puts = append(b.Puts, File{Key: dir + "configmap.yaml", Content: []byte(content)})
		if ownPrefixes {
			b.DeletePrefixes = append(b.DeletePrefixes, dir)
		}
	}
	if !ownPrefixes {
		b.DeletePrefixes = []string{root + "/dev/"}
	}
	return b
}

// BenchmarkBucketApply1000 writes 1,000 new objects to MinIO in one Apply: with one
// DeletePrefix for the destination (one listing), and with a DeletePrefix per
// placement (1,000 listings).
func BenchmarkBucketApply1000(b *testing.B) {
	for _, own := range []bool{false, true} {
		b.Run(fmt.Sprintf("prefix-per-placement=%t", own), func(b *testing.B) {
			f := newBucketFixture(b)
			n := 0
			b.Cleanup(func() { f.removeRuns(b, n) })
			for b.Loop() {
				n++
				res, err := f.bucket.Apply(context.Background(), benchBatch(fmt.Sprintf("run-%d", n), own))
				if err != nil || res.Puts != 1000 {
					b.Fatalf("Apply = %+v, %v; want 1000 puts", res, err)
				}
			}
		})
	}
}

// BenchmarkBucketReapply1000 applies the same 1,000 objects again: listing only,
// no PUT.
func BenchmarkBucketReapply1000(b *testing.B) {
	for _, own := range []bool{false, true} {
		b.Run(fmt.Sprintf("prefix-per-placement=%t", own), func(b *testing.B) {
			f := newBucketFixture(b)
			batch := benchBatch("store", own)
			if _, err := f.bucket.Apply(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				if _, err := f.bucket.Apply(context.Background(), Batch{DeletePrefixes: []string{"store/"}}); err != nil {
					b.Errorf("remove: %v", err)
				}
			})
			for b.Loop() {
				res, err := f.bucket.Apply(context.Background(), batch)
				if err != nil || res.Changed || res.Puts != 0 {
					b.Fatalf("re-Apply = %+v, %v; want no change", res, err)
				}
			}
		})
	}
}

// removeRuns deletes what the benchmark wrote with the writer's parallel deletes,
// faster than the bucket cleanup's one-by-one removal.
func (f *bucketFixture) removeRuns(b *testing.B, runs int) {
	for i := 1; i <= runs; i++ {
		batch := Batch{DeletePrefixes: []string{fmt.Sprintf("run-%d/", i)}}
		if _, err := f.bucket.Apply(context.Background(), batch); err != nil {
			b.Errorf("remove run %d: %v", i, err)
		}
	}
}
